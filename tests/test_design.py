"""The design environment (authors' semantics) and the DDPG agent."""

import numpy as np
import pytest
import torch
from ase import Atoms
from gymnasium.utils.env_checker import check_env

from qdlib import spectra
from qdlib.ddpg import Agent, DDPGConfig, load_history, train
from qdlib.design import BatchedDesignEnv, DesignEnv, DesignTask, SurrogateForward
from qdlib.features import CoulombMatrix, coulomb_matrix
from qdlib.surrogates import load_released
from tests.fakes import toy_task


def test_step_length_is_exactly_the_authors():
    task = toy_task(10.0)
    env = BatchedDesignEnv(task, 50, seed=1)
    env.reset(task.centre.expand(50, -1, -1))
    rng = np.random.default_rng(0)
    actions = rng.uniform(*task.action_bounds(), size=(50, 2)).astype(np.float32)
    before = env.moved.clone()
    env.step(actions)
    np.testing.assert_allclose((env.moved - before).norm(dim=-1).numpy(), 0.4, rtol=1e-6)
    theta, phi = actions[0]
    np.testing.assert_allclose((env.moved - before)[0, 0].numpy(),
                               0.4 * np.array([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)]), atol=1e-6)


def test_leaving_the_cuboid_ends_the_episode_with_minus_20():
    task = toy_task(4.0)
    env = BatchedDesignEnv(task, 2)
    start = task.centre.expand(2, -1, -1).clone()
    start[:, 0, 2] += 1.9  # 0.1 Å below the top face
    env.reset(start)
    up, down = [0.0, 0.0], [np.pi / 2, 0.0]  # θ = 0: +z (out); θ = π/2, φ = 0: +x (stays in)
    _, reward, terminated, truncated = env.step(np.array([up, down], dtype=np.float32))
    assert reward[0] == -20.0 and terminated[0] and not env.success[0]
    assert reward[1] != -20.0 and not truncated.any()


def test_termination_below_the_loss_and_truncation_after_the_step_limit():
    task = toy_task(4.0, max_steps=3)
    env = BatchedDesignEnv(task, 2)
    start = task.centre.expand(2, -1, -1).clone()
    start[1, 0, 0] += 0.4  # 16 nm off: far above the termination loss
    env.reset(start)
    back = np.array([[np.pi / 2, np.pi], [np.pi / 2, np.pi]], dtype=np.float32)  # -x: atom 1 returns to x0
    _, reward, terminated, _ = env.step(back)
    assert terminated[1] and env.success[1] and float(env.loss[1]) < 1e-10
    sideways = np.array([[np.pi / 2, 3 * np.pi / 4]] * 2, dtype=np.float32)  # along (-1, 1, 0): the toy peak stays put
    env.reset(start * 0 + task.centre + torch.tensor([0.0, 0.0, -1.0]))
    for k in range(3):
        _, _, terminated, truncated = env.step(sideways)
    assert truncated.all() and not terminated.any() and float(env.loss.min()) > 0.122


def test_reward_is_minus_the_authors_loss_through_the_released_surrogate():
    task = DesignTask.benchmark("Cd6Se6", n_movable=2, edge_angstrom=4.0)
    env = BatchedDesignEnv(task, 3, seed=5)
    env.reset()
    action = np.random.default_rng(1).uniform(*task.action_bounds(), size=(3, 4)).astype(np.float32)
    _, reward, terminated, _ = env.step(action)
    model = load_released("absorption")
    for k in range(3):
        atoms = task.atoms.copy()
        atoms.positions[task.movable] = env.moved[k].numpy()
        expected = spectra.authors_loss(model.predict(CoulombMatrix().create([atoms]))[0], task.target)
        if task.inside(env.moved[k : k + 1])[0]:
            assert float(reward[k]) == pytest.approx(-float(expected), rel=1e-4)


def test_batched_coulomb_matrix_matches_the_featuriser():
    task = DesignTask.benchmark("Cd6Se6", 1)
    fwd = task.forward
    assert isinstance(fwd, SurrogateForward)
    geoms = task.geometries(task.sample_starts(4, torch.Generator().manual_seed(2)))
    ref = CoulombMatrix().create([Atoms(task.atoms.numbers, positions=g.numpy()) for g in geoms])
    cm = coulomb_matrix(fwd.numbers, geoms[:, fwd.order]).reshape(4, -1)  # the torch path, as the forward model runs it
    np.testing.assert_allclose(cm.numpy(), ref[:, fwd.columns.numpy()], rtol=1e-5)
    assert np.all(np.delete(ref, fwd.columns.numpy(), axis=1) == 0)


def test_gymnasium_env_passes_check_env_and_agrees_with_the_batched_env():
    task = DesignTask.benchmark("Cd6Se6", n_movable=2, edge_angstrom=10.0)
    check_env(DesignEnv(task), skip_render_check=True)
    rng = np.random.default_rng(3)
    starts = task.sample_starts(4, torch.Generator().manual_seed(7))
    actions = rng.uniform(*task.action_bounds(), size=(5, 4, 4)).astype(np.float32)
    batched = BatchedDesignEnv(task, 4)
    batched.reset(starts)
    singles = [DesignEnv(task) for _ in range(4)]
    for k, env in enumerate(singles):
        env.reset(options={"start": starts[k : k + 1]})
    for step in range(5):
        obs, reward, terminated, _ = batched.step(actions[step])
        for k, env in enumerate(singles):
            o, r, term, _, info = env.step(actions[step, k])
            np.testing.assert_allclose(o, obs[k].numpy(), atol=1e-6)
            assert r == pytest.approx(float(reward[k]), rel=1e-5, abs=1e-6) and term == bool(terminated[k])


def test_bad_tasks_are_refused():
    atoms = Atoms("CdSe", positions=[[0, 0, 0], [2.6, 0, 0]])
    with pytest.raises(ValueError, match="movable"):
        DesignTask(atoms, [5], np.zeros(500), lambda p: p, "absorption")
    with pytest.raises(ValueError, match="kind"):
        DesignTask(atoms, [1], np.zeros(500), lambda p: p, "raman")


@pytest.mark.slow  # minutes: two DDPG trainings
def test_ddpg_learns_the_toy_task_repeatably_and_round_trips(tmp_path):
    torch.set_num_threads(1)
    task = toy_task(4.0, termination_loss=0.05)
    starts = task.sample_starts(100, torch.Generator().manual_seed(11))
    cfg = DDPGConfig(n_envs=16, updates_per_step=4, total_episodes=800, eval_every=0, seed=3)
    untrained = Agent(task, cfg).design(starts)
    result = train(task, cfg)
    trained = result.agent.design(starts)
    assert trained.success_rate >= 0.85 and trained.success_rate > untrained.success_rate + 0.2
    assert np.mean(trained.loss) < np.mean(untrained.loss)
    again = train(task, cfg)
    assert again.episode_returns == result.episode_returns  # seeded: the same run
    result.agent.save(tmp_path / "agent", history=result, forward="toy")
    loaded = Agent.load(tmp_path / "agent", task)
    history = load_history(tmp_path / "agent")
    assert history["episodes"] == len(result.episode_returns) and history["env_steps"] == result.env_steps
    curve = history["curve"]
    assert curve["episode"][-1] == len(result.episode_returns) and len(curve["episode"]) <= 256
    assert np.average(curve["success_rate"], weights=np.diff([0, *curve["episode"]])) == pytest.approx(np.mean(result.episode_success), abs=1e-3)
    np.testing.assert_array_equal(loaded.design(starts).positions, trained.positions)
    with pytest.raises(ValueError, match="not this task"):
        Agent.load(tmp_path / "agent", DesignTask(task.atoms, [2], task.target, task.forward))


def test_authors_polar_range_never_moves_down_and_the_full_range_does():
    rng = np.random.default_rng(4)
    for polar, can_descend in (((-np.pi / 2, np.pi / 2), False), ((0.0, np.pi), True)):
        task = toy_task(10.0, polar_range=polar)
        env = BatchedDesignEnv(task, 500)
        env.reset(task.centre.expand(500, -1, -1))
        env.step(rng.uniform(*task.action_bounds(), size=(500, 2)).astype(np.float32))
        dz = (env.moved - task.centre)[:, 0, 2]
        assert bool((dz < -1e-6).any()) == can_descend and float(dz.min()) >= -0.4 - 1e-6


def test_an_agent_refuses_a_task_with_other_rules(tmp_path):
    task = toy_task(4.0)
    Agent(task, DDPGConfig()).save(tmp_path / "agent")
    Agent.load(tmp_path / "agent", task)
    with pytest.raises(ValueError, match="other rules"):
        Agent.load(tmp_path / "agent", toy_task(10.0))


def test_atoms_at_places_only_the_movable_atoms():
    task = toy_task(4.0)
    moved = task.centre.numpy() + 0.3
    atoms = task.atoms_at(moved)
    np.testing.assert_allclose(atoms.positions[1], moved[0])
    np.testing.assert_allclose(np.delete(atoms.positions, 1, 0), np.delete(task.atoms.positions, 1, 0))
    assert atoms.info["movable"] == [1] and task.atoms.positions[1, 0] == 2.6


def test_loss_plane_is_the_loss_of_the_first_movable_atom_moved_in_its_plane():
    task = toy_task(4.0)
    plane = task.loss_plane(half_angstrom=1.0, n=5)
    np.testing.assert_allclose(plane.offset_angstrom, [-1.0, -0.5, 0.0, 0.5, 1.0])
    assert plane.loss.shape == (5, 5) and plane.threshold == task.config.termination_loss
    moved = task.centre[None] + torch.tensor([[[0.5, -1.0, 0.0]]])  # x offset 0.5 (column 3), y offset -1 (row 0)
    with torch.no_grad():
        assert plane.loss[0, 3] == pytest.approx(float(task.loss(task.spectra(moved))[0]))
    assert plane.loss[2, 2] == pytest.approx(0.0, abs=1e-6)  # the true position meets the target
    assert plane.share_below == float((plane.loss < plane.threshold).mean())


def test_displacements_are_the_movable_atoms_relative_to_their_true_positions():
    task = toy_task(4.0)
    frames = [task.atoms_at(task.centre.numpy() + d) for d in ([0.5, 0.0, 0.0], [0.0, -0.25, 1.0])]
    np.testing.assert_allclose(task.displacements(frames), [[[0.5, 0.0, 0.0]], [[0.0, -0.25, 1.0]]], atol=1e-6)
    assert task.displacements([]).shape == (0, 1, 3)

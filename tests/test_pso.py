"""Particle swarm: improves a toy design, respects bounds when asked, repeats with its seed, both modes agree."""

import dataclasses

import numpy as np
import torch

from qdlib.pso import PSOConfig, pso
from tests.fakes import toy_task


def test_swarm_improves_the_toy_design_monotonically():
    task = toy_task(4.0)
    result = pso(task, PSOConfig(n_particles=60, n_iterations=20, seed=1))
    start = pso(task, PSOConfig(n_particles=60, n_iterations=0, seed=1))
    assert result.best_loss < 0.25 * start.best_loss
    assert np.all(np.diff(result.best_loss_history) <= 0)  # the best never gets worse
    assert result.n_evaluations == 60 * 21 and result.n_calls == 21
    assert np.linalg.norm(result.best_position - task.centre.numpy()) < np.linalg.norm(start.best_position - task.centre.numpy())


def test_bounds_are_respected_only_when_asked():
    task = toy_task(1.0)  # a 1 Å cuboid; particles start up to 2 Å away
    half = 0.5 * task.config.edge_angstrom + 1e-6
    free = pso(task, PSOConfig(n_particles=50, n_iterations=5, seed=2))
    held = pso(task, PSOConfig(n_particles=50, n_iterations=5, seed=2, bounded=True))
    offset = lambda r: np.abs(r.positions - task.centre.numpy()).max()  # noqa: E731
    assert offset(free) > half and offset(held) <= half


def test_seeded_runs_repeat_and_per_particle_agrees_with_vectorised():
    task = toy_task(4.0)
    cfg = PSOConfig(n_particles=20, n_iterations=6, seed=5)
    a, b = pso(task, cfg), pso(task, cfg)
    np.testing.assert_array_equal(a.positions, b.positions)
    c = pso(task, cfg, vectorised=False)
    assert c.n_calls == 20 * 7
    np.testing.assert_allclose(c.positions, a.positions, atol=1e-5)
    assert abs(c.best_loss - a.best_loss) < 1e-6
    assert not np.array_equal(pso(task, PSOConfig(n_particles=20, n_iterations=6, seed=6)).positions, a.positions)
    torch.testing.assert_close(torch.as_tensor(a.best_position), torch.as_tensor(c.best_position), atol=1e-5, rtol=0)


def test_swarm_stops_once_the_target_loss_is_reached():
    task = toy_task(4.0)
    cfg = PSOConfig(n_particles=60, n_iterations=20, seed=1)
    full = pso(task, cfg)
    target = full.best_loss_history[5]  # reached after 5 of the 20 iterations (or earlier)
    stop = int(np.argmax(full.best_loss_history < target))
    assert 5 < stop < 20  # the toy run keeps improving, so the target is met part-way
    early = pso(task, dataclasses.replace(cfg, target_loss=target))
    assert len(early.best_loss_history) == stop + 1 and early.best_loss < target
    assert early.n_evaluations == 60 * (stop + 1) and early.n_calls == stop + 1
    np.testing.assert_array_equal(early.best_loss_history, full.best_loss_history[: stop + 1])  # the same swarm
    # per particle, the search ends at the first particle below the target, in the same iteration
    per = pso(task, dataclasses.replace(cfg, target_loss=target), vectorised=False)
    assert len(per.best_loss_history) == stop + 1 and per.best_loss < target
    np.testing.assert_allclose(per.best_loss_history[:-1], early.best_loss_history[:-1], atol=1e-6)
    assert 60 * stop < per.n_evaluations <= 60 * (stop + 1) and per.n_calls == per.n_evaluations


def test_a_target_met_by_the_initial_swarm_costs_one_evaluation_of_it():
    task = toy_task(4.0)
    cfg = PSOConfig(n_particles=60, n_iterations=20, seed=1, target_loss=np.inf)
    vec, per = pso(task, cfg), pso(task, cfg, vectorised=False)
    assert len(vec.best_loss_history) == 1 and vec.n_evaluations == 60 and vec.n_calls == 1
    assert len(per.best_loss_history) == 1 and per.n_evaluations == 1 and per.n_calls == 1

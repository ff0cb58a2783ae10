"""Benchmark-case agents: train once, save with their history, skip when saved, load on their task."""

import dataclasses

import numpy as np
import pytest
import torch

from qdlib.agents import Case, agent_path, all_cases, design_outcome, load_case, run_cases, train_or_load
from qdlib.ddpg import DDPGConfig


def test_cases_are_ordered_cd6se6_and_4_angstrom_first():
    cases = all_cases()
    assert len(cases) == 24 and cases[0] == Case("absorption", "Cd6Se6", 4.0, 1)
    assert [c.n_movable for c in cases[:3]] == [1, 2, 3] and cases[3].edge_angstrom == 10.0
    assert agent_path(cases[0], "/x").as_posix() == "/x/absorption/Cd6Se6_4A_1"


def test_run_save_skip_and_load(tmp_path):
    torch.set_num_threads(1)
    case = Case("absorption", "Cd6Se6", 4.0, 2)
    cfg = DDPGConfig(n_envs=8, eval_every=64, eval_starts=10, max_env_steps=400, total_episodes=10**6, learning_starts=64, batch_size=32)
    first = run_cases([case], cfg, model="ML-NN", root=tmp_path, progress=False)
    assert first[0]["trained"] and first[0]["env_steps"] == 400 and 0.0 <= first[0]["success_rate"] <= 1.0
    again = run_cases([case], cfg, model="ML-NN", root=tmp_path, progress=False)
    assert not again[0]["trained"] and again[0]["env_steps"] == 400
    agent, history = load_case(case, root=tmp_path)
    assert agent.task.n_movable == 2 and agent.task.config.edge_angstrom == 4.0
    assert len(history["evaluations"]) == 400 // 64
    starts = agent.task.sample_starts(5, torch.Generator().manual_seed(0))
    assert np.isfinite(agent.design(starts).loss).all()
    with pytest.raises(FileNotFoundError, match="no agent"):
        load_case(Case("absorption", "Cd6Se6", 10.0, 2), root=tmp_path)


def test_train_or_load_trains_with_a_config_and_loads_the_released_agent_without():
    torch.set_num_threads(1)
    case = Case("absorption", "Cd5Te5", 4.0, 1)
    agent, history, origin = train_or_load(case)
    assert origin == "released" and history["episodes"] == 2028 and agent.task.n_movable == 1
    cfg = DDPGConfig(n_envs=8, eval_every=64, eval_starts=10, max_env_steps=128, learning_starts=64, batch_size=32)
    trained, history, origin = train_or_load(case, cfg, agent.task)
    assert origin == "trained here" and trained.task is agent.task and history["env_steps"] == 128
    with pytest.raises(FileNotFoundError, match="no agent"):
        train_or_load(Case("absorption", "Cd5Te5", 7.0, 1))


def test_design_outcome_holds_the_distances_the_successes_and_the_median_design():
    torch.set_num_threads(1)
    agent, _ = load_case(Case("absorption", "Cd5Te5", 4.0, 2))
    task = agent.task
    result = agent.design(task.sample_starts(20, torch.Generator().manual_seed(0)))
    out = design_outcome(task, result)
    assert out.n_movable == 2 and len(out.fixed_positions) == len(task.atoms) - 2
    dist = np.linalg.norm(result.positions - task.centre.numpy(), axis=-1)
    np.testing.assert_array_equal(out.distance_angstrom, dist)
    np.testing.assert_array_equal(out.designs, result.positions[result.success])
    assert out.success_rate == result.success_rate and out.median_distance_angstrom == np.median(dist)
    ok = result.success
    assert out.within_1A == np.mean(dist[ok].max(axis=1) < 1.0)
    assert out.mean_success_distance_angstrom == dist[ok].mean()
    assert out.loss[out.median_index] == np.sort(result.loss)[10]  # the upper median of 20
    with torch.no_grad():
        alone = task.spectra(torch.as_tensor(result.positions[out.median_index : out.median_index + 1]))[0].numpy()
    np.testing.assert_allclose(out.median_spectrum, alone, rtol=1e-4, atol=1e-3)
    none = design_outcome(task, dataclasses.replace(result, success=np.zeros_like(result.success)))
    assert np.isnan(none.mean_success_distance_angstrom) and np.isnan(none.median_success_distance_angstrom)
    assert none.within_1A == 0 and none.designs.shape == (0, 2, 3)

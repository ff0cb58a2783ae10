"""Benchmark-case agents: train once, save with their history, skip when saved, load on their task."""

import numpy as np
import pytest
import torch

from qdlib.agents import Case, agent_path, all_cases, load_case, run_cases
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

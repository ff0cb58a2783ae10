"""The DDPG-against-PSO timing experiment (notebook 06) on a toy task, its tables, and TD-DFT's verdicts beside it."""

import dataclasses
import time

import numpy as np
import pytest
import torch

from qdlib.agents import Case, case_task
from qdlib.ddpg import DesignResult
from qdlib.pso import PSOConfig, pso
from qdlib.pso_comparison import (
    DesignerTiming,
    TimingConfig,
    design_spectra,
    equal_error_table,
    expected_time,
    paper_timing_table,
    tddft_comparison,
    time_case,
)
from tests.fakes import toy_task


class StartAgent:
    """A designer that returns its starts (so its designs are the random starts, judged by the forward model)."""

    def __init__(self, task):
        self.task = task

    def design(self, starts):
        t0 = time.perf_counter()
        with torch.no_grad():
            loss = self.task.loss(self.task.spectra(starts)).numpy()
        return DesignResult(starts.numpy(), loss, loss < self.task.config.termination_loss, np.zeros(len(starts), int),
                            time.perf_counter() - t0)  # fmt: skip


def test_expected_time_is_total_time_over_successes():
    assert expected_time([1.0, 2.0, 3.0], [True, False, True]) == 3.0
    assert expected_time([1.0], [False]) == np.inf


def test_time_case_measures_the_agent_and_the_swarms_on_one_task():
    task = toy_task(4.0)
    config = TimingConfig(n_starts=6, n_designs=2, n_per_particle=1, n_particles=12, n_iterations=3, n_random=40, seed=2)
    row, (same_task, batch, swarm) = time_case(StartAgent(task), {"wall_time_s": 5.0}, config)
    assert same_task is task and row["edge"] == 4.0 and row["n"] == 1 and row["train_s"] == 5.0
    assert row["pso_agree"] < 1e-6  # vectorised and per particle: the same swarm
    assert row["ddpg_loss"] == pytest.approx(float(np.median(batch.loss))) and row["ddpg_success"] == batch.success_rate
    first = pso(task, dataclasses.replace(PSOConfig(n_particles=12, n_iterations=3), seed=2))
    np.testing.assert_array_equal(swarm.best_position, first.best_position)
    assert 0 <= row["hit_iterations"] <= 3 and 0 <= row["inside_iterations"] <= 3 and 0.0 <= row["random_ok"] <= 1.0
    assert all(row[k] > 0 for k in ("ddpg_s", "ddpg_batch_s", "vec_s", "per_s", "hit_vec_eq_s"))
    spectra = design_spectra(task, batch, swarm)
    assert spectra.pso.shape == spectra.ddpg.shape == task.target.shape and spectra.pso_loss == swarm.best_loss
    assert spectra.ddpg_loss == np.sort(batch.loss)[len(batch.loss) // 2]  # the median design
    paper, equal = paper_timing_table([row, row]), equal_error_table([row])
    assert len(paper) == 2 + 2 and paper[-1].endswith("~1000×") and len(equal) == 3 + 1


def test_cases_without_an_agent_are_reported_not_timed(tmp_path):
    timing = DesignerTiming(TimingConfig(edges_angstrom=(4.0,), n_atoms=(1, 2)), root=tmp_path)
    assert timing.kernel() == [] and timing.designs == {}
    assert len(timing.missing) == 2 and "Cd6Se6_4A_1" in timing.missing[0]


def test_tddft_comparison_reads_the_released_verdicts_of_notebook_06():
    from qdlib.tddft_data import load_tddft_dataset
    from qdlib.verification import case_target

    ds = load_tddft_dataset(parts=["reproduction"])
    target = case_target("Cd6Se6", "absorption", ds)
    task = case_task(Case("absorption", "Cd6Se6", 4.0, 1))
    designs = {(4.0, 1): (task, None, pso(task, PSOConfig(seed=0)))}  # the notebook's first full vectorised swarm
    assert tddft_comparison(designs, ds, None, "absorption", "Cd6Se6") == []
    (row,) = tddft_comparison(designs, ds, target, "absorption", "Cd6Se6", seed=0)
    assert row["pso_verdict"] is None and round(row["position_error_angstrom"], 2) == 0.07
    assert row["ddpg"]["n"] == 3 and row["ddpg"]["tddft_success"] == 0

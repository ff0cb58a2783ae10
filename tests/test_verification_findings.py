"""Designers trained with several seeds judged by TD-DFT, and the numbers behind notebook 04's conclusion."""

from types import SimpleNamespace

import numpy as np
import pytest

from qdlib.agents import Case
from qdlib.paths import data_dir
from qdlib.verification import distinct_verdicts, seed_findings, seed_rechecks, validation_findings


def _validation(case, success, start_success, error, designs=None, moved=None):
    n = len(success)
    return SimpleNamespace(case=case, success=np.array(success), start_success=np.array(start_success),
                           position_error_angstrom=np.array(error), designs=np.zeros((n, 1, 3)) if designs is None else designs,
                           moved=np.ones(n, bool) if moved is None else np.array(moved))  # fmt: skip


def _recheck(done, success, peaks_nm, energy_ev, target_nm=400.0):
    done, success = np.array(done), np.array(success)
    return SimpleNamespace(done=done, success=success, peaks_nm=np.array(peaks_nm), energy_above_reference_ev=np.array(energy_ev),
                           target=SimpleNamespace(peak_nm=target_nm),
                           summary=lambda: {"n": int(done.sum()), "tddft_success": int((done & success).sum())})  # fmt: skip


def test_validation_findings_count_designs_and_say_whether_tddft_confirms_them():
    a, b, c = (Case("absorption", "Cd4Se4", 4.0, n) for n in (1, 2, 3))
    validations = [_validation(a, [True, True, False], [True, False, False], [0.5, 1.5, 2.0]),
                   _validation(b, [False, True], [False, False], [0.2, 3.0]),
                   _validation(c, [True], [False], [1.0])]  # fmt: skip
    rechecks = {a: _recheck([True, True, False], [False, False, False], [410.0, 380.0, np.nan], [1.0, 3.0, 0.0]),
                c: _recheck([False], [False], [np.nan], [0.0])}  # c: computed, no valid verdict  # fmt: skip
    f = validation_findings(validations, rechecks)
    assert (f["n_cases"], f["n_designs"], f["surrogate_ok"], f["starts_ok"], f["within_1A"]) == (3, 6, 4, 1, 2)
    assert (f["n_judged_cases"], f["k"], f["n"]) == (1, 0, 2)
    assert f["median_abs_peak_error_nm"] == 15.0 and f["median_energy_above_reference_ev"] == 2.0
    assert f["verdict"] == "not reproduced: TD-DFT confirms none of the designs" and 0.5 < f["ci_high"] < 1.0
    rechecks[a] = _recheck([True] * 3, [True] * 3, [400.0] * 3, [0.1] * 3)
    assert validation_findings(validations, rechecks)["verdict"] == "not reproduced: TD-DFT confirms a minority of the designs"
    rechecks[a] = _recheck([True] * 30, [True] * 30, [400.0] * 30, [0.1] * 30)
    assert validation_findings(validations, rechecks)["verdict"] == "reproduced"


def test_a_design_every_seed_returns_unmoved_counts_once():
    case = Case("absorption", "Cd6Se6", 4.0, 1)
    designs = np.array([[[0.0, 0.0, 0.0]], [[1.0, 0.0, 0.0]]])
    same_start = _validation(case, [True, True], [True, False], [0.1, 0.2], designs=designs, moved=[False, True])
    other = _validation(case, [True, False], [True, False], [0.1, 0.2], designs=designs + [[[0, 0, 0]], [[0, 5.0, 0]]],
                        moved=[False, True])  # fmt: skip
    done = _recheck([True, True], [False, True], [0, 0], [0, 0])
    rechecks = {(1, 0): (same_start, done), (1, 1): (other, done)}
    distinct = distinct_verdicts(rechecks, (1, 2))
    assert distinct == {1: [(False, False), (True, True), (True, True)], 2: []}
    assert seed_findings(rechecks, distinct) == {
        1: {"n_seeds": 2, "surrogate_min": 0.5, "surrogate_max": 1.0, "k": 2, "n": 3, "n_moved": 2}}


def test_seed_rechecks_deploy_the_paper_length_designers_of_notebook_04():
    from qdlib.tddft_data import load_tddft_dataset
    from qdlib.verification import case_target

    ds = load_tddft_dataset(parts=["reproduction"])
    target = case_target("Cd6Se6", "absorption", ds)
    cases = [Case("absorption", "Cd6Se6", 4.0, 1)]
    roots = {0: data_dir() / "agents" / "paper5000" / "seed0", 7: data_dir() / "agents" / "no-such-seed"}
    assert seed_rechecks(cases, roots, ds, None) == {}
    out = seed_rechecks(cases, roots, ds, target, n_starts=100, seed=0, n_recheck=100)
    assert list(out) == [(1, 0)]  # the missing folder is skipped
    v, r = out[1, 0]
    assert int(v.success.sum()) == 97 and r.summary()["n"] == 1 and r.summary()["tddft_success"] == 0
    assert r.summary()["median_abs_peak_error_nm"] == pytest.approx(292.1, abs=0.05)

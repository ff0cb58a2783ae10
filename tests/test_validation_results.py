"""The numbers behind notebooks 04 and 05, recomputed from the released agents and TD-DFT results.

Bounds are set from the values measured when the results were released (quoted beside each):
a change of agents, surrogates or stored TD-DFT that moves them fails here, not silently in a figure.
"""

import numpy as np
import pytest

from qdlib.agents import Case, validate_case
from qdlib.generate import sensitivity_set
from qdlib.sensitivity import equivalent_distance, sensitivity_curve, sweep_deviations
from qdlib.tddft_data import load_tddft_dataset
from qdlib.verification import case_target, find_stored, recheck, reference_frame


@pytest.fixture(scope="module")
def dataset():
    return load_tddft_dataset()


def test_released_designers_on_cd6se6_4_angstrom_absorption():
    one = validate_case(Case("absorption", "Cd6Se6", 4.0, 1), 100, 0).summary()
    three = validate_case(Case("absorption", "Cd6Se6", 4.0, 3), 100, 0).summary()
    assert one["success_rate"] >= 0.85  # measured 0.96
    assert 1.0 < one["median_position_error_angstrom"] < 2.0  # 1.40: the loss has a valley, not a well
    assert three["success_rate"] < one["success_rate"]  # 0.16: harder with more atoms
    assert one["median_abs_peak_error_nm"] < 2.0  # 0.0 nm by the surrogate
    assert one["median_position_error_angstrom"] < one["median_start_error_angstrom"]  # 1.40 against the starts' 1.97


def test_10_angstrom_designs_match_the_spectrum_far_from_the_true_positions():
    s = validate_case(Case("absorption", "Cd6Se6", 10.0, 1), 100, 0).summary()
    assert s["success_rate"] >= 0.3  # measured 0.57
    assert s["median_position_error_angstrom"] > 3.0  # 5.78 Å: other geometries with the same surrogate spectrum
    assert s["median_position_error_angstrom"] > 0.8 * s["median_start_error_angstrom"]  # no closer than where they started


def test_sensitivity_curve_of_the_released_sweep(dataset):
    d, dev, n = sweep_deviations(sensitivity_set(), dataset)
    curve = sensitivity_curve(d, dev)
    assert curve.n[1:].sum() >= 20  # 20 displaced geometries released (4 per distance)
    at = dict(zip(np.round(curve.distance_angstrom, 1), curve.mean_nm))
    assert at[0.1] < 5.0  # measured 1.5 nm
    assert max(at[0.2], at[0.4]) < 20.0  # 14.0 and 7.4 nm: the paper's "< 0.4 Å → < 20 nm" holds on average
    assert max(at[0.7], at[1.0]) > 50.0  # 137.5 and 87.8 nm
    assert curve.max_nm.max() < 300.0  # 225 nm: the paper's "up to 200 nm", roughly
    assert 0.1 < equivalent_distance(20.0, curve) < 0.4  # 0.22 Å


def test_tddft_verdicts_on_4_angstrom_designs_reject_what_the_surrogate_accepts(dataset):
    rows = []
    for dot in ("Cd4Se4", "Cd5Te5", "Cd5Se1Te4", "Cd6Se6"):
        target = case_target(dot, "absorption", dataset)
        assert target.window.covered_by(find_stored([reference_frame(dot, "absorption")], dataset)[0][1])
        rows += [recheck(validate_case(Case("absorption", dot, 4.0, n), 100, 0), dataset, target, 10).summary() for n in (1, 2, 3)]
    judged = [r for r in rows if r["n"]]
    n = sum(r["n"] for r in judged)
    assert n >= 31  # 31 valid verdicts released (first 10 designs per case): every 4 Å case, Cd6Se6's 2 and 3 atoms one each
    assert sum(r["tddft_success"] for r in judged) == 0  # none passes by TD-DFT ...
    assert sum(r["surrogate_success_rate"] * r["n"] for r in judged) >= n - 3  # ... 28 of 31 did by the surrogate
    assert all(r["median_loss"] > 10.0 for r in judged)  # medians 84-554 against the threshold of 0.122
    assert all(r["median_energy_above_reference_ev"] > 1.0 for r in judged)  # medians 2.3-29.2 eV above the dot
    assert all(r["median_abs_peak_error_nm"] > 5.0 for r in judged)  # medians 7-138 nm on the window
    assert all(r["ci_high"] < 0.8 for r in judged)  # one verdict: 0/1, Wilson upper bound 0.79

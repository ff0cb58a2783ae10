"""The numbers behind notebooks 04 and 05, recomputed from the released agents and TD-DFT results.

Bounds are set from the values measured when the results were released (quoted beside each):
a change of agents, surrogates or stored TD-DFT that moves them fails here, not silently in a figure.
"""

import numpy as np
import pytest

from qdlib.agents import Case
from qdlib.generate import sensitivity_set
from qdlib.tddft_data import load_tddft_dataset
from qdlib.validation import equivalent_distance, recheck, sensitivity_curve, sweep_deviations, validate_case


@pytest.fixture(scope="module")
def dataset():
    return load_tddft_dataset()


def test_released_designers_on_cd6se6_4_angstrom_absorption():
    one = validate_case(Case("absorption", "Cd6Se6", 4.0, 1), 100, 0).summary()
    three = validate_case(Case("absorption", "Cd6Se6", 4.0, 3), 100, 0).summary()
    assert one["success_rate"] >= 0.85  # measured 0.97
    assert 1.0 < one["median_position_error_angstrom"] < 2.0  # 1.45: the loss has a valley, not a well
    assert three["success_rate"] < one["success_rate"]  # 0.17: harder with more atoms
    assert one["median_abs_peak_error_nm"] < 2.0  # 0.0 nm by the surrogate
    assert one["median_position_error_angstrom"] < one["median_start_error_angstrom"]  # 1.45 against the starts' 1.97


def test_10_angstrom_designs_match_the_spectrum_far_from_the_true_positions():
    s = validate_case(Case("absorption", "Cd6Se6", 10.0, 1), 100, 0).summary()
    assert s["success_rate"] >= 0.3  # measured 0.54
    assert s["median_position_error_angstrom"] > 3.0  # 5.8 Å: other geometries with the same surrogate spectrum
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


def test_rechecked_designs_are_successes_only_by_the_surrogate(dataset):
    rows = [recheck(validate_case(Case("absorption", dot, 4.0, n), 100, 0), dataset, 1).summary()
            for dot in ("Cd6Se6", "Cd5Te5", "Cd5Se1Te4") for n in (1, 2, 3)]
    done = [r for r in rows if r["n"]]
    assert len(done) >= 7  # 8 of these 9 cases have their first design rechecked
    assert all(r["surrogate_success_rate"] == 1.0 for r in done)
    assert sum(r["false_success"] for r in done) >= len(done) - 1  # all 8: TD-DFT disagrees
    peak = [r["median_abs_peak_error_nm"] for r in done if np.isfinite(r["median_abs_peak_error_nm"])]
    assert np.median(peak) > 50.0  # TD-DFT central peaks 10-402 nm from the target's

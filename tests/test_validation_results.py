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

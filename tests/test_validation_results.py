"""The numbers behind notebooks 04 and 05, recomputed from the released agents and TD-DFT results.

Bounds are set from the values measured when the results were released (quoted beside each):
a change of agents, surrogates or stored TD-DFT that moves them fails here, not silently in a figure.
"""

import numpy as np
import pytest

from qdlib.agents import Case, validate_case
from qdlib.generate import sensitivity_set
from qdlib.references import case_target, find_stored, reference_frame
from qdlib.sensitivity import equivalent_distance, sensitivity_curve, sweep_deviations
from qdlib.tddft_data import load_tddft_dataset
from qdlib.verification import recheck


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
    assert n >= 37 and len(judged) == 12  # 37 valid verdicts among the first 10 designs of the 12 cases
    assert all(r["n"] >= 2 for r in judged)
    assert sum(r["tddft_success"] for r in judged) == 0  # none passes by TD-DFT ...
    assert sum(r["surrogate_success_rate"] * r["n"] for r in judged) >= n - 4  # ... 33 of 37 did by the surrogate
    assert all(r["median_loss"] > 10.0 for r in judged)  # medians 84-1734 against the threshold of 0.122
    assert all(r["median_energy_above_reference_ev"] > 1.0 for r in judged)  # medians 2.35-23.1 eV above the dot
    assert all(r["median_abs_peak_error_nm"] > 5.0 for r in judged)  # medians 6.6-138 nm on the window
    assert all(r["ci_high"] < 0.7 for r in judged)  # at least two verdicts: 0/2, Wilson upper bound 0.66


def test_tddft_verdicts_on_10_angstrom_1_atom_designs(dataset):
    for dot in ("Cd4Se4", "Cd5Te5", "Cd5Se1Te4", "Cd6Se6"):
        target = case_target(dot, "absorption", dataset)
        r = recheck(validate_case(Case("absorption", dot, 10.0, 1), 100, 0), dataset, target, 10).summary()
        assert r["n"] >= 2 and r["tddft_success"] == 0  # two verdicts per case, none a success
        assert r["median_loss"] > 100.0 and r["median_energy_above_reference_ev"] > 3.0  # 276-3620; 4.2-15.2 eV


def test_the_paper_threshold_is_met_by_no_displaced_geometry(dataset):
    from qdlib.references import case_window
    from qdlib.verdict import judge

    window = case_window("Cd6Se6", "absorption")
    target = case_target("Cd6Se6", "absorption", dataset)
    keys = ("set", "dot", "n_movable", "distance_angstrom", "direction_index")
    frames = [f for f in sensitivity_set("Cd6Se6", [0.1, 0.2, 0.4, 0.7, 1.0], [1, 2, 3], 2, 0) if f.info["distance_angstrom"] > 0]
    for f in frames:
        f.info = {k: f.info[k] for k in keys} | {"cover_nm": round(float(window.cover_nm), 2)}
    hits = find_stored(frames, dataset)
    verdicts = [(f.info["distance_angstrom"], judge(h[0], h[1], target)) for f, h in zip(frames, hits) if h is not None]
    assert len(verdicts) == 30 and all(v.valid for _, v in verdicts)  # six per distance, 0.1-1 Å
    assert min(v.loss for _, v in verdicts) > 0.2  # 0.28 at 0.1 Å: no geometry passes 0.122
    assert all(v.energy_above_reference_ev < 0.1 for d, v in verdicts if d == 0.1)  # 0.04-0.09 eV: cheap moves already fail


def test_paper_length_designers_are_rejected_by_tddft(dataset):
    from qdlib.paths import data_dir

    target = case_target("Cd6Se6", "absorption", dataset)
    for n in (1, 2):
        judged = {}
        for seed in range(3):
            v = validate_case(Case("absorption", "Cd6Se6", 4.0, n), 100, 0, root=data_dir() / "agents" / "paper5000" / f"seed{seed}")
            r = recheck(v, dataset, target, 10)
            for i in np.flatnonzero(r.done):
                judged[tuple(np.round(v.designs[i].ravel(), 4))] = (bool(r.success[i]), bool(v.moved[i]))
        moved = [ok for ok, m in judged.values() if m]
        assert len(moved) >= 3 and not any(ok for ok, _ in judged.values())  # 3 moved designs per task, every one fails
        if n == 2:  # the first 2-atom design of every seed is start 0, which the surrogate accepts: returned unmoved
            assert sum(not m for _, m in judged.values()) == 1

"""TD-DFT verdicts: coverage of the target's window, convergence, energies, intervals."""

import math

import numpy as np
import pytest
from ase import Atoms

from qdlib import qchem, spectra, verification
from qdlib.agents import Case, CaseValidation
from qdlib.qchem import EngineOptions, Excitations, TDDFTSettings
from qdlib.stats import binomial_interval, format_rate, rank_correlation
from qdlib.store import ResultStore, covered_key
from qdlib.verdict import Target, judge, target_window, window_peak

GRID = spectra.wavelength_grid("absorption")
DIMER = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.55]])


def sticks(wavelengths_nm, f, converged=True, e_tot=-100.0):
    """A synthetic TD-DFT result with these sticks."""
    lam = np.sort(np.asarray(wavelengths_nm, dtype=float))[::-1]  # ascending energy
    n = lam.size
    return Excitations(spectra.nm_to_ev(lam), np.asarray(f, dtype=float), e_tot, np.full(n, converged), "diis",
                       TDDFTSettings(n_states=n), "cpu", 0.0)  # fmt: skip


# a target: a band at 400 nm and states reaching 300 nm (its window's cover point is 337.7 nm)
REFERENCE = sticks([420, 400, 360, 330, 300], [0.01, 0.1, 0.02, 0.02, 0.02])
PAPER_TARGET = spectra.broaden([420, 400], [0.01, 0.1], GRID)  # the six-state kind: only the band
TARGET = Target.from_reference(REFERENCE, PAPER_TARGET, "absorption", "test")
ATOMS = Atoms("Cd2", positions=[[0, 0, 0], [0, 0, 2.6]])


def test_the_window_starts_at_the_blue_edge_of_the_central_band():
    w = target_window(PAPER_TARGET, "absorption")
    assert 360 < w.blue_nm < 400 and w.red_nm == GRID[-1]
    assert PAPER_TARGET[GRID == w.blue_nm] < 0.05 * PAPER_TARGET.max() <= PAPER_TARGET[np.searchsorted(GRID, w.blue_nm) + 1]
    # three broadening widths beyond it, in wavenumbers
    assert 1e7 / w.cover_nm - 1e7 / w.blue_nm == pytest.approx(3 * spectra.SIGMA_CM)
    assert target_window(PAPER_TARGET, "emission").cover_nm is None  # emission is S1 alone


def test_a_design_equal_to_the_target_is_a_success_at_zero_energy():
    v = judge(ATOMS, REFERENCE, TARGET)
    assert v.status == "valid" and v.success
    assert v.loss == 0 and v.peak_error_nm == 0 and v.similarity == pytest.approx(1.0)
    assert v.energy_above_reference_ev == 0 and v.min_distance_angstrom == pytest.approx(2.6)


def test_unconverged_tddft_is_never_a_verdict():
    v = judge(ATOMS, sticks([420, 400, 360, 330, 300], [0.01, 0.1, 0.02, 0.02, 0.02], converged=False), TARGET)
    assert v.status == "unconverged" and not v.success and math.isnan(v.loss) and math.isnan(v.peak_nm)


def test_a_spectrum_that_does_not_cover_the_window_is_never_scored():
    # six red states: the target's band cannot appear, whatever the loss on the bins computed
    red = sticks([900, 850, 800, 760, 720, 700], [0.01] * 6, e_tot=-100.0 + 0.5 / qchem.HARTREE_EV)
    v = judge(ATOMS, red, TARGET)
    assert v.status == "uncovered" and not v.success and math.isnan(v.loss)
    assert v.energy_above_reference_ev == pytest.approx(0.5)  # energies are reported all the same


def test_a_shifted_design_has_the_shift_as_its_peak_error():
    v = judge(ATOMS, sticks([430, 410, 370, 340, 305], [0.01, 0.1, 0.02, 0.02, 0.02]), TARGET)
    assert v.status == "valid" and v.peak_error_nm == pytest.approx(10.0, abs=0.5)


def test_the_reference_must_cover_its_window():
    with pytest.raises(ValueError, match="window needs"):
        Target.from_reference(sticks([420, 400], [0.01, 0.1]), PAPER_TARGET, "absorption")


def test_a_peak_at_the_window_edge_is_no_peak():
    rising = spectra.broaden([300.0], [0.5], GRID)  # a band outside, its flank inside
    assert math.isnan(window_peak(rising, TARGET.window))
    assert window_peak(PAPER_TARGET, TARGET.window) == pytest.approx(400.0, abs=0.5)


@pytest.mark.tddft
def test_state_count_grows_until_the_window_is_covered():
    cheap = TDDFTSettings(n_states=2, grid_level=0, scf_conv_tol=1e-8)
    six = qchem.excitations(DIMER, cheap, EngineOptions(threads=1))
    assert not six.covers(300.0)  # two infrared states
    grown = qchem.excitations(DIMER, cheap, EngineOptions(threads=1), cover_nm=300.0, max_states=12)
    assert grown.settings.n_states > 2 and grown.covers(300.0)
    np.testing.assert_allclose(grown.energies_ev[:2], six.energies_ev, atol=1e-5)  # the same lowest states
    capped = qchem.excitations(DIMER, cheap, EngineOptions(threads=1), cover_nm=50.0, max_states=8)
    assert capped.settings.n_states == 8 and not capped.covers(50.0)


def test_next_state_count_extrapolates_within_bounds():
    assert qchem.next_state_count([2.0, 2.1, 2.2, 2.3, 2.4, 2.5], 3.2, 40) == 16
    assert qchem.next_state_count([2.0, 2.1, 2.2, 2.3, 2.4, 2.5], 3.8, 40) == 18  # at most three times as many
    spaced, crowding = [2.0, 2.2, 2.4, 2.6, 2.8, 3.0], [2.0, 2.5, 2.75, 2.88, 2.95, 3.0]  # same range, states crowd upwards
    assert qchem.next_state_count(crowding, 3.3, 40) > qchem.next_state_count(spaced, 3.3, 40)
    assert qchem.next_state_count([2.0, 2.1, 2.2, 2.3, 2.4, 2.5], 2.55, 40) == 12  # at least six more
    assert qchem.next_state_count([2.0] * 6, 5.0, 40) == 18  # degenerate: at most three times as many
    assert qchem.next_state_count([2.0, 2.1, 2.2, 2.3, 2.4, 2.5], 9.0, 10) == 10


@pytest.mark.parametrize(
    "k, n, method, low, high",
    [
        (0, 11, "wilson", 0.0, 0.25883),  # the 0 of 11: upper bound about 26 %
        (0, 11, "exact", 0.0, 0.28491),
        (5, 10, "exact", 0.18709, 0.81291),
        (10, 10, "exact", 0.69150, 1.0),  # 0.025 ** (1/10)
    ],
)
def test_binomial_interval_known_values(k, n, method, low, high):
    assert binomial_interval(k, n, method=method) == pytest.approx((low, high), abs=1e-5)


def test_wilson_interval_is_the_score_formula():
    k, n, z = 3, 4, 1.959963984540054
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    assert binomial_interval(k, n) == pytest.approx((centre - half, centre + half), rel=1e-9)
    assert format_rate(3, 4) == "3/4 = 0.75 [0.30, 0.95]"


def test_rank_correlation_interval_covers_the_true_value():
    rng = np.random.default_rng(0)
    true_rho = 6 / np.pi * np.arcsin(0.8 / 2)  # Spearman's rho of a bivariate normal with r = 0.8
    hits = []
    for _ in range(400):
        x = rng.standard_normal(30)
        y = 0.8 * x + 0.6 * rng.standard_normal(30)
        rho, low, high = rank_correlation(x, y)
        assert low < rho < high
        hits.append(low <= true_rho <= high)
    assert 0.90 <= np.mean(hits) <= 0.99
    assert all(math.isnan(v) for v in rank_correlation([1, 2, 3], [1, 2, 3]))


def test_binomial_interval_rejects_impossible_counts():
    with pytest.raises(ValueError):
        binomial_interval(5, 4)
    assert all(math.isnan(x) for x in binomial_interval(0, 0))


def test_the_store_records_how_far_the_states_reach(tmp_path):
    store = ResultStore(tmp_path / "verdicts.json")
    store.put(ATOMS, REFERENCE, key=covered_key(ATOMS, TDDFTSettings(), 337.7, 40), cover_nm=337.7)
    store.put(DIMER, sticks([900, 800], [0.1, 0.1]), cover_nm=337.7)
    rows = {len(a) and a.get_chemical_formula(): kv for a, _, kv in store.select()}
    assert rows["Cd2"]["covered"] and rows["Cd2"]["n_states"] == 5 and rows["Cd2"]["reach_nm"] == pytest.approx(300)
    assert not rows["CdSe"]["covered"]
    assert covered_key(ATOMS, TDDFTSettings(), 337.7, 40) in store
    assert (tmp_path / "verdicts.json").read_text().lstrip().startswith("{")  # text


def _case_validation(designs, case=Case("absorption", "Cd6Se6", 4.0, 1)):
    from qdlib.design import benchmark_target

    atoms, target = benchmark_target(case.dot, case.kind, 1)
    true = atoms.positions[atoms.info["movable"]]
    designs = np.asarray(designs, dtype=float)
    n = len(designs)
    return CaseValidation(case, true, designs, designs, target, 374.4, np.full(n, 374.4), np.zeros(n),
                                     np.ones(n, bool), 0.0)  # fmt: skip


def test_rechecks_skip_overlapping_designs_and_count_only_valid_verdicts(tmp_path, monkeypatch):
    from qdlib.design import benchmark_target

    ref_atoms = benchmark_target("Cd6Se6", "absorption", 1)[0]
    true = ref_atoms.positions[ref_atoms.info["movable"]][0]
    others = np.delete(ref_atoms.positions, ref_atoms.info["movable"], axis=0)
    clash = others[0] + [0.5, 0, 0]  # 0.5 Å from another atom: no molecule
    designs = [[clash], [true + [0.3, 0, 0]], [true + [0, 0.3, 0]], [true + [0, 0, 0.3]], [true + [0.3, 0.3, 0]]]
    calls = []

    def fake(atoms, settings, options, cover_nm=None, max_states=40):
        calls.append(atoms.info.get("start_index", "reference"))
        shift = 0.0 if atoms.info["set"] == "reference" else 5.0
        exc = sticks(np.array([394.3, 374.3, 340.0, 330.0, 300.0]) + shift, [0.0, 0.09, 0.0, 0.001, 0.01],
                     converged=atoms.info.get("start_index") != 1)  # fmt: skip
        assert cover_nm is not None and exc.covers(cover_nm)
        return exc

    monkeypatch.setattr(qchem, "excitations", fake)
    v = _case_validation(designs)
    store = tmp_path / "verdicts.json"
    out = verification.compute_rechecks([v], 2, store)
    s = out[v.case.name].summary()
    assert calls == ["reference", 1, 2, 3]  # the clash is skipped, the unconverged one replaced
    assert s["n"] == 2 and s["unconverged"] == 1 and s["overlapping"] == 1
    assert s["median_abs_peak_error_nm"] == pytest.approx(5.0, abs=0.5)
    assert s["ci_high"] < 1 and s["ci_low"] >= 0
    calls.clear()
    again = verification.compute_rechecks([v], 2, store)  # resumed: everything found in the store
    assert calls == [] and again[v.case.name].summary()["n"] == 2
    # the released lookup path finds the same verdicts
    r = verification.recheck(v, store, n=4)
    assert list(r.status) == ["missing", "unconverged", "valid", "valid"]

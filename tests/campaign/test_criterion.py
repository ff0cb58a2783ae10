"""qdlib.campaign.criterion: when a TD-DFT verdict confirms a design, and the shifted targets."""

import numpy as np
import pytest

from qdlib import campaign, spectra
from qdlib.campaign import Criterion
from qdlib.qchem import Excitations, TDDFTSettings
from qdlib.verdict import Target, judge
from tests import fakes
from tests.fakes import cdse_dimer as _dimer


def _exc(lam_nm, f, e_hartree=-100.0, converged=True):
    n = len(lam_nm)
    return Excitations(spectra.nm_to_ev(np.asarray(lam_nm, float)), np.asarray(f, float), e_hartree,
                       np.full(n, converged), "diis", TDDFTSettings(n_states=n), "cpu", 0.0)  # fmt: skip


@pytest.fixture
def target():
    ref = _exc([450.0, 400.0, 330.0], [0.02, 0.1, 0.05])
    paper = spectra.broaden([400.0], [0.1], spectra.wavelength_grid("absorption"))
    return Target.from_reference(ref, paper, "absorption", name="toy")


def test_criterion_confirms_a_close_match_and_names_each_failure(target):
    c = Criterion().for_target(target)
    assert c.min_similarity == pytest.approx(campaign.shifted_similarity(target, 5.0), abs=1e-4) and 0.9 < c.min_similarity < 1
    ok = judge(_dimer(), _exc([450.0, 402.0, 330.0], [0.02, 0.1, 0.05], -100.0 + 0.3 / 27.2114), target)
    assert c.check(ok).confirmed and abs(ok.peak_error_nm - 2.0) < 0.3
    peak = judge(_dimer(), _exc([457.0, 407.0, 337.0], [0.02, 0.1, 0.05]), target)  # the bands 7 nm to the red
    assert c.check(peak).failures == ("peak", "shape") and peak.similarity > 0.9  # cosine 0.9 alone would pass it
    shape = judge(_dimer(), _exc([470.0, 401.0, 330.0], [0.04, 0.09, 0.05]), target)  # a stronger red band, same intensity
    assert c.check(shape).failures == ("shape",) and abs(shape.peak_error_nm) < 5
    bright = judge(_dimer(), _exc([450.0, 400.0, 330.0], [0.03, 0.15, 0.075]), target)  # the target's shape, 1.5× as bright
    assert c.check(bright).failures == ("intensity",) and bright.similarity > 0.999
    split = judge(_dimer(), _exc([450.0, 400.0, 355.0, 330.0], [0.02, 0.05, 0.05, 0.05]), target)  # half the band moved blue
    assert "intensity" in c.check(split).failures
    strain = judge(_dimer(), _exc([450.0, 400.0, 330.0], [0.02, 0.1, 0.05], -100.0 + 0.6 / 27.2114), target)
    assert c.check(strain).failures == ("strain",)
    assert c.check(ok, min_distance_angstrom=2.7).failures == ("distance",)  # the dimer's 2.6 Å pair
    with pytest.raises(ValueError, match="for_target"):
        Criterion().check(ok)


def test_a_smaller_shape_shift_tightens_the_shape_test_and_calibration_finds_it(target):
    at5, at4 = Criterion().for_target(target), Criterion(shape_shift_nm=4.0).for_target(target)
    assert at4.min_similarity == pytest.approx(campaign.shifted_similarity(target, 4.0), abs=1e-4)
    assert at4.min_similarity > at5.min_similarity
    assert Criterion.for_case("Cd6Se6", 0.0).shape_shift_nm == 4.0 and Criterion.for_case("Cd6Se6", 10.0).shape_shift_nm is None
    assert Criterion.for_case("Cd4Se4", 0.0).shape_shift_nm is None
    # designs whose bands sit 1 … 6 nm to the red: the peak test passes those within 5 nm, the shape test fewer
    designs = [judge(_dimer(), _exc([450.0 + d, 400.0 + d, 330.0 + d], [0.02, 0.1, 0.05]), target) for d in range(1, 7)]
    passed = {c.min_similarity: [c.check(v).confirmed for v in designs] for c in (at5, at4)}
    assert sum(passed[at4.min_similarity]) < sum(passed[at5.min_similarity]) <= 5
    k5 = sum(passed[at5.min_similarity])
    assert campaign.calibrate_shape_shift(designs, target, max_rate=k5 / 6) == 5.0  # already strict enough
    tight = campaign.calibrate_shape_shift(designs, target, max_rate=(k5 - 1) / 6)
    assert tight < 5.0
    c = Criterion(shape_shift_nm=tight).for_target(target)
    assert sum(c.check(v).confirmed for v in designs) <= k5 - 1
    with pytest.raises(ValueError, match="every shift"):
        campaign.calibrate_shape_shift(designs[:1], target, max_rate=0.0, step_nm=2.5)  # a 1-nm move passes at 2.5 nm


def test_criterion_refuses_uncovered_and_unconverged_spectra(target):
    uncovered = judge(_dimer(), _exc([450.0, 400.0], [0.02, 0.1]), target)  # highest state 400 nm, short of 337.7
    assert Criterion().check(uncovered) == campaign.Confirmation(False, ("uncovered",))
    unconverged = judge(_dimer(), _exc([450.0, 400.0, 330.0], [0.02, 0.1, 0.05], converged=False), target)
    assert Criterion().check(unconverged) == campaign.Confirmation(False, ("unconverged",))


def test_shifted_targets_move_their_window_with_the_band(tmp_path, monkeypatch):
    from qdlib import qchem
    from qdlib.references import compute_references
    from qdlib.store import ResultStore

    monkeypatch.setattr(qchem, "excitations", fakes.toy_oracle)
    store = ResultStore(tmp_path / "s.json")
    compute_references([("Cd4Se4", "absorption")], store)
    t0, plus, minus = (campaign.campaign_target("Cd4Se4", "absorption", store, s) for s in (0.0, 10.0, -10.0))
    assert plus.peak_nm - t0.peak_nm == pytest.approx(10.0, abs=0.6) and t0.peak_nm - minus.peak_nm == pytest.approx(10.0, abs=0.6)
    assert plus.window.blue_nm == pytest.approx(t0.window.blue_nm + 10) and minus.window.blue_nm == pytest.approx(t0.window.blue_nm - 10)
    assert campaign.covering_window([t0, plus, minus]) == minus.window
    assert minus.name.endswith("T-10")

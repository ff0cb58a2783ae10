"""qdlib.campaign.surrogate: the paper's pipeline, the surrogate's ranking verified in order."""

import numpy as np

from qdlib import campaign as campaign_module
from qdlib import spectra
from qdlib.campaign import DesignSpace
from qdlib.verdict import Target, Window
from tests import fakes
from tests.fakes import toy_campaign as _toy_campaign

WINDOW = Window("absorption", 374.4, 798.4)


def test_the_surrogate_pipeline_verifies_its_ranking_in_order_blind_to_tddft(tmp_path, monkeypatch):
    """Method (b): the pool ranked once by the surrogate's loss; TD-DFT verdicts never reorder it."""

    class Closest(campaign_module.SurrogateDesigns):  # a stand-in surrogate: the band drifts with displacement
        def predict(self, u):
            grid = spectra.wavelength_grid("absorption")
            d = self.space.displacement_angstrom(u)
            return np.array([spectra.broaden([self.target.peak_nm + 40.0 * x], [0.1], grid) for x in d])

    def run(folder, oracle_shift):
        monkeypatch.setattr(fakes, "TOY_STICKS_NM", fakes.TOY_STICKS_NM + oracle_shift)
        c = _toy_campaign(folder, monkeypatch, method="surrogate", budget=6)
        c.method = Closest(c.space, c.target, pool_size=16, cache_dir=tmp_path)  # one pool for both runs
        return c, c.run()

    c, history = run(tmp_path / "a", 0.0)
    losses = np.sort(c.method.losses_)
    d = c.space.displacement_angstrom(np.array([r.u for r in history]))
    assert np.all(np.diff(d) >= -1e-9)  # the closest designs first: the stand-in's ranking
    assert len({r.key for r in history}) == 6 and losses[0] <= losses[-1]
    _, other = run(tmp_path / "b", 25.0)  # another oracle: other verdicts, the same designs
    assert [r.u for r in other] == [r.u for r in history]
    assert [r.peak_error_nm for r in other] != [r.peak_error_nm for r in history]


def test_the_released_design_surrogate_predicts_a_design_space(tmp_path):
    space = DesignSpace.benchmark("Cd4Se4", 1)
    t = Target("absorption", spectra.broaden([425.0], [0.1], spectra.wavelength_grid("absorption")), WINDOW)
    y = campaign_module.SurrogateDesigns(space, t).predict(np.array([[0.5, 0.5, 0.5], [0.52, 0.5, 0.47]]))
    assert y.shape == (2, 500) and np.isfinite(y).all() and y.max() > 100  # a band, L/mol/cm

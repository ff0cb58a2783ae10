"""qdlib.campaign.active: the forward model of the spectrum, its uncertainty and its held-out scores."""

import numpy as np

from qdlib import campaign as campaign_module
from qdlib import spectra
from qdlib.verdict import Window
from tests.fakes import toy_campaign as _toy_campaign


def test_spectrum_model_carries_the_peak_and_its_uncertainty():
    grid = spectra.wavelength_grid("absorption")
    rng = np.random.default_rng(1)
    u = rng.random((16, 3))
    y = np.array([spectra.broaden([400 + 40 * x[0], 330.0], [0.1, 0.05], grid) for x in u])
    model = campaign_module.SpectrumModel().fit(u, y, strain_ev=2 * u[:, 1])
    near, far = np.array([[0.3, 0.5, 0.5]]), np.array([[3.0, 3.0, 3.0]])  # inside the data, far outside it
    s_near, e_near = model.sample(near, 128, seed=0)
    s_far, _ = model.sample(far, 128, seed=0)
    peaks_near = spectra.peak_wavelength(s_near[:, 0], grid)
    assert abs(np.median(peaks_near) - 412.0) < 4 and abs(np.median(e_near) - 1.0) < 0.1
    assert np.std(spectra.peak_wavelength(s_far[:, 0], grid)) > 3 * np.std(peaks_near)  # unsure where it has no data


def test_spectrum_model_predictive_intervals_cover_what_the_coordinates_do_not_explain():
    # the band's position is partly set by something the coordinates do not carry (as TD-DFT's peak
    # is by what a few principal components and a smooth trend leave out): the latent samples are
    # sure of the trend, the predictive ones also carry that scatter
    grid = spectra.wavelength_grid("absorption")
    rng = np.random.default_rng(3)
    u = rng.random((80, 2))
    peak = 420 + 30 * u[:, 0] + rng.normal(0.0, 6.0, size=len(u))
    y = np.array([spectra.broaden([p], [0.1], grid) for p in peak])
    model = campaign_module.SpectrumModel().fit(u[:40], y[:40], strain_ev=u[:40, 1])
    assert model.residuals_.shape == (40, grid.size)
    window = Window("absorption", 380.0, 798.4)
    predictive = campaign_module.held_out_scores(model, u[40:], y[40:], window)
    latent = campaign_module.held_out_scores(model, u[40:], y[40:], window, predictive=False)
    assert predictive["n"] == 40 and predictive["coverage"] >= 0.7 and latent["coverage"] < predictive["coverage"] - 0.2


def test_the_forward_model_is_scored_round_by_round_on_held_out_designs(tmp_path, monkeypatch):
    """The random control's designs score an active-learning campaign's model after each of its rounds."""
    al = _toy_campaign(tmp_path, monkeypatch, method="random", budget=8, seed=0)
    history = al.run()
    control = _toy_campaign(tmp_path, monkeypatch, budget=6, seed=1).run()
    rows = campaign_module.scores_by_round(history, control + history[:2], al.spectrum_of, al.target.window)
    assert [r["round"] for r in rows] == [0, 1, 2, 3] and [r["n_train"] for r in rows] == [2, 4, 6, 8]
    assert all(r["n"] == 6 for r in rows)  # the control's designs; the campaign's own two left out
    assert all(0.0 <= r["coverage"] <= 1.0 and np.isfinite(r["peak_mae_nm"]) for r in rows)
    assert rows[-1]["peak_mae_nm"] < 10.0  # the toy's peak moves smoothly: eight designs predict it

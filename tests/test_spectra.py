import numpy as np
import pytest

from qdlib import datasets, spectra


@pytest.mark.parametrize("kind", ["absorption", "emission"])
def test_grids_equal_the_authors_files(kind):
    ours = spectra.wavelength_grid(kind)
    theirs = datasets.fetch_wavelength_grid(kind)
    assert ours.shape == (500,)
    np.testing.assert_allclose(ours, theirs, atol=1e-9)


def test_grid_endpoints():
    assert spectra.wavelength_grid("absorption")[[0, -1]].tolist() == [0.0, 798.4]
    assert spectra.wavelength_grid("emission")[[0, -1]].tolist() == [300.0, 2994.6]
    with pytest.raises(ValueError, match="kind"):
        spectra.wavelength_grid("raman")


def test_single_stick_height_and_position():
    grid = np.linspace(300, 500, 2001)
    eps = spectra.broaden([400.0], [0.2], grid)
    assert grid[np.argmax(eps)] == pytest.approx(400.0)
    # Gaussian 16's formula: the peak height is 1.3062974e8 * f / sigma.
    assert eps.max() == pytest.approx(1.3062974e8 * 0.2 / 967.0, rel=1e-9)
    # Half-width at 1/e is sigma in wavenumbers.
    lam_e = 1e7 / (1e7 / 400.0 - 967.0)
    assert spectra.broaden([400.0], [0.2], [lam_e])[0] == pytest.approx(eps.max() / np.e, rel=1e-9)


def test_broaden_batches_and_zero_wavelength():
    grid = spectra.wavelength_grid("absorption")
    lam = np.array([[400.0, 350.0], [500.0, 300.0]])
    f = np.array([[0.1, 0.2], [0.3, 0.0]])
    batch = spectra.broaden(lam, f, grid)
    assert batch.shape == (2, 500)
    np.testing.assert_allclose(batch[1], spectra.broaden(lam[1], f[1], grid))
    assert batch[:, 0].tolist() == [0.0, 0.0]  # the 0 nm bin
    assert np.all(np.isfinite(batch))


def test_emission_label_is_one_broadened_stick():
    """The authors' emission labels are single Gaussians: one stick reproduces them to < 1 % of the peak."""
    ds = datasets.fetch_paper_dataset("emission")
    worst = 0.0
    for y in ds.spectra[:10]:
        lam, f = spectra.fit_sticks(y, ds.wavelength_nm, n_states=1)
        fit = spectra.broaden(lam, f, ds.wavelength_nm)
        worst = max(worst, np.abs(fit - y).max() / y.max())
    assert worst < 0.01


def test_absorption_label_from_six_sticks():
    ds = datasets.fetch_paper_dataset("absorption")
    y = ds.spectra[ds.structure("Cd6Se6").info["group"]]
    lam, f = spectra.fit_sticks(y, ds.wavelength_nm, n_states=6)
    fit = spectra.broaden(lam, f, ds.wavelength_nm)
    assert np.abs(fit - y).max() < 0.01 * y.max()
    assert np.all(f >= 0) and np.all(np.diff(lam) <= 0)


def test_peak_refinement_beats_the_bin():
    grid = spectra.wavelength_grid("emission")
    y = spectra.broaden([1004.1], [0.01], grid)  # between the 1002.0 and 1007.4 nm bins
    assert abs(spectra.peak_wavelength(y, grid, refine=False) - 1004.1) > 2.0
    assert spectra.peak_wavelength(y, grid) == pytest.approx(1004.1, abs=0.3)
    batch = spectra.broaden([[1004.1], [1500.0]], [[0.01], [0.02]], grid)
    np.testing.assert_allclose(spectra.peak_wavelength(batch, grid), [1004.1, 1500.0], atol=0.5)
    assert spectra.peak_shift_nm(batch[1], batch[0], grid) == pytest.approx(495.9, abs=1.0)


def test_metrics_by_hand():
    a = np.array([1000.0, 3000.0, 0.0, 2000.0])
    b = np.array([0.0, 1000.0, 0.0, 2000.0])
    # 10 * mean(((a - b)/1000)^2) = 10 * (1 + 4 + 0 + 0)/4
    assert spectra.authors_loss(a, b) == pytest.approx(12.5)
    assert spectra.rmse(a, b) == pytest.approx(np.sqrt((1e6 + 4e6) / 4))
    assert spectra.mae(a, b) == pytest.approx(750.0)
    np.testing.assert_allclose(spectra.authors_loss(np.stack([a, b]), b), [12.5, 0.0])


def test_energy_wavelength_round_trip():
    e = np.array([1.0, 2.5, 3.1])
    np.testing.assert_allclose(spectra.nm_to_ev(spectra.ev_to_nm(e)), e)
    assert spectra.ev_to_nm(1.0) == pytest.approx(1239.84, abs=0.01)


def test_authors_loss_is_one_definition_for_numpy_and_torch():
    import torch

    rng = np.random.default_rng(0)
    predicted, target = rng.normal(0, 1000, (4, 500)), rng.normal(0, 1000, 500)
    ref = spectra.authors_loss(predicted, target)
    out = spectra.authors_loss(torch.as_tensor(predicted), torch.as_tensor(target))
    assert isinstance(out, torch.Tensor) and out.shape == (4,)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-14)  # one expression; the libraries sum in their own order
    assert spectra.authors_loss(predicted[0], target) == ref[0]


def test_error_metrics_per_spectrum_and_over_everything():
    p, t = np.array([[1.0, 3.0], [0.0, 0.0]]), np.zeros((2, 2))
    np.testing.assert_allclose(spectra.rmse(p, t), [np.sqrt(5.0), 0.0])
    assert spectra.rmse(p, t, axis=None) == pytest.approx(np.sqrt(2.5))
    np.testing.assert_allclose(spectra.mae(p, t), [2.0, 0.0])
    assert spectra.mae(p, t, axis=None) == 1.0

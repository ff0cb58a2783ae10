"""Spectral grids, Gaussian broadening, peak positions and mismatch metrics.

The grids and the broadening are the ones behind the authors' label spectra
(Yoshida et al., AIP Adv. 12, 115316 (2022)); the broadening is Gaussian 16's
own UV-Vis formula with a half-width at 1/e of ``sigma_cm`` wavenumbers:

.. math::

    \\varepsilon(\\lambda) = 1.3062974\\times10^{8} \\sum_i \\frac{f_i}{\\sigma}
        \\exp\\left[-\\left(\\frac{10^{7}/\\lambda - 10^{7}/\\lambda_i}{\\sigma}\\right)^2\\right]

with wavelengths in nm, :math:`\\sigma` in cm⁻¹ and ε in L mol⁻¹ cm⁻¹.

>>> from qdlib import spectra
>>> grid = spectra.wavelength_grid("absorption")
>>> eps = spectra.broaden([400.0], [0.1], grid)
>>> round(float(spectra.peak_wavelength(eps, grid)), 1)
400.0
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._arrays import is_tensor

__all__ = [
    "HC_EV_NM",
    "SIGMA_CM",
    "EPSILON_PREFACTOR",
    "GRIDS",
    "wavelength_grid",
    "ev_to_nm",
    "nm_to_ev",
    "broaden",
    "peak_wavelength",
    "peak_shift_nm",
    "DARK_EPSILON",
    "spectrum_peak",
    "authors_loss",
    "rmse",
    "mae",
    "fit_sticks",
]

SpectrumKind = Literal["absorption", "emission"]

#: Planck constant times speed of light, eV·nm (CODATA 2018).
HC_EV_NM: float = 1239.841984
#: Gaussian half-width at 1/e used by the authors (Gaussian 16's default), cm⁻¹.
SIGMA_CM: float = 967.0
#: Prefactor of Gaussian 16's broadening formula, L mol⁻¹ cm⁻¹ · cm⁻¹.
EPSILON_PREFACTOR: float = 1.3062974e8

#: The paper's grids: (first wavelength nm, step nm, number of bins).
GRIDS: dict[str, tuple[float, float, int]] = {
    "absorption": (0.0, 1.6, 500),
    "emission": (300.0, 5.4, 500),
}


def wavelength_grid(kind: SpectrumKind = "absorption") -> NDArray[np.float64]:
    """The paper's 500-bin wavelength grid, nm.

    Parameters
    ----------
    kind : {"absorption", "emission"}
        Absorption: 0–798.4 nm in 1.6 nm steps; emission: 300–2994.6 nm in
        5.4 nm steps.

    Returns
    -------
    ndarray, shape (500,)
        Wavelengths in nm, rounded to 0.1 pm so they equal the authors' CSV.

    Examples
    --------
    >>> grid = wavelength_grid("absorption")
    >>> grid.size, float(grid[1]), float(grid[-1])
    (500, 1.6, 798.4)
    >>> float(wavelength_grid("emission")[-1])
    2994.6
    """
    try:
        start, step, n = GRIDS[kind]
    except KeyError:
        raise ValueError(f"kind must be one of {sorted(GRIDS)}, got {kind!r}") from None
    return np.round(start + step * np.arange(n), 4)


def ev_to_nm(energy_ev: ArrayLike) -> NDArray[np.float64]:
    """Photon energy (eV) to vacuum wavelength (nm).

    >>> round(float(ev_to_nm(3.0)), 2)
    413.28
    """
    return HC_EV_NM / np.asarray(energy_ev, dtype=float)


def nm_to_ev(wavelength_nm: ArrayLike) -> NDArray[np.float64]:
    """Vacuum wavelength (nm) to photon energy (eV).

    >>> nm_to_ev([400.0, 620.0]).round(3)
    array([3.1, 2. ])
    """
    return HC_EV_NM / np.asarray(wavelength_nm, dtype=float)


def broaden(
    wavelengths_nm: ArrayLike,
    osc_strengths: ArrayLike,
    grid_nm: ArrayLike,
    sigma_cm: float = SIGMA_CM,
) -> NDArray[np.float64]:
    """Broaden stick transitions into a molar absorptivity spectrum.

    Parameters
    ----------
    wavelengths_nm : array_like, shape (..., n_states)
        Transition wavelengths, nm. Leading dimensions broadcast (a batch of
        stick spectra gives a batch of spectra).
    osc_strengths : array_like, shape (..., n_states)
        Oscillator strengths (dimensionless).
    grid_nm : array_like, shape (n_grid,)
        Wavelengths at which to evaluate, nm; a 0 nm point gives 0.
    sigma_cm : float
        Half-width at 1/e height, cm⁻¹ (the paper: 967).

    Returns
    -------
    ndarray, shape (..., n_grid)
        ε(λ) in L mol⁻¹ cm⁻¹, the units of the authors' labels.

    Examples
    --------
    One stick at 400 nm (f = 0.1) on a 3-bin grid, then a batch of two stick spectra:

    >>> broaden([400.0], [0.1], [390.0, 400.0, 410.0]).round()
    array([ 8705., 13509.,  9077.])
    >>> broaden([[400.0], [410.0]], [[0.1], [0.1]], [390.0, 400.0, 410.0]).round()
    array([[ 8705., 13509.,  9077.],
           [ 2535.,  9077., 13509.]])
    """
    lam = np.asarray(wavelengths_nm, dtype=float)[..., None, :]
    f = np.asarray(osc_strengths, dtype=float)[..., None, :]
    grid = np.asarray(grid_nm, dtype=float)
    with np.errstate(divide="ignore"):
        wavenumber_grid = np.where(grid > 0, 1e7 / np.where(grid > 0, grid, 1.0), np.inf)
    x = (wavenumber_grid[:, None] - 1e7 / lam) / sigma_cm
    with np.errstate(invalid="ignore", over="ignore"):
        terms = np.where(np.isfinite(x), f / sigma_cm * np.exp(-np.square(x)), 0.0)
    return EPSILON_PREFACTOR * terms.sum(axis=-1)


def peak_wavelength(
    spectrum: ArrayLike, grid_nm: ArrayLike, refine: bool = True
) -> NDArray[np.float64] | float:
    """Wavelength of the spectrum's maximum, nm.

    Parameters
    ----------
    spectrum : array_like, shape (..., n_grid)
        One spectrum or a batch.
    grid_nm : array_like, shape (n_grid,)
        Uniform wavelength grid, nm.
    refine : bool
        Refine the arg-max bin by the vertex of the parabola through it and
        its two neighbours (sub-bin accuracy); otherwise return the bin centre.

    Returns
    -------
    float or ndarray, shape (...)
        Peak wavelength(s), nm.

    Examples
    --------
    >>> grid = [390.0, 400.0, 410.0]
    >>> peak_wavelength([1.0, 3.0, 2.0], grid, refine=False)
    400.0
    >>> round(peak_wavelength([1.0, 3.0, 2.0], grid), 2)  # parabola vertex, pulled towards 410 nm
    401.67
    """
    y = np.asarray(spectrum, dtype=float)
    grid = np.asarray(grid_nm, dtype=float)
    i = np.argmax(y, axis=-1)
    peak = grid[i]
    if refine:
        inner = np.clip(i, 1, grid.size - 2)
        y0 = np.take_along_axis(y, (inner - 1)[..., None], -1)[..., 0]
        y1 = np.take_along_axis(y, inner[..., None], -1)[..., 0]
        y2 = np.take_along_axis(y, (inner + 1)[..., None], -1)[..., 0]
        denom = y0 - 2.0 * y1 + y2
        with np.errstate(divide="ignore", invalid="ignore"):
            offset = np.where(denom < 0, 0.5 * (y0 - y2) / denom, 0.0)
        offset = np.where(inner == i, offset, 0.0)
        peak = peak + offset * (grid[1] - grid[0])
    return float(peak) if np.ndim(peak) == 0 else peak


def peak_shift_nm(predicted: ArrayLike, target: ArrayLike, grid_nm: ArrayLike) -> NDArray[np.float64] | float:
    """Signed peak shift, predicted minus target, nm (see :func:`peak_wavelength`).

    >>> float(peak_shift_nm([1.0, 2.0, 3.0], [3.0, 2.0, 1.0], [390.0, 400.0, 410.0]))
    20.0
    """
    return np.subtract(peak_wavelength(predicted, grid_nm), peak_wavelength(target, grid_nm))


#: A spectrum whose maximum is below this (L mol⁻¹ cm⁻¹) has no peak (a dark S1 emits nothing).
DARK_EPSILON = 1.0


def spectrum_peak(spectrum: ArrayLike, kind: SpectrumKind) -> NDArray[np.float64] | float:
    """Central (maximum) peak wavelength of spectra on the paper grid of ``kind``, nm; NaN for a dark spectrum.

    >>> eps = broaden([400.0], [0.1], wavelength_grid("absorption"))
    >>> round(spectrum_peak(eps, "absorption"), 1), spectrum_peak(0 * eps, "absorption")
    (400.0, nan)
    """
    y = np.asarray(spectrum, dtype=float)
    peak = np.where(y.max(axis=-1) > DARK_EPSILON, peak_wavelength(y, wavelength_grid(kind)), np.nan)
    return float(peak) if np.ndim(peak) == 0 else peak


#: The authors' spectrum scale per kind, L mol⁻¹ cm⁻¹: their loss divides both spectra by it (:func:`authors_loss`).
LOSS_SCALE: dict[str, float] = {"absorption": 1000.0, "emission": 100.0}


def authors_loss(predicted, target, scale: float = 1000.0):
    """The authors' spectrum mismatch, ``10 * mean((predicted/scale - target/scale)**2)`` over the last axis.

    Their design reward is minus this value and an episode ends when it drops
    below 0.122; ``scale`` is 1000 for absorption labels. The one definition for
    NumPy and for PyTorch: the batched design environment calls it on tensors.

    Parameters
    ----------
    predicted, target : array_like or torch.Tensor, shape (..., n_grid)
        Spectra in L mol⁻¹ cm⁻¹ (both arrays or both tensors).
    scale : float
        Label scale the authors divide by.

    Returns
    -------
    float or ndarray (arrays), or torch.Tensor of shape (...) (tensors, differentiable)

    >>> round(authors_loss([1100.0, 900.0], [1000.0, 1000.0]), 6)
    0.1
    """
    if not is_tensor(predicted):
        predicted, target = np.asarray(predicted, dtype=float), np.asarray(target, dtype=float)
    out = 10.0 * (((predicted - target) / scale) ** 2).mean(-1)
    if is_tensor(out):
        return out
    return float(out) if np.ndim(out) == 0 else out


def rmse(predicted: ArrayLike, target: ArrayLike, axis: int | None = -1) -> NDArray[np.float64] | float:
    """Root-mean-square error over ``axis`` (default the last: per spectrum; None: over everything).

    >>> rmse([[1.0, 3.0]], [[0.0, 0.0]]), rmse([[1.0], [3.0]], [[0.0], [0.0]], axis=None)
    (array([2.23606798]), 2.23606797749979)
    """
    d = np.asarray(predicted, dtype=float) - np.asarray(target, dtype=float)
    out = np.sqrt(np.mean(np.square(d), axis=axis))
    return float(out) if np.ndim(out) == 0 else out


def mae(predicted: ArrayLike, target: ArrayLike, axis: int | None = -1) -> NDArray[np.float64] | float:
    """Mean absolute error over ``axis`` (default the last: per spectrum; None: over everything).

    >>> mae([1.0, -3.0], [0.0, 0.0])
    2.0
    """
    d = np.asarray(predicted, dtype=float) - np.asarray(target, dtype=float)
    out = np.mean(np.abs(d), axis=axis)
    return float(out) if np.ndim(out) == 0 else out


def fit_sticks(
    spectrum: ArrayLike,
    grid_nm: ArrayLike,
    n_states: int = 6,
    sigma_cm: float = SIGMA_CM,
    tol: float = 1e-4,
    max_restarts: int = 8,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Recover stick transitions from a broadened spectrum by least squares.

    The inverse of :func:`broaden`: finds ``n_states`` wavelengths and
    non-negative oscillator strengths whose broadened spectrum matches
    ``spectrum`` on ``grid_nm``. Useful to compare TD-DFT sticks with
    published spectra that were released only in broadened form.

    Parameters
    ----------
    spectrum : array_like, shape (n_grid,)
        ε(λ), L mol⁻¹ cm⁻¹.
    grid_nm : array_like, shape (n_grid,)
        Wavelength grid, nm.
    n_states : int
        Number of sticks to fit.
    sigma_cm : float
        Broadening half-width, cm⁻¹.
    tol : float
        Stop restarting once the largest residual is below ``tol`` times the
        spectrum's maximum.
    max_restarts : int
        Seeded random restarts of the local least-squares fit.

    Returns
    -------
    wavelengths_nm, osc_strengths : ndarray, shape (n_states,)
        Sorted by decreasing wavelength (lowest excitation first).

    Examples
    --------
    Two sticks broadened on the absorption grid come back:

    >>> grid = wavelength_grid("absorption")
    >>> lam, f = fit_sticks(broaden([380.0, 450.0], [0.1, 0.2], grid), grid, n_states=2)
    >>> lam.round(1), f.round(3)
    (array([450., 380.]), array([0.2, 0.1]))
    """
    from scipy.optimize import least_squares

    y = np.asarray(spectrum, dtype=float)
    grid = np.asarray(grid_nm, dtype=float)
    if y.shape != grid.shape:
        raise ValueError(f"spectrum shape {y.shape} does not match grid shape {grid.shape}")
    scale = max(float(y.max()), 1e-12)
    valid = grid > 0
    # Work in wavenumbers, where every band has the same width.
    nu = 1e7 / grid[valid]
    nu_peak = 1e7 / peak_wavelength(y, grid)

    def model(p: NDArray[np.float64]) -> NDArray[np.float64]:
        return broaden(1e7 / p[:n_states], p[n_states:], grid, sigma_cm)

    def residual(p: NDArray[np.float64]) -> NDArray[np.float64]:
        return (model(p) - y) / scale

    best = None
    rng = np.random.default_rng(0)
    f_guess = scale * sigma_cm / EPSILON_PREFACTOR
    for trial in range(max_restarts):
        spread = sigma_cm * (1.0 + trial)
        nu0 = nu_peak + rng.uniform(-2, 2, n_states) * spread
        nu0 = np.clip(nu0, nu.min(), nu.max())
        p0 = np.concatenate([nu0, np.full(n_states, f_guess / n_states)])
        lower = np.concatenate([np.full(n_states, nu.min()), np.zeros(n_states)])
        upper = np.concatenate([np.full(n_states, nu.max()), np.full(n_states, np.inf)])
        fit = least_squares(residual, p0, bounds=(lower, upper), x_scale="jac")
        if best is None or fit.cost < best.cost:
            best = fit
        if np.max(np.abs(best.fun)) < tol:
            break
    nu_fit, f_fit = best.x[:n_states], best.x[n_states:]
    order = np.argsort(nu_fit)
    return 1e7 / nu_fit[order], f_fit[order]

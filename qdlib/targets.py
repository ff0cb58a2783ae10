"""A user's absorption target: a spectrum file, a band, or the TD-DFT spectrum of a structure.

Every form becomes a :class:`~qdlib.verdict.Target` on the paper's absorption grid (0–798.4 nm,
1.6 nm bins) with its window (:func:`complete_window`: from the blue edge of the central band to
the grid's red end, within the wavelengths where the spectra it is compared with are complete),
ready for the criterion that confirms a design:

* :func:`read_spectrum` and :func:`spectrum_target` — two columns, wavelength (nm) and intensity,
  in CSV, TSV, semicolon- or whitespace-separated text with an optional header line and ``#``
  comments, on any wavelength grid (interpolated to the paper's, zero outside the measured
  range; the window ends where the measurement does). Intensities are absolute (ε, L mol⁻¹ cm⁻¹:
  the intensity test applies) or arbitrary (normalised, absorbance, counts: the shape and the peak
  only, the default); :func:`units_from_header` reads ε from a header line that names it.
* :func:`band_target` — a single band at ``peak_nm``, Gaussian in wavenumber, the paper's
  broadening (σ = 967 cm⁻¹) or a given full width at half maximum; arbitrary units.
* :func:`structure_target` — the broadened TD-DFT spectrum of a structure (paper settings,
  states covering the window): "find other clusters that absorb like this one".

Bad input raises :class:`TargetError` with one line saying what is wrong and what is accepted;
nothing is computed. So is a target with no band where the compared spectra are complete (their
states reach ``min_cover_nm``; default the library's, :data:`qdlib.library.tddft.COVER_NM`).

>>> t = band_target(480.0)
>>> round(t.peak_nm, 1), round(t.window.blue_nm, 1), t.absolute
(480.0, 443.2, False)
>>> spectrum_target([400.0, 480.0, 560.0], [0.0, 1.0, 0.0]).name
'spectrum (arbitrary units)'
>>> spectrum_target([500.0, 400.0, 500.0], [0.0, 1.0, 0.0])
Traceback (most recent call last):
    ...
qdlib.targets.TargetError: wavelengths must increase (or decrease) strictly: 400 nm is followed by 500 nm at row 3
"""

from __future__ import annotations

import re
from os import PathLike
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import spectra
from .verdict import Target, Window

__all__ = ["ARBITRARY_MAX", "TargetError", "band_target", "complete_window", "read_spectrum", "spectrum_target", "structure_target", "units_from_header",
           "complete_from_nm"]

ARBITRARY_MAX: float = 1e4
"""A target in arbitrary units is scaled to this maximum, so that what counts as a dark bin
(:data:`qdlib.spectra.DARK_EPSILON`, in ε) means the same as for a spectrum in ε; only its shape
and peak are compared."""

_ACCEPTED = "two columns, wavelength in nm and intensity (CSV, TSV or whitespace; one header line and # comments allowed)"


class TargetError(ValueError):
    """A target that cannot be used; the message says what is wrong and what is accepted."""


def read_spectrum(path: str | PathLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Wavelengths (nm) and intensities of a two-column text file, in file order.

    Columns are separated by commas, tabs, semicolons or spaces; blank lines and lines starting
    with ``#`` are skipped; the first remaining line may be a header (it is skipped when it is not
    numeric); further columns are ignored.

    Raises
    ------
    TargetError
        A missing or empty file, a row with fewer than two columns, or a value that is not a number.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "target.csv")
    >>> _ = open(path, "w").write("wavelength_nm,absorbance\\n400,0.1\\n450,0.8\\n500,0.2\\n")
    >>> read_spectrum(path)
    (array([400., 450., 500.]), array([0.1, 0.8, 0.2]))
    """
    path = Path(path)
    if not path.is_file():
        raise TargetError(f"{path}: no such file (expected {_ACCEPTED})")
    rows, first = [], True
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        header, first = first, False
        if ";" in text:  # semicolon-separated: a comma is a decimal mark (400,5;0,12)
            fields = [f.strip().replace(",", ".") for f in text.split(";") if f.strip()]
        else:
            fields = [f for f in re.split(r"[,\s]+", text) if f]
        try:
            values = [float(f) for f in fields[:2]]
        except ValueError:
            if header:
                continue
            bad = next(f for f in fields[:2] if not _is_number(f))
            raise TargetError(f"{path}: line {n}: {bad!r} is not a number (expected {_ACCEPTED})") from None
        if len(values) < 2:
            raise TargetError(f"{path}: line {n} has {len(values)} column(s) (expected {_ACCEPTED})")
        rows.append(values)
    if not rows:
        raise TargetError(f"{path}: no data rows (expected {_ACCEPTED})")
    data = np.array(rows, dtype=float)
    return data[:, 0], data[:, 1]


def spectrum_target(wavelength_nm: ArrayLike, intensity: ArrayLike, units: str = "arbitrary", name: str = "spectrum",
                    min_cover_nm: float | None = None) -> Target:  # fmt: skip
    """A target from a spectrum on any wavelength grid, interpolated to the paper's absorption grid.

    Parameters
    ----------
    wavelength_nm : array_like, shape (n,)
        Strictly increasing or strictly decreasing, nm; at least 3 points.
    intensity : array_like, shape (n,)
        Finite, non-negative, not all zero.
    units : {"arbitrary", "epsilon"}
        ``"epsilon"``: molar absorptivity, L mol⁻¹ cm⁻¹ (the intensity test applies);
        ``"arbitrary"``: the shape and the peak only.
    name : str
        What the target is called; the units taken are appended.
    min_cover_nm : float, optional
        The shortest wavelength the compared spectra cover, nm (default: the library's,
        :data:`qdlib.library.tddft.COVER_NM`).

    Returns
    -------
    qdlib.verdict.Target
        Zero outside the given wavelength range, its window ending where the range does;
        ``absolute`` per ``units``.

    Raises
    ------
    TargetError
        For any input the docstring above excludes, or a target outside the paper's grid or needing
        states below ``min_cover_nm``.
    """
    if units not in ("epsilon", "arbitrary"):
        raise TargetError(f"units {units!r}: expected 'epsilon' (L mol⁻¹ cm⁻¹) or 'arbitrary'")
    lam, y = np.asarray(wavelength_nm, dtype=float).ravel(), np.asarray(intensity, dtype=float).ravel()
    if lam.size != y.size:
        raise TargetError(f"{lam.size} wavelengths but {y.size} intensities: expected one intensity per wavelength")
    if lam.size < 3:
        raise TargetError(f"{lam.size} point(s): a spectrum needs at least 3 (expected {_ACCEPTED})")
    for values, what in ((lam, "wavelength"), (y, "intensity")):
        if not np.all(np.isfinite(values)):
            row = int(np.flatnonzero(~np.isfinite(values))[0]) + 1
            raise TargetError(f"{what} at row {row} is {values[row - 1]}: every value must be a finite number")
    if np.any(lam <= 0):
        raise TargetError(f"wavelength {lam[lam <= 0][0]:g} nm: wavelengths must be positive, in nm")
    if np.any(y < 0):
        row = int(np.flatnonzero(y < 0)[0]) + 1
        raise TargetError(f"intensity {y[row - 1]:g} at row {row} is negative: intensities must be >= 0 "
                          "(subtract a baseline that leaves none below zero)")  # fmt: skip
    if not np.any(y > 0):
        raise TargetError("every intensity is zero: the target has no band")
    step = np.diff(lam)
    if not (np.all(step > 0) or np.all(step < 0)):
        i = int(np.flatnonzero(np.sign(step) != np.sign(step[0]))[0] if step[0] != 0 else 0)
        raise TargetError(f"wavelengths must increase (or decrease) strictly: {lam[i]:g} nm is followed by "
                          f"{lam[i + 1]:g} nm at row {i + 2}")  # fmt: skip
    order = np.argsort(lam)
    lam, y = lam[order], y[order]
    grid = spectra.wavelength_grid("absorption")
    inside = (grid >= lam[0]) & (grid <= lam[-1])
    if inside.sum() < 3:
        raise TargetError(f"the spectrum spans {lam[0]:g}–{lam[-1]:g} nm: it must overlap the paper's grid "
                          f"({grid[1]:g}–{grid[-1]:g} nm) in at least 3 bins of {grid[1]:g} nm")  # fmt: skip
    on_grid = np.where(inside, np.interp(grid, lam, y), 0.0)
    if not np.any(on_grid > 0):
        raise TargetError(f"the spectrum is zero on the paper's grid ({grid[1]:g}–{grid[-1]:g} nm)")
    absolute = units == "epsilon"
    if not absolute:
        on_grid = on_grid * (ARBITRARY_MAX / float(on_grid.max()))
    window = _window(on_grid, min_cover_nm, name)
    window = Window("absorption", window.blue_nm, float(min(window.red_nm, grid[inside][-1])), window.n_sigma)
    how = "ε, L mol⁻¹ cm⁻¹" if absolute else "arbitrary units"
    return Target("absorption", on_grid, window, name=f"{name} ({how})", absolute=absolute)


def units_from_header(path: str | PathLike) -> str:
    """``"epsilon"`` when the file's header or comment lines name molar absorptivity (ε, epsilon,
    L/mol/cm, M⁻¹ cm⁻¹), else ``"arbitrary"``.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> _ = open(path, "w").write("wavelength_nm,epsilon_L_per_mol_cm\\n400,100\\n")
    >>> units_from_header(path)
    'epsilon'
    """
    pattern = re.compile(r"ε|epsilon|l\s*/\s*mol|l\s*mol\s*\^?[-⁻]1|m\s*\^?[-⁻]1\s*cm|molar abs", re.IGNORECASE)
    for line in Path(path).read_text(errors="replace").splitlines():
        text = line.strip()
        if not text:
            continue
        if text.startswith("#") or not _is_number(re.split(r"[,;\s]+", text)[0]):
            if pattern.search(text):
                return "epsilon"
            continue
        break  # the data begin
    return "arbitrary"


def band_target(peak_nm: float, fwhm_nm: float | None = None, min_cover_nm: float | None = None) -> Target:
    """A single absorption band at ``peak_nm``, Gaussian in wavenumber, arbitrary units (maximum :data:`ARBITRARY_MAX`).

    Parameters
    ----------
    peak_nm : float
        Where the band peaks, nm.
    fwhm_nm : float, optional
        Its full width at half maximum, nm (default: the paper's broadening, σ = 967 cm⁻¹ at 1/e,
        a FWHM of 1610 cm⁻¹ — 37 nm at 480 nm). A band narrower than that is refused: every
        member's spectrum is broadened by the paper's σ, so none could match it.
    min_cover_nm : float, optional
        As for :func:`spectrum_target`.

    Examples
    --------
    >>> t = band_target(480.0, fwhm_nm=60.0)
    >>> round(t.peak_nm, 1), t.name
    (480.0, 'band at 480 nm, FWHM 60 nm')
    >>> band_target(340.0)
    Traceback (most recent call last):
        ...
    qdlib.targets.TargetError: band at 340 nm: the target has no band between 366.4 and 798.4 nm, where the spectra it is compared with are complete (their states reach 330 nm)
    """
    grid = spectra.wavelength_grid("absorption")
    if not np.isfinite(peak_nm) or not grid[1] < peak_nm < grid[-1]:
        raise TargetError(f"band at {peak_nm} nm: the peak must lie inside the paper's grid ({grid[1]:g}–{grid[-1]:g} nm)")
    if fwhm_nm is None:
        sigma_cm, name = spectra.SIGMA_CM, f"band at {peak_nm:g} nm, the paper's broadening"
    else:
        if not (np.isfinite(fwhm_nm) and 0 < fwhm_nm < peak_nm):
            raise TargetError(f"FWHM {fwhm_nm} nm: expected a positive width below the peak wavelength, nm")
        fwhm_cm = 1e7 / (peak_nm - fwhm_nm / 2) - 1e7 / (peak_nm + fwhm_nm / 2)
        paper_cm = 2 * np.sqrt(np.log(2)) * spectra.SIGMA_CM
        if fwhm_cm < paper_cm:
            paper_nm = 1e7 / (1e7 / peak_nm - paper_cm / 2) - 1e7 / (1e7 / peak_nm + paper_cm / 2)
            raise TargetError(f"FWHM {fwhm_nm:g} nm at {peak_nm:g} nm is narrower than the library's spectra can be: each "
                              f"transition is broadened to {paper_nm:.0f} nm there (σ = {spectra.SIGMA_CM:g} cm⁻¹)")  # fmt: skip
        sigma_cm, name = fwhm_cm / (2 * np.sqrt(np.log(2))), f"band at {peak_nm:g} nm, FWHM {fwhm_nm:g} nm"
    y = spectra.broaden([peak_nm], [1.0], grid, sigma_cm=sigma_cm)
    y = y * (ARBITRARY_MAX / y.max())
    return Target("absorption", y, _window(y, min_cover_nm, f"band at {peak_nm:g} nm"), name=name, absolute=False)


def structure_target(atoms, settings=None, options=None, store=None, min_cover_nm: float | None = None,
                     max_states: int | None = None, compute: bool = True) -> Target:  # fmt: skip
    """The broadened TD-DFT absorption spectrum of ``atoms`` as a target (absolute units).

    Computed at ``settings`` (default the paper's) with states covering ``min_cover_nm`` (default
    the library's) as the library's members are (at most ``max_states``, default the library's), or
    read from ``store`` (a :class:`~qdlib.store.ResultStore`) when it holds the result; a new
    result is written there. ``compute=False``: read only (a TargetError when not stored).

    Raises
    ------
    TargetError
        When the states do not reach ``min_cover_nm`` within ``max_states`` (the spectrum is
        incomplete there), or the structure is refused (:func:`qdlib.structures.validate`).
    """
    import functools

    from .compute import compute_many
    from .library.tddft import COVER_NM, MAX_STATES
    from .qchem import EngineOptions, TDDFTSettings, excitations
    from .store import covered_key
    from .structures import StructureError, validate

    settings, options = settings or TDDFTSettings(), options or EngineOptions()
    min_cover_nm, max_states = min_cover_nm or COVER_NM, max_states or MAX_STATES
    try:
        validate(atoms)
    except StructureError as exc:
        raise TargetError(f"target structure: {exc}") from None
    fn = functools.partial(excitations, cover_nm=min_cover_nm, max_states=max_states)
    key = functools.partial(covered_key, cover_nm=min_cover_nm, max_states=max_states)
    if not compute and (store is None or store.get_by_key(key(atoms, settings)) is None):
        raise TargetError(f"target structure {atoms.get_chemical_formula()}: its TD-DFT is not in the store "
                          "(a dry run or a replay computes nothing: run once without them)")  # fmt: skip
    report = compute_many([atoms], settings, options, store=store, compute=fn, key=key, progress=False)
    if 0 not in report.results:
        raise TargetError(f"target structure {atoms.get_chemical_formula()}: TD-DFT failed ({report.failures[0]})")
    result = report.results[0]
    if not result.covers(min_cover_nm):
        raise TargetError(f"target structure {atoms.get_chemical_formula()}: {result.energies_ev.size} states reach "
                          f"{result.wavelengths_nm.min():.0f} nm, not {min_cover_nm:g} nm; raise max_states")  # fmt: skip
    y = result.spectrum("absorption")
    what = f"TD-DFT spectrum of {atoms.get_chemical_formula()}"
    return Target("absorption", y, _window(y, min_cover_nm, what), name=f"{what} (ε, L mol⁻¹ cm⁻¹)", absolute=True)


def complete_window(spectrum: ArrayLike, min_cover_nm: float | None = None, fraction: float = 0.05) -> Window:
    """The window of a user's target: its central band, where the spectra it is compared with are complete.

    A spectrum whose states reach ``min_cover_nm`` is complete to the red of the wavelength whose
    :attr:`~qdlib.verdict.Window.cover_nm` is ``min_cover_nm`` (``n_sigma`` = 3 broadening widths
    further red; 364.9 nm for the library's 330 nm). The central band is the target's highest
    local maximum there; the window runs from the band's blue edge (where the target falls below
    ``fraction`` of that maximum, as :func:`~qdlib.verdict.target_window`), but not to the blue of
    the complete range, to the grid's red end.

    Raises
    ------
    TargetError
        When the target has no band inside the complete range.

    Examples
    --------
    >>> grid = spectra.wavelength_grid("absorption")
    >>> complete_window(spectra.broaden([480.0], [0.1], grid), 330.0)
    Window(kind='absorption', blue_nm=443.2, red_nm=798.4, n_sigma=3.0)
    >>> w = complete_window(spectra.broaden([380.0], [0.1], grid), 330.0)  # the band's blue flank is cut
    >>> w.blue_nm, round(w.cover_nm, 1)
    (366.4, 331.2)
    """
    if min_cover_nm is None:
        from .library.tddft import COVER_NM as min_cover_nm
    grid = spectra.wavelength_grid("absorption")
    y = np.asarray(spectrum, dtype=float)
    n_sigma = Window("absorption", 400.0, float(grid[-1])).n_sigma
    first = int(np.searchsorted(grid, complete_from_nm(min_cover_nm)))  # the first bin inside the complete range
    inner = np.arange(first + 1, grid.size - 1)
    is_max = (y[inner] > y[inner - 1]) & (y[inner] >= y[inner + 1]) & (y[inner] > spectra.DARK_EPSILON)
    if not is_max.any():
        raise TargetError(f"the target has no band between {grid[first]:.1f} and {grid[-1]:g} nm, where the spectra "
                          f"it is compared with are complete (their states reach {min_cover_nm:g} nm)")  # fmt: skip
    peak = int(inner[is_max][np.argmax(y[inner[is_max]])])
    below = np.flatnonzero(y[first:peak] < fraction * y[peak])
    blue = grid[first + below[-1]] if below.size else grid[first]
    return Window("absorption", float(blue), float(grid[-1]), n_sigma)


def complete_from_nm(min_cover_nm: float) -> float:
    """Where a spectrum whose states reach ``min_cover_nm`` becomes complete: ``n_sigma`` broadening widths to
    the red of its last state, nm (the inverse of :attr:`qdlib.verdict.Window.cover_nm`).

    >>> round(complete_from_nm(330.0), 1)
    364.9
    """
    n_sigma = Window("absorption", 400.0, 800.0).n_sigma
    return 1e7 / (1e7 / min_cover_nm - n_sigma * spectra.SIGMA_CM)


def _window(spectrum: NDArray, min_cover_nm: float | None, what: str) -> Window:
    try:
        return complete_window(spectrum, min_cover_nm)
    except TargetError as exc:
        raise TargetError(f"{what}: {exc}") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True

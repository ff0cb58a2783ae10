"""TD-DFT's verdict on a designed structure, on a window where both spectra are complete.

A TD-DFT spectrum from the lowest ``n`` states is complete only to the red of its
highest state: a design whose atoms were pushed out of place can have all of its
six lowest states far to the red of the target's band, so that band cannot
appear in a six-state spectrum at all. A verdict therefore compares design and
target only over a :class:`Window` — from the blue edge of the target's central
band to the red end of the paper's grid — and only when the design's states
reach a few broadening widths beyond the window's blue edge
(:attr:`Window.cover_nm`; :func:`qdlib.qchem.excitations` with ``cover_nm``
solves for as many states as that takes). The target is the benchmark dot's own
TD-DFT spectrum computed the same way (its first six states are the paper's
target), since the paper's six-state target is itself incomplete there.

A design gets a verdict only if its TD-DFT converged and its spectrum covers the
window; otherwise it is reported as ``"unconverged"`` or ``"uncovered"``, never
scored. Every verdict carries the design's DFT energy above the reference dot
and its shortest interatomic distance: a spectrum match at a structure 10 eV
above the dot is no design.

>>> from qdlib import spectra
>>> grid = spectra.wavelength_grid("absorption")
>>> w = target_window(spectra.broaden([400.0], [0.1], grid), "absorption")
>>> round(w.blue_nm, 1), round(w.cover_nm, 1)
(374.4, 337.7)

:func:`judge` shows a whole verdict on hand-made excitations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from ase import Atoms
from numpy.typing import ArrayLike, NDArray

from . import spectra
from .qchem import HARTREE_EV, Excitations

__all__ = [
    "COVER_MAX_STATES",
    "Window",
    "target_window",
    "window_peak",
    "cosine_similarity",
    "intensity_ratio",
    "Target",
    "Verdict",
    "judge",
    "shortest_distance",
]

#: The most states a verdict's TD-DFT solves for (a result that stops here without covering is "uncovered").
COVER_MAX_STATES = 40

Status = Literal["valid", "unconverged", "uncovered"]


@dataclass(frozen=True)
class Window:
    """The wavelengths over which a design is compared with a target.

    Attributes
    ----------
    kind : {"absorption", "emission"}
    blue_nm, red_nm : float
        Edges of the window, nm (inclusive).
    n_sigma : float
        How many broadening widths (σ, cm⁻¹) beyond the blue edge the states must reach: a state
        that far away adds at most exp(−n_sigma²) of its height inside the window.

    Examples
    --------
    >>> w = Window("absorption", blue_nm=374.4, red_nm=798.4)
    >>> round(w.cover_nm, 1), int(w.mask().sum())
    (337.7, 266)
    >>> Window("emission", 300.0, 2994.6).cover_nm is None
    True
    """

    kind: str
    blue_nm: float
    red_nm: float
    n_sigma: float = 3.0

    @property
    def cover_nm(self) -> float | None:
        """Wavelength the highest computed state must reach (at or below), nm; ``None`` for emission,
        which broadens S1 alone (Kasha) and is complete with one state."""
        if self.kind == "emission":
            return None
        return 1e7 / (1e7 / self.blue_nm + self.n_sigma * spectra.SIGMA_CM)

    def mask(self, grid_nm: ArrayLike | None = None) -> NDArray[np.bool_]:
        """Bins of ``grid_nm`` (default the paper grid of ``kind``) inside the window."""
        grid = spectra.wavelength_grid(self.kind) if grid_nm is None else np.asarray(grid_nm, dtype=float)
        return (grid >= self.blue_nm) & (grid <= self.red_nm)

    def covered_by(self, result: Excitations) -> bool:
        """Whether ``result``'s states make its spectrum complete on the window."""
        return result.energies_ev.size > 0 if self.cover_nm is None else result.covers(self.cover_nm)


def target_window(target: ArrayLike, kind: str, fraction: float = 0.05, n_sigma: float = 3.0) -> Window:
    """The window of a target spectrum: from its central band's blue edge to the grid's red end.

    The blue edge is the first bin, walking blueward from the central (highest) peak, where the
    target falls below ``fraction`` of its maximum. Emission (S1 alone) is compared on the whole grid.

    Parameters
    ----------
    target : array_like, shape (n_bins,)
        The target spectrum on the paper grid of ``kind``, L mol⁻¹ cm⁻¹.
    kind : {"absorption", "emission"}
    fraction : float
        Height that ends the band, relative to the peak.
    n_sigma : float
        See :class:`Window`.

    Examples
    --------
    >>> from qdlib import spectra
    >>> target = spectra.broaden([400.0], [0.1], spectra.wavelength_grid("absorption"))
    >>> target_window(target, "absorption")
    Window(kind='absorption', blue_nm=374.4, red_nm=798.4, n_sigma=3.0)
    >>> target_window(target, "emission")
    Window(kind='emission', blue_nm=300.0, red_nm=2994.6, n_sigma=3.0)
    """
    grid = spectra.wavelength_grid(kind)
    if kind == "emission":
        return Window(kind, float(grid[0]), float(grid[-1]), n_sigma)
    y = np.asarray(target, dtype=float)
    i = int(np.argmax(y))
    below = np.flatnonzero(y[:i] < fraction * y[i])
    blue = grid[below[-1]] if below.size else grid[1]
    return Window(kind, float(blue), float(grid[-1]), n_sigma)


def window_peak(spectrum: ArrayLike, window: Window) -> float:
    """Central peak on the window: the highest local maximum strictly inside it, nm (parabola-refined).

    NaN when the spectrum has no maximum inside the window (dark there, or rising towards an edge:
    the band lies outside).

    >>> from qdlib import spectra
    >>> grid = spectra.wavelength_grid("absorption")
    >>> w = Window("absorption", 374.4, 798.4)
    >>> round(window_peak(spectra.broaden([400.0], [0.1], grid), w), 1)
    400.0
    >>> window_peak(spectra.broaden([300.0], [0.1], grid), w)  # its band lies to the blue of the window
    nan
    """
    y = np.asarray(spectrum, dtype=float)
    grid = spectra.wavelength_grid(window.kind)
    idx = np.flatnonzero(window.mask(grid))
    inner = idx[1:-1]
    is_max = (y[inner] > y[inner - 1]) & (y[inner] >= y[inner + 1]) & (y[inner] > spectra.DARK_EPSILON)
    if not is_max.any():
        return float("nan")
    i = int(inner[is_max][np.argmax(y[inner[is_max]])])
    y0, y1, y2 = y[i - 1], y[i], y[i + 1]
    denom = y0 - 2 * y1 + y2
    offset = 0.5 * (y0 - y2) / denom if denom < 0 else 0.0
    return float(grid[i] + offset * (grid[1] - grid[0]))


def cosine_similarity(a: ArrayLike, b: ArrayLike, window: Window) -> float:
    """Cosine of the angle between two spectra on the window (1: the same shape, any height); NaN if one is zero.

    >>> from qdlib import spectra
    >>> grid = spectra.wavelength_grid("absorption")
    >>> a, b = spectra.broaden([400.0], [0.1], grid), spectra.broaden([450.0], [0.1], grid)
    >>> w = Window("absorption", 374.4, 798.4)
    >>> round(cosine_similarity(a, 2 * a, w), 6), round(cosine_similarity(a, b, w), 3)
    (1.0, 0.016)
    """
    m = window.mask()
    x, y = np.asarray(a, dtype=float)[m], np.asarray(b, dtype=float)[m]
    norm = np.linalg.norm(x) * np.linalg.norm(y)
    return float(x @ y / norm) if norm > 0 else float("nan")


def intensity_ratio(design: ArrayLike, target: ArrayLike, window: Window) -> float:
    """Integrated molar absorptivity of ``design`` on the window over the target's (1: as intense); NaN if the target is dark there.

    Cosine similarity ignores height; this number does not. A band that splits, part of it leaving
    the window, or a design twice as bright as the target, shows here.

    >>> from qdlib import spectra
    >>> grid = spectra.wavelength_grid("absorption")
    >>> w = Window("absorption", 374.4, 798.4)
    >>> a = spectra.broaden([400.0], [0.1], grid)
    >>> round(intensity_ratio(2 * a, a, w), 6), round(intensity_ratio(spectra.broaden([400.0, 340.0], [0.05, 0.05], grid), a, w), 2)
    (2.0, 0.5)
    """
    m = window.mask()
    den = float(np.sum(np.asarray(target, dtype=float)[m]))
    return float(np.sum(np.asarray(design, dtype=float)[m]) / den) if den > 0 else float("nan")


def shortest_distance(atoms: Atoms) -> float:
    """Shortest interatomic distance, Å.

    >>> from ase import Atoms
    >>> shortest_distance(Atoms("CdSe2", positions=[[0, 0, 0], [0, 0, 2.6], [0, 2.7, 0]]))
    2.6
    """
    d = atoms.get_all_distances()
    return float(d[np.triu_indices(len(atoms), 1)].min()) if len(atoms) > 1 else float("inf")


@dataclass
class Target:
    """A target spectrum complete on its window, and the reference structure's ground-state energy.

    Attributes
    ----------
    kind : {"absorption", "emission"}
    spectrum : ndarray, shape (n_bins,)
        On the paper grid of ``kind``, L mol⁻¹ cm⁻¹, complete on ``window``.
    window : Window
    e_reference_hartree : float
        DFT total energy of the reference structure (the undisplaced dot), Eh: designs' strain
        energies are measured from it. NaN if unknown.
    name : str
        What the target is (e.g. ``"Cd6Se6 absorption"``).
    absolute : bool
        Whether ``spectrum`` is in absolute units (ε); False for arbitrary units (a user's
        normalised spectrum, a band): then no intensity is compared.
    """

    kind: str
    spectrum: NDArray[np.float64]
    window: Window
    e_reference_hartree: float = float("nan")
    name: str = ""
    absolute: bool = True

    @property
    def peak_nm(self) -> float:
        """The target's central peak on its window, nm."""
        return window_peak(self.spectrum, self.window)

    @classmethod
    def from_reference(cls, reference: Excitations, paper_target: ArrayLike, kind: str, name: str = "",
                       shift_nm: float = 0.0) -> Target:  # fmt: skip
        """The target of a benchmark dot from its TD-DFT (computed to cover the window).

        Parameters
        ----------
        reference : Excitations
            The undisplaced dot, with states covering the window of ``paper_target``.
        paper_target : array_like
            The paper's (six-state) target: sets the window.
        kind : {"absorption", "emission"}
        name : str
        shift_nm : float
            Move every stick by this much before broadening (a target no structure was trained on).

        Raises
        ------
        ValueError
            If the reference's states do not cover the window.

        Examples
        --------
        Three hand-made states of a reference dot, the highest at 326 nm, beyond the window's
        337.7 nm:

        >>> import numpy as np
        >>> from qdlib import spectra
        >>> from qdlib.qchem import Excitations, TDDFTSettings
        >>> ref = Excitations(energies_ev=np.array([3.1, 3.5, 3.8]), osc_strengths=np.array([0.1, 0.0, 0.05]),
        ...                   e_tot_hartree=-100.0, td_converged=np.ones(3, bool), scf_strategy="diis",
        ...                   settings=TDDFTSettings(n_states=3), backend="cpu", wall_time_s=0.0)
        >>> paper = spectra.broaden([400.0], [0.1], spectra.wavelength_grid("absorption"))
        >>> target = Target.from_reference(ref, paper, "absorption", name="toy")
        >>> round(target.peak_nm, 1), round(target.window.cover_nm, 1)
        (400.0, 337.7)
        """
        window = target_window(paper_target, kind)
        if not window.covered_by(reference):
            raise ValueError(f"the reference of {name or kind} has {reference.energies_ev.size} states, reaching "
                             f"{reference.wavelengths_nm.min():.1f} nm; the window needs {window.cover_nm:.1f} nm")  # fmt: skip
        lam = reference.wavelengths_nm + shift_nm
        f = reference.osc_strengths
        if kind == "emission":
            lam, f = lam[:1], f[:1]
        spectrum = spectra.broaden(lam, f, spectra.wavelength_grid(kind))
        return cls(kind, spectrum, window, float(reference.e_tot_hartree), name)


@dataclass
class Verdict:
    """TD-DFT's judgement of one structure against a :class:`Target`.

    Attributes
    ----------
    status : {"valid", "unconverged", "uncovered"}
        Only ``"valid"`` results are scored (the numbers below are NaN otherwise, energies and
        distances aside).
    n_states : int
        States the TD-DFT solved for.
    peak_nm : float
        Central peak on the window (NaN: none inside it).
    peak_error_nm : float
        ``peak_nm`` minus the target's.
    loss : float
        The authors' loss (``10·mean((ε/s − ε_target/s)²)``, ``s`` 1000 for absorption, 100 for
        emission) over the window's bins.
    similarity : float
        Cosine similarity with the target on the window.
    success : bool
        Valid and ``loss`` below the threshold.
    energy_above_reference_ev : float
        DFT total energy minus the reference structure's, eV.
    min_distance_angstrom : float
        Shortest interatomic distance, Å.
    tda : bool
        The excitations are Tamm–Dancoff's: full TDDFT had no real solution at this geometry (its
        ground state was a saddle point; :func:`qdlib.qchem.excitations`). Judged all the same,
        and counted apart.
    intensity_ratio : float
        Integrated absorptivity on the window, design over target (:func:`intensity_ratio`).
    """

    status: Status
    n_states: int
    peak_nm: float
    peak_error_nm: float
    loss: float
    similarity: float
    success: bool
    energy_above_reference_ev: float
    min_distance_angstrom: float
    tda: bool = False
    intensity_ratio: float = float("nan")

    @property
    def valid(self) -> bool:
        return self.status == "valid"


def judge(atoms: Atoms, result: Excitations, target: Target, threshold: float = 0.122) -> Verdict:
    """TD-DFT's verdict on ``atoms`` (excitations ``result``) against ``target``.

    Parameters
    ----------
    atoms : ase.Atoms
        The structure (for its shortest distance).
    result : Excitations
        Its TD-DFT.
    target : Target
    threshold : float
        Success below this authors' loss (the paper: 0.122).

    Returns
    -------
    Verdict
        ``"unconverged"`` if any state (or the ground state) did not converge, ``"uncovered"`` if
        its states do not reach the window's :attr:`~Window.cover_nm`; scored only otherwise.

    Examples
    --------
    A target from three hand-made states (see :meth:`Target.from_reference`), then designs whose
    first state lies 1 meV and 10 meV below the target's, 0.01 Eh (0.27 eV) above its energy:

    >>> import numpy as np
    >>> from ase import Atoms
    >>> from qdlib import spectra
    >>> from qdlib.qchem import Excitations, TDDFTSettings
    >>> def states(ev, e_hartree=-100.0):
    ...     n = len(ev)
    ...     return Excitations(energies_ev=np.array(ev), osc_strengths=np.array([0.1, 0.0, 0.05][:n]),
    ...                        e_tot_hartree=e_hartree, td_converged=np.ones(n, bool), scf_strategy="diis",
    ...                        settings=TDDFTSettings(n_states=n), backend="cpu", wall_time_s=0.0)
    >>> paper = spectra.broaden([400.0], [0.1], spectra.wavelength_grid("absorption"))
    >>> target = Target.from_reference(states([3.1, 3.5, 3.8]), paper, "absorption")
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
    >>> v = judge(dimer, states([3.099, 3.5, 3.8], -99.99), target)
    >>> v.status, v.success, round(v.loss, 4), round(v.peak_error_nm, 2), round(v.energy_above_reference_ev, 3)
    ('valid', True, 0.0058, 0.13, 0.272)
    >>> v = judge(dimer, states([3.09, 3.5, 3.8]), target)
    >>> v.success, round(v.loss, 4), round(v.similarity, 4)
    (False, 0.5804, 0.9965)
    >>> judge(dimer, states([3.09, 3.5]), target).status  # its highest state, 354 nm, stops short of 337.7 nm
    'uncovered'
    """
    from .spectra import LOSS_SCALE

    energy = (result.e_tot_hartree - target.e_reference_hartree) * HARTREE_EV
    shortest = shortest_distance(atoms)
    n = int(result.energies_ev.size)
    status: Status = "unconverged" if not result.converged else ("valid" if target.window.covered_by(result) else "uncovered")
    if status != "valid":
        nan = float("nan")
        return Verdict(status, n, nan, nan, nan, nan, False, energy, shortest, result.settings.tda)
    y = result.spectrum(target.kind)
    m = target.window.mask()
    loss = spectra.authors_loss(y[m], target.spectrum[m], LOSS_SCALE[target.kind])
    peak = window_peak(y, target.window)
    return Verdict(status, n, peak, peak - target.peak_nm, float(loss), cosine_similarity(y, target.spectrum, target.window),
                   bool(loss < threshold), energy, shortest, result.settings.tda,
                   intensity_ratio(y, target.spectrum, target.window))  # fmt: skip

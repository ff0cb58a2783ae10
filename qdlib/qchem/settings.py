"""What a calculation computes, what it gives back, and the key that names it.

:class:`TDDFTSettings` holds everything that changes the answer (the paper's settings by default);
with the geometry it makes :func:`result_key`, the name of a calculation in the results store
(:mod:`qdlib.store`) and of its restart files (:mod:`qdlib.qchem.restart`). :class:`EngineOptions`
says how to run it and never changes the answer. :class:`Excitations` is the result.

>>> settings = TDDFTSettings()
>>> settings.xc, settings.basis, settings.n_states
('camb3lyp', 'lanl2dz', 6)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from ase import Atoms
from numpy.typing import ArrayLike, NDArray

from .. import spectra
from .backends import Backend, _to_numpy

__all__ = [
    "HARTREE_EV",
    "KEY_DECIMALS",
    "TDDFTSettings",
    "EngineOptions",
    "Excitations",
    "dominant_transitions",
    "format_transition",
    "result_key",
]

#: One hartree in electronvolts (CODATA 2018).
HARTREE_EV = 27.211386245988
#: Coordinates are rounded to this many decimals (Å) before hashing (:func:`result_key`).
KEY_DECIMALS = 5


@dataclass(frozen=True)
class TDDFTSettings:
    """Everything that changes the computed spectrum; defaults are the paper's.

    Two calculations with equal settings and equal geometry give the same
    answer, so these fields (and only these) key the results store
    (:func:`result_key`). Units are given field by field below.

    Examples
    --------
    >>> cheap = TDDFTSettings(n_states=2, grid_level=0)
    >>> cheap.xc, cheap.n_states, cheap.tda
    ('camb3lyp', 2, False)
    >>> dataclasses.replace(cheap, tda=True) == TDDFTSettings(n_states=2, grid_level=0, tda=True)
    True
    """

    xc: str = "camb3lyp"
    """Exchange-correlation functional (libxc name); the paper: CAM-B3LYP."""
    basis: str = "lanl2dz"
    """Orbital basis; the paper: LanL2DZ."""
    ecp: str = "lanl2dz"
    """Effective core potential on Cd, Se, Te; the paper: LanL2DZ."""
    charge: int = 0
    """Total charge, e."""
    spin: int = 0
    """2S (number of unpaired electrons); 0 is a singlet ground state."""
    n_states: int = 6
    """Singlet excited states solved for (Gaussian ``td(nstates=6)``)."""
    tda: bool = False
    """Tamm–Dancoff approximation instead of full TDDFT (RPA). An approximation."""
    grid_level: int = 3
    """PySCF DFT grid level of the SCF (3: ~20k points per heavy atom)."""
    response_grid_level: int | None = 0
    """Grid level of the TDDFT response (exchange-correlation kernel) integration; ``None``
    uses ``grid_level``. The kernel is a small correction to the response and needs a far
    coarser grid than the ground state: level 0 (a third of level 1's points) changes the
    excitation energies by at most 0.013 meV (Cd4Se4) and 0.007 meV (Cd6Se6, against plain
    PySCF on the level-3 grid; ``benchmarks/tddft_speed.py``)."""
    density_fit: bool = False
    """Density fitting of the Coulomb and exchange integrals. An approximation."""
    auxbasis: str | None = None
    """Auxiliary basis for density fitting; ``None`` lets PySCF choose."""
    scf_conv_tol: float = 1e-9
    """SCF energy convergence threshold, Hartree."""
    td_conv_tol: float = 1e-5
    """Davidson residual threshold of the excitation energies, Hartree."""

    def key_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (stable order) for hashing and storage.

        >>> TDDFTSettings().key_dict()["basis"]
        'lanl2dz'
        """
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class EngineOptions:
    """How to run a calculation: these change the speed, never the answer.

    They do not enter :func:`result_key`. Units are given field by field below.

    Examples
    --------
    >>> options = EngineOptions(backend="cpu", threads=2)
    >>> options.max_memory_mb, options.incore_eri
    (8000, True)
    """

    backend: Backend = "auto"
    """``"auto"`` (GPU when gpu4pyscf and a CUDA device are present), ``"cpu"`` or ``"gpu"``."""
    threads: int | None = None
    """OpenMP threads for PySCF; ``None`` keeps PySCF's default (all cores)."""
    max_memory_mb: int = 8000
    """Memory PySCF may use, MB."""
    incore_eri: bool = True
    """Keep full- and long-range two-electron integrals in memory when they fit."""
    mo_space_jk: bool = True
    """In the response, contract MO-basis (ia|jb) and (ij|ab) integrals when they fit."""
    mo_space_disk: bool = True
    """When the AO integrals do not fit in memory, compute the MO-basis integrals of the response
    once into PySCF's scratch directory (``PYSCF_TMPDIR``) and stream them every iteration,
    instead of recomputing all AO integrals every iteration."""
    mo_space_xc: bool = True
    """In the response, contract the XC kernel with orbitals tabulated on the grid when they fit."""
    ao_cache_mb: int = 4000
    """Memory for caching AO values on the grid, MB (0 disables)."""
    scf_max_cycle: int = 100
    """SCF iterations per strategy before the next strategy is tried."""
    verbose: int = 0
    """PySCF verbosity (0 silent, 4 detailed)."""
    warm_start: str | None = None
    """A warm-start point (:mod:`qdlib.qchem.warmstart`): a nearby geometry's converged ground state and
    excitations (e.g. the reference dot's), from which the SCF and TDDFT solvers start instead of
    their default guesses. The answer is the same to the solvers' thresholds; a request that
    solves for states until a wavelength is covered starts with as many states as the point holds,
    so it may end with more states than a cold start (the states both have agree)."""
    checkpoint_dir: str | None = None
    """Directory for restart points, one pair per geometry and settings, removed when the
    excitations are done: the SCF checkpoint (PySCF chkfile, ``<key>.chk``, written every SCF
    cycle) and the TDDFT solver's vectors (``<key>.td.npz``, written every Davidson iteration,
    :class:`~qdlib.qchem.ResponseCheckpoint`). An interrupted calculation restarts from its last orbitals
    and its last response vectors. Geometry optimisations keep their latest geometry there
    too (:class:`~qdlib.qchem.OptimizationCheckpoint`). ``None``: none."""


@dataclass
class Excitations:
    """Singlet excitations of one geometry and what produced them.

    Attributes
    ----------
    energies_ev : ndarray, shape (n_states,)
        Excitation energies, eV, ascending.
    osc_strengths : ndarray, shape (n_states,)
        Oscillator strengths (length gauge).
    e_tot_hartree : float
        Ground-state total energy, Hartree.
    td_converged : ndarray of bool, shape (n_states,)
        Davidson convergence per state.
    scf_strategy : str
        Which SCF strategy converged (``"diis"``, ``"level_shift"``, ``"newton"``).
    settings : TDDFTSettings
    backend : str
        ``"cpu"`` (PySCF) or ``"gpu"`` (gpu4pyscf).
    wall_time_s : float
        Wall time of SCF plus TDDFT, s.
    versions : dict
        Versions of the packages that computed it.
    transitions : list of list of (int, int, float)
        Per state, the orbital pairs that make it up, strongest first: ``(h, l, w)`` is the
        excitation from HOMO−h to LUMO+l with weight ``w`` (its share of the response vector,
        ``2(X² − Y²)`` for singlets); see :func:`dominant_transitions`. Empty for results
        stored before this field existed.
    start : str
        Where the solvers started: ``"warm:<file>"``, a nearby geometry's solution (the warm-start
        point's file name, :mod:`~qdlib.qchem.warmstart`; the answer is the same to the solvers'
        thresholds, ``benchmarks/warm_start.py``), or ``"default"``, PySCF's own guesses. Empty for
        results stored before this field existed.

    Examples
    --------
    Computed by :func:`~qdlib.qchem.excitations`; made by hand here:

    >>> exc = Excitations(energies_ev=np.array([2.5, 3.0]), osc_strengths=np.array([0.12, 0.0]),
    ...                   e_tot_hartree=-100.0, td_converged=np.array([True, True]), scf_strategy="diis",
    ...                   settings=TDDFTSettings(n_states=2), backend="cpu", wall_time_s=1.0,
    ...                   transitions=[[(0, 0, 0.95)], [(1, 0, 0.7), (0, 1, 0.25)]])
    >>> print(exc.table())
    state   E (eV)   λ (nm)        f  transitions
        1   2.5000    495.9   0.1200  H→L (95%)
        2   3.0000    413.3   0.0000  H-1→L (70%), H→L+1 (25%)
    >>> exc.converged, exc.covers(450.0), exc.covers(400.0)  # the highest state, 413 nm, reaches 450 nm, not 400
    (True, True, False)
    >>> Excitations.from_dict(exc.to_dict()).transitions == exc.transitions
    True
    """

    energies_ev: NDArray[np.float64]
    osc_strengths: NDArray[np.float64]
    e_tot_hartree: float
    td_converged: NDArray[np.bool_]
    scf_strategy: str
    settings: TDDFTSettings
    backend: str
    wall_time_s: float
    versions: dict[str, str] = field(default_factory=dict)
    transitions: list[list[tuple[int, int, float]]] = field(default_factory=list)
    start: str = ""

    @classmethod
    def from_sticks(cls, energies_ev: ArrayLike, osc_strengths: ArrayLike, e_tot_hartree: float = float("nan"),
                    settings: TDDFTSettings | None = None) -> Excitations:  # fmt: skip
        """Excitations given as sticks (e.g. read from another program's output, or made for an example):
        every state converged, ``backend`` ``"given"``, no wall time.

        >>> exc = Excitations.from_sticks([2.5, 3.1], [0.02, 0.1], e_tot_hartree=-100.0)
        >>> exc.wavelengths_nm.round(1), exc.settings.n_states, exc.backend
        (array([495.9, 399.9]), 2, 'given')
        """
        e = np.asarray(energies_ev, dtype=float)
        settings = settings or TDDFTSettings(n_states=int(e.size))
        return cls(e, np.asarray(osc_strengths, dtype=float), float(e_tot_hartree), np.ones(e.size, bool), "given",
                   settings, "given", 0.0)  # fmt: skip

    @property
    def wavelengths_nm(self) -> NDArray[np.float64]:
        """Excitation wavelengths, nm (``spectra.HC_EV_NM / energies_ev``)."""
        return spectra.ev_to_nm(self.energies_ev)

    def covers(self, wavelength_nm: float) -> bool:
        """Whether the highest state solved for lies at or below ``wavelength_nm`` (nm).

        The broadened spectrum is then complete from a few broadening widths to the red of
        ``wavelength_nm`` onwards. No states cover nothing.
        """
        return bool(self.energies_ev.size) and float(np.max(self.energies_ev)) >= float(spectra.nm_to_ev(wavelength_nm))

    @property
    def converged(self) -> bool:
        """SCF converged (always, or it would have raised) and every state converged."""
        return bool(np.all(self.td_converged))

    def spectrum(self, kind: Literal["absorption", "emission"] = "absorption", grid_nm=None) -> NDArray[np.float64]:
        """Broadened spectrum on the paper grid (or ``grid_nm``), L mol⁻¹ cm⁻¹.

        Parameters
        ----------
        kind : {"absorption", "emission"}
            ``"absorption"`` broadens every state; ``"emission"`` broadens the
            S1→S0 transition alone (Kasha's rule), at this geometry.
        grid_nm : array_like, optional
            Wavelengths, nm; default the paper's grid of ``kind`` (:func:`qdlib.spectra.wavelength_grid`).

        Returns
        -------
        ndarray, shape (n_grid,)
            Molar absorption coefficient, L mol⁻¹ cm⁻¹ (Gaussian broadening, :func:`qdlib.spectra.broaden`).
        """
        grid = spectra.wavelength_grid(kind) if grid_nm is None else np.asarray(grid_nm, dtype=float)
        if kind == "emission":
            return spectra.broaden(self.wavelengths_nm[:1], self.osc_strengths[:1], grid)
        return spectra.broaden(self.wavelengths_nm, self.osc_strengths, grid)

    def transition_labels(self) -> list[str]:
        """Per state, its orbital pairs as text (``"H→L (92%), H-1→L (5%)"``); ``""`` where not recorded."""
        if not self.transitions:
            return [""] * len(self.energies_ev)
        return [", ".join(format_transition(*pair) for pair in state) for state in self.transitions]

    def table(self) -> str:
        """The excitations as a text table (state, eV, nm, f, and the orbital transitions when known)."""
        lines = [f"{'state':>5} {'E (eV)':>8} {'λ (nm)':>8} {'f':>8}" + ("  transitions" if self.transitions else "")]
        rows = zip(self.energies_ev, self.wavelengths_nm, self.osc_strengths, self.transition_labels())
        for k, (e, lam, f, pairs) in enumerate(rows, 1):
            lines.append(f"{k:>5} {e:8.4f} {lam:8.1f} {f:8.4f}  {pairs}".rstrip())
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (arrays as lists) for storage."""
        return {
            "energies_ev": np.asarray(self.energies_ev).tolist(),
            "osc_strengths": np.asarray(self.osc_strengths).tolist(),
            "e_tot_hartree": float(self.e_tot_hartree),
            "td_converged": np.asarray(self.td_converged).tolist(),
            "scf_strategy": self.scf_strategy,
            "settings": self.settings.key_dict(),
            "backend": self.backend,
            "wall_time_s": float(self.wall_time_s),
            "versions": dict(self.versions),
            "transitions": [[[int(h), int(l), float(w)] for h, l, w in state] for state in self.transitions],
            "start": self.start,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Excitations:
        """Inverse of :meth:`to_dict`."""
        return cls(
            energies_ev=np.asarray(d["energies_ev"], dtype=float),
            osc_strengths=np.asarray(d["osc_strengths"], dtype=float),
            e_tot_hartree=float(d["e_tot_hartree"]),
            td_converged=np.asarray(d["td_converged"], dtype=bool),
            scf_strategy=str(d["scf_strategy"]),
            settings=TDDFTSettings(**d["settings"]),
            backend=str(d["backend"]),
            wall_time_s=float(d["wall_time_s"]),
            versions=dict(d.get("versions", {})),
            transitions=[[(int(h), int(l), float(w)) for h, l, w in state] for state in d.get("transitions", [])],
            start=str(d.get("start", "")),
        )


def dominant_transitions(xy, n_occ: int, min_weight: float = 0.1, top: int = 3) -> list[list[tuple[int, int, float]]]:
    """The occupied→virtual orbital pairs that make up each excited state.

    Parameters
    ----------
    xy : sequence of (X, Y)
        Response vectors per state as PySCF's ``td.xy`` (restricted singlets): ``X`` and ``Y`` of
        shape ``(n_occ, n_vir)``, normalised so that ``Σ(X² − Y²) = ½``; ``Y`` is 0 for Tamm–Dancoff.
    n_occ : int
        Occupied orbitals (HOMO is orbital ``n_occ − 1``).
    min_weight : float
        Pairs below this weight are left out (the strongest pair is always kept).
    top : int
        At most this many pairs per state.

    Returns
    -------
    list of list of (h, l, w)
        Per state, strongest first: from HOMO−h to LUMO+l with weight ``w = 2(X² − Y²)``
        (the weights of a state sum to 1).

    Raises
    ------
    ValueError
        If the vectors do not have ``n_occ`` occupied rows.

    Examples
    --------
    One state of three occupied and two virtual orbitals, 90 % HOMO→LUMO:

    >>> x = np.zeros((3, 2))
    >>> x[2, 0], x[1, 1] = np.sqrt(0.45), np.sqrt(0.05)
    >>> dominant_transitions([(x, 0)], n_occ=3, min_weight=0.05)
    [[(0, 0, 0.9), (1, 1, 0.1)]]
    """
    out = []
    for x, y in xy:
        x, y = (np.asarray(_to_numpy(v), dtype=float) for v in (x, y))
        w = 2.0 * (x**2 - y**2)  # a Tamm-Dancoff Y of 0 broadcasts
        if w.shape[0] != n_occ:
            raise ValueError(f"response vector has {w.shape[0]} occupied rows, expected {n_occ}")
        order = np.argsort(w, axis=None)[::-1][:top]
        pairs = []
        for rank, flat in enumerate(order):
            i, a = np.unravel_index(flat, w.shape)
            if rank and w[i, a] < min_weight:
                break
            pairs.append((int(n_occ - 1 - i), int(a), round(float(w[i, a]), 4)))
        out.append(pairs)
    return out


def format_transition(h: int, l: int, w: float | None = None) -> str:  # noqa: E741 (LUMO offset)
    """A pair of :func:`dominant_transitions` as text.

    Parameters
    ----------
    h, l : int
        From HOMO−h to LUMO+l.
    w : float, optional
        Weight (a fraction of 1), shown as a percentage.

    Examples
    --------
    >>> format_transition(1, 2, 0.87), format_transition(0, 0)
    ('H-1→L+2 (87%)', 'H→L')
    """
    label = ("H" if h == 0 else f"H-{h}") + "→" + ("L" if l == 0 else f"L+{l}")
    return label if w is None else f"{label} ({w:.0%})"


def result_key(atoms: Atoms, settings: TDDFTSettings) -> str:
    """The name of a calculation: SHA-256 (hex, 24 characters) of the geometry and the settings.

    The geometry enters as atomic numbers and coordinates rounded to
    10⁻⁵ Å (:data:`KEY_DECIMALS`), in the given atom order; the settings as their sorted
    fields. Options that change only speed (:class:`EngineOptions`) do not enter. Results are
    stored under it (:mod:`qdlib.store`) and restart files named by it (:mod:`qdlib.qchem.restart`).

    Parameters
    ----------
    atoms : ase.Atoms
        The geometry, Å.
    settings : TDDFTSettings

    Returns
    -------
    str

    Examples
    --------
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.55]])
    >>> result_key(dimer, TDDFTSettings())
    'fd2bfe00c3dc2fc4d4cb09fe'
    >>> moved = dimer.copy()
    >>> moved.positions[1, 2] += 1e-7  # Å, below the rounding
    >>> result_key(moved, TDDFTSettings()) == result_key(dimer, TDDFTSettings())
    True
    >>> result_key(dimer, TDDFTSettings(tda=True)) == result_key(dimer, TDDFTSettings())
    False
    """
    pos = np.round(np.asarray(atoms.positions, dtype=float), KEY_DECIMALS) + 0.0  # no -0.0
    payload = {
        "numbers": [int(z) for z in atoms.numbers],
        "positions": [f"{x:.{KEY_DECIMALS}f}" for x in pos.ravel()],
        "settings": settings.key_dict(),
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:24]

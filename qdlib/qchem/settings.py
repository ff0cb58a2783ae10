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
from numpy.typing import NDArray

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
    answer, so these fields (and only these) key the results store.
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
        """The settings as a plain dict (stable order) for hashing and storage."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class EngineOptions:
    """How to run a calculation: these change the speed, never the answer."""

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
    checkpoint_dir: str | None = None
    """Directory for restart points, one pair per geometry and settings, removed when the
    excitations are done: the SCF checkpoint (PySCF chkfile, ``<key>.chk``, written every SCF
    cycle) and the TDDFT solver's vectors (``<key>.td.npz``, written every Davidson iteration,
    :class:`ResponseCheckpoint`). An interrupted calculation restarts from its last orbitals
    and its last response vectors. Geometry optimisations keep their latest geometry there
    too (:class:`OptimizationCheckpoint`). ``None``: none."""


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

    @property
    def wavelengths_nm(self) -> NDArray[np.float64]:
        """Excitation wavelengths, nm."""
        return spectra.ev_to_nm(self.energies_ev)

    def covers(self, wavelength_nm: float) -> bool:
        """Whether the highest state solved for lies at or below ``wavelength_nm``: the broadened
        spectrum is then complete from a few broadening widths to the red of it onwards."""
        return bool(self.energies_ev.size) and float(np.max(self.energies_ev)) >= float(spectra.nm_to_ev(wavelength_nm))

    @property
    def converged(self) -> bool:
        """SCF converged (always, or it would have raised) and every state converged."""
        return bool(np.all(self.td_converged))

    def spectrum(self, kind: Literal["absorption", "emission"] = "absorption", grid_nm=None) -> NDArray[np.float64]:
        """Broadened spectrum on the paper grid (or ``grid_nm``), L mol⁻¹ cm⁻¹.

        ``"absorption"`` broadens every state; ``"emission"`` broadens the
        S1→S0 transition alone (Kasha's rule), at this geometry.
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
    """``"H-1→L+2 (87%)"``: a pair of :func:`dominant_transitions` as text."""
    label = ("H" if h == 0 else f"H-{h}") + "→" + ("L" if l == 0 else f"L+{l}")
    return label if w is None else f"{label} ({w:.0%})"


def result_key(atoms: Atoms, settings: TDDFTSettings) -> str:
    """SHA-256 (hex, 24 characters) of the geometry and the settings.

    The geometry enters as atomic numbers and coordinates rounded to
    10⁻⁵ Å, in the given atom order; the settings as their sorted fields.
    Options that change only speed (backend, threads) do not enter.
    """
    pos = np.round(np.asarray(atoms.positions, dtype=float), KEY_DECIMALS) + 0.0  # no -0.0
    payload = {
        "numbers": [int(z) for z in atoms.numbers],
        "positions": [f"{x:.{KEY_DECIMALS}f}" for x in pos.ravel()],
        "settings": settings.key_dict(),
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:24]

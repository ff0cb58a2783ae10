"""TD-DFT excitations of quantum dots with PySCF (CPU) or gpu4pyscf (GPU).

The defaults are the paper's: CAM-B3LYP, LanL2DZ basis and ECP on Cd/Se/Te,
neutral singlet, 6 singlet excited states, full linear response (RPA, as
Gaussian's ``td``). Absorption is computed at the given geometry; emission
follows Kasha's rule from the relaxed first excited state, or vertically at
a fixed geometry (the design verification: the designed geometry is the
emitting one).

Speed on a CPU without changing the answer (see ``benchmarks/tddft_speed.py``):

* the full-range **and** the long-range (erf-attenuated) two-electron
  integrals are kept in memory when they fit, so each SCF cycle and each
  Davidson iteration contracts stored integrals instead of recomputing them
  (PySCF keeps only the full-range ones and recomputes the long-range
  exchange of CAM-B3LYP from scratch every time);
* atomic-orbital values on the DFT grid are cached in memory (within a
  budget) so the exchange-correlation potential and kernel are not
  re-evaluated from scratch in every iteration;
* relaxations solve every step with this engine (:func:`state_gradient`)
  instead of PySCF's gradient scanners, which leave all of the above out
  (an S1 step of Cd4Se4 10× faster, ``benchmarks/relax_speed.py``).

Approximations that do change the answer are options whose error is
measured: the Tamm–Dancoff approximation (``tda``), density fitting
(``density_fit``), smaller grids (``grid_level``, ``response_grid_level``).

>>> from qdlib import datasets, qchem                       # doctest: +SKIP
>>> exc = qchem.excitations(datasets.fetch_benchmark_dot("Cd6Se6"))  # doctest: +SKIP
>>> exc.wavelengths_nm.round(1)                              # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import logging
import os
import platform
import shutil
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from ase import Atoms
from numpy.typing import ArrayLike, NDArray

from . import spectra
from .structures import validate

__all__ = [
    "TDDFTSettings",
    "EngineOptions",
    "Excitations",
    "SCFConvergenceError",
    "BackendUnavailableError",
    "select_backend",
    "gpu_available",
    "build_mol",
    "run_scf",
    "run_tddft",
    "state_gradient",
    "ResponseCheckpoint",
    "OptimizationCheckpoint",
    "follow_internal_instability",
    "dominant_transitions",
    "format_transition",
    "excitations",
    "next_state_count",
    "optimize_ground_state",
    "optimize_excited_state",
    "emission",
]

log = logging.getLogger(__name__)

HARTREE_EV = 27.211386245988
Backend = Literal["auto", "cpu", "gpu"]


class SCFConvergenceError(RuntimeError):
    """The ground-state SCF did not converge with any of the retry strategies."""


class BackendUnavailableError(RuntimeError):
    """The requested backend cannot run on this machine."""


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


# --------------------------------------------------------------------------- backends


def gpu_available() -> bool:
    """Whether gpu4pyscf imports and CuPy sees at least one CUDA device."""
    try:
        importlib.import_module("gpu4pyscf")
        cupy = importlib.import_module("cupy")
        return int(cupy.cuda.runtime.getDeviceCount()) > 0
    except Exception:  # ImportError, CUDA driver errors, ...
        return False


def select_backend(requested: Backend = "auto") -> Literal["cpu", "gpu"]:
    """Resolve ``"auto"``/``"cpu"``/``"gpu"`` to the backend that will run.

    Raises
    ------
    BackendUnavailableError
        If ``"gpu"`` is requested and gpu4pyscf or a CUDA device is missing.
    ValueError
        For an unknown name.
    """
    if requested not in ("auto", "cpu", "gpu"):
        raise ValueError(f"backend must be 'auto', 'cpu' or 'gpu', got {requested!r}")
    if requested == "cpu":
        return "cpu"
    has_gpu = gpu_available()
    if requested == "gpu" and not has_gpu:
        raise BackendUnavailableError(
            "backend 'gpu' needs gpu4pyscf and a CUDA device: install the extra (pip install -e '.[gpu]') "
            "on a machine with an NVIDIA GPU, or use backend='cpu'"
        )
    return "gpu" if has_gpu else "cpu"


def versions(backend: str) -> dict[str, str]:
    """Versions of the packages behind a calculation."""
    import pyscf

    out = {"pyscf": pyscf.__version__, "numpy": np.__version__, "python": platform.python_version()}
    try:
        import qdlib

        out["qdlib"] = qdlib.__version__
    except ImportError:  # pragma: no cover
        pass
    if backend == "gpu":
        out["gpu4pyscf"] = importlib.import_module("gpu4pyscf").__version__
    return out


# --------------------------------------------------------------------------- building blocks


def build_mol(atoms: Atoms, settings: TDDFTSettings = TDDFTSettings(), verbose: int = 0):
    """A PySCF ``Mole`` of a validated structure (Å), basis and ECP from ``settings``.

    Raises
    ------
    qdlib.structures.StructureError
        Before any integral is computed, if the structure is invalid.
    """
    from pyscf import gto

    validate(atoms)
    mol = gto.Mole()
    mol.atom = [(s, tuple(p)) for s, p in zip(atoms.get_chemical_symbols(), atoms.positions.tolist())]
    mol.unit = "Angstrom"
    mol.basis = settings.basis
    mol.ecp = settings.ecp
    mol.charge = settings.charge
    mol.spin = settings.spin
    mol.verbose = verbose
    mol.build()
    return mol


class _CachedNumInt:
    """Mixin for PySCF ``NumInt``: keep the AO values of the latest grid loop in memory, within a budget (MB).

    One entry only: moving to another grid (the response grid after the SCF)
    drops the previous grid's values instead of holding both.
    """

    ao_cache_mb = 0.0

    def block_loop(self, mol, grids, nao=None, deriv=0, max_memory=2000, non0tab=None, blksize=None, buf=None):
        key = (id(mol), id(grids), None if grids.coords is None else grids.coords.shape, deriv, nao)
        cached = self.__dict__.get("_ao_cache")
        if cached is not None and cached[0] == key:
            yield from cached[1]
            return
        self.__dict__["_ao_cache"] = None
        blocks, used, complete = [], 0.0, True
        for ao, mask, weight, coords in super().block_loop(mol, grids, nao, deriv, max_memory, non0tab, blksize, buf):
            if complete and used + ao.nbytes / 1e6 <= self.ao_cache_mb:
                ao = np.array(ao, copy=True)
                used += ao.nbytes / 1e6
                blocks.append((ao, mask, weight, coords))
            else:
                complete = False
            yield ao, mask, weight, coords
        if complete and blocks:
            self.__dict__["_ao_cache"] = (key, blocks)


def _eri_mb(nao: int) -> float:
    """Memory of one 8-fold-symmetric ERI array, MB."""
    return nao**4 / 8 * 8 / 1e6


class _LongRangeIncore:
    """Mixin for PySCF SCF classes: contract stored long-range integrals for ``get_jk(omega=...)``.

    PySCF keeps the full-range integrals in memory when they fit but
    recomputes the erf-attenuated ones of a range-separated functional from
    scratch at every call. A method, not an instance attribute: a closure
    stored on the object would tie it into a reference cycle, keeping its
    integrals alive until Python's next full collection.
    """

    def get_jk(self, mol=None, dm=None, hermi=1, with_j=True, with_k=True, omega=None):
        if not omega:
            return super().get_jk(mol, dm, hermi, with_j, with_k, omega)
        from pyscf.scf import hf

        store = self._qdlib_eri_lr
        if omega not in store:
            with self.mol.with_range_coulomb(omega):
                store[omega] = self.mol.intor("int2e", aosym="s8")
        if dm is None:
            dm = self.make_rdm1()
        return hf.dot_eri_dm(store[omega], dm, hermi, with_j, with_k)


def _incore_long_range(mf, max_memory_mb: float) -> None:
    """Make ``mf`` keep its long-range integrals in memory when they fit (:class:`_LongRangeIncore`)."""
    from pyscf import lib

    if 2 * _eri_mb(mf.mol.nao_nr()) > max_memory_mb:
        log.info("long-range ERIs do not fit in %s MB: direct algorithm", max_memory_mb)
        return
    mf._qdlib_eri_lr = {}
    lib.set_class(mf, (_LongRangeIncore, type(mf)))


class _OVBasis:
    """Occupied–virtual blocks of linear-response densities and potentials.

    Inside linear response every density is ``C_o X C_v^T + C_v Y C_o^T``,
    and only the occupied–virtual blocks of the potentials it produces are
    used (the response vectors live in that space). This class maps AO
    densities to those blocks and blocks back to AO matrices.
    """

    def __init__(self, mf):
        c, occ = _to_numpy(mf.mo_coeff), _to_numpy(mf.mo_occ)
        self.co, self.cv = c[:, occ > 0], c[:, occ == 0]
        self.sc = _to_numpy(mf.get_ovlp()) @ c  # C^T S (C M C^T) S C = M
        self.nocc, self.nvir = self.co.shape[1], self.cv.shape[1]

    def blocks(self, dm):
        """(D_ov, D_vo) of AO densities, each ``(n, nocc*nvir)``, or ``None`` if they have oo/vv parts."""
        dm = np.asarray(dm)
        mo = self.sc.T @ dm.reshape(-1, *dm.shape[-2:]) @ self.sc
        no = self.nocc
        d_ov, d_vo = mo[:, :no, no:], mo[:, no:, :no].transpose(0, 2, 1)
        rest = np.abs(mo[:, :no, :no]).max() + np.abs(mo[:, no:, no:]).max()
        if rest > 1e-10 * max(1.0, np.abs(mo).max()):
            return None
        return d_ov.reshape(len(mo), -1), d_vo.reshape(len(mo), -1)

    def to_ao(self, v_ov, v_vo, shape):
        """AO matrices whose MO representation has the given ov and vo blocks (zero oo, vv)."""
        no, nv = self.nocc, self.nvir
        n = len(v_ov)
        v = np.zeros((n, no + nv, no + nv))
        v[:, :no, no:] = v_ov.reshape(n, no, nv)
        v[:, no:, :no] = v_vo.reshape(n, no, nv).transpose(0, 2, 1)
        return (self.sc @ v @ self.sc.T).reshape(shape)


class _MOSpaceJK:
    """J and K of occupied–virtual transition densities from stored MO-basis integrals.

    Their ov/vo blocks follow from two MO-integral tensors, ``(ia|jb)`` and
    ``(ij|ab)``, by matrix products (one set per range of the Coulomb
    operator). Exact: a density with any occupied–occupied or
    virtual–virtual part goes to the original AO routine instead.
    """

    def __init__(self, basis: _OVBasis, eri_by_omega: dict):
        from pyscf import ao2mo

        self.basis = basis
        co, cv, no, nv = basis.co, basis.cv, basis.nocc, basis.nvir
        self.tensors = {}
        for omega, eri in eri_by_omega.items():
            ovov = ao2mo.incore.general(eri, (co, cv, co, cv), compact=False)
            oovv = ao2mo.incore.general(eri, (co, co, cv, cv), compact=False)
            ovov = ovov.reshape(no * nv, no * nv)
            # (ij|ab) as a matrix over (ia),(jb); and (ib|ja) likewise
            oovv = oovv.reshape(no, no, nv, nv).transpose(0, 2, 1, 3).reshape(no * nv, no * nv)
            ibja = ovov.reshape(no, nv, no, nv).transpose(0, 3, 2, 1).reshape(no * nv, no * nv)
            self.tensors[omega] = (ovov, np.ascontiguousarray(oovv), np.ascontiguousarray(ibja))
        self.omegas = list(self.tensors)

    def close(self) -> None:
        self.tensors.clear()

    def jk(self, omega, d_ov, d_vo, with_j, with_k, shape):
        ovov, oovv, ibja = self.tensors[omega]
        vj = vk = None
        if with_j:
            j = (d_ov + d_vo) @ ovov  # (ia|jb) symmetric in (ia)<->(jb)
            vj = self.basis.to_ao(j, j, shape)
        if with_k:
            k_ov = d_ov @ oovv.T + d_vo @ ibja.T
            k_vo = d_ov @ ibja + d_vo @ oovv
            vk = self.basis.to_ao(k_ov, k_vo, shape)
        return vj, vk


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _DiskMOSpaceJK:
    """:class:`_MOSpaceJK` for systems whose AO integrals do not fit in memory.

    Without stored AO integrals, every response iteration recomputes all
    two-electron integrals (PySCF's direct algorithm: 160 s for a single
    trial vector of the 390-function Cd15Se12Te3 on 2 cores). Here the MO-basis
    ``(ia|jb)`` and ``(ij|ab)`` are computed once per Coulomb range by
    PySCF's out-of-core transformation (:func:`pyscf.ao2mo.outcore.general`)
    into a scratch HDF5 file, and each iteration streams them from disk:
    ``(ia|jb)`` in blocks of occupied rows, which also give ``(ib|ja)``, and
    ``(ij|ab)`` with both pairs packed (real orbitals). Same integrals, same
    products, same numbers to rounding.
    """

    row_block_mb = 512  # integrals read per step

    def __init__(self, basis: _OVBasis, mol, omegas, max_memory_mb: float, scratch: str):
        import tempfile

        from pyscf import ao2mo

        self.basis = basis
        co, cv = basis.co, basis.cv
        self.remove_stale(scratch)
        fd, self.path = tempfile.mkstemp(suffix=".h5", prefix=f"{self.prefix}{platform.node()}_{os.getpid()}_", dir=scratch)
        os.close(fd)
        self.omegas = []
        try:
            for omega in omegas:
                t0 = time.perf_counter()
                with mol.with_range_coulomb(omega or 0.0):
                    ao2mo.outcore.general(mol, (co, cv, co, cv), self.path, dataname=f"ovov/{omega or 0.0}",
                                          max_memory=max_memory_mb, compact=False)  # fmt: skip
                    ao2mo.outcore.general(mol, (co, co, cv, cv), self.path, dataname=f"oovv/{omega or 0.0}",
                                          max_memory=max_memory_mb, compact=True)  # fmt: skip
                self.omegas.append(omega or None)
                log.info("MO-space integrals (omega=%s) on disk in %.0f s", omega or 0.0, time.perf_counter() - t0)
        except BaseException:
            self.close()
            raise

    prefix = "qdlib_mo_eri_"  # then host, process id, random part

    @classmethod
    def remove_stale(cls, scratch: str) -> list[str]:
        """Delete scratch files left by killed processes of this host; returns their paths."""
        import glob

        stale = []
        for path in glob.glob(os.path.join(scratch, f"{cls.prefix}{platform.node()}_*.h5")):
            pid = os.path.basename(path)[len(cls.prefix) + len(platform.node()) + 1 :].split("_")[0]
            if not pid.isdigit() or _process_alive(int(pid)):
                continue
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
                stale.append(path)
                log.info("removed %s, left by a stopped process", path)
        return stale

    @staticmethod
    def disk_mb(nocc: int, nvir: int, nao: int, n_omega: int) -> float:
        """Scratch disk needed: the stored tensors plus PySCF's half-transformed swap file, MB."""
        ov = nocc * nvir
        stored = ov * ov + nocc * (nocc + 1) // 2 * (nvir * (nvir + 1) // 2)
        return (n_omega * stored + ov * nao * (nao + 1) // 2) * 8 / 1e6

    def close(self) -> None:
        if os.path.exists(self.path):
            os.remove(self.path)

    def jk(self, omega, d_ov, d_vo, with_j, with_k, shape):
        import h5py
        from pyscf import lib

        no, nv = self.basis.nocc, self.basis.nvir
        n, key = len(d_ov), f"{omega or 0.0}"
        x, y = d_ov.reshape(n, no, nv), d_vo.reshape(n, no, nv)
        j = np.zeros((n, no * nv)) if with_j else None
        k_ov = np.zeros((n, no, nv)) if with_k else None
        k_vo = np.zeros((n, no, nv)) if with_k else None
        with h5py.File(self.path, "r") as f:
            ovov = f[f"ovov/{key}"]
            s = (x + y).reshape(n, -1)
            y_bj = y.transpose(0, 2, 1).reshape(n, nv * no)  # y[n, j, b] ordered as (b, j)
            x_ain = x.transpose(1, 2, 0)  # (i, a, n)
            step = max(1, int(self.row_block_mb * 1e6 / (8 * nv * no * nv)))
            for i0 in range(0, no, step):
                i1 = min(no, i0 + step)
                rows = ovov[i0 * nv : i1 * nv]  # (ia|jb) for i in [i0, i1)
                if with_j:
                    j[:, i0 * nv : i1 * nv] = s @ rows.T
                if with_k:  # (ib|ja) = r[i, (b, j), a]: matrix products on views, no copies of the block
                    r = rows.reshape(i1 - i0, nv * no, nv)
                    k_ov[:, i0:i1] += np.matmul(y_bj, r).transpose(1, 0, 2)
                    k_vo += np.matmul(r, x_ain[i0:i1]).sum(axis=0).reshape(nv, no, n).transpose(2, 1, 0)
            if with_k:  # (ij|ab), both pairs packed in PySCF's order: pairs (i, 0..i) follow each other
                oovv = f[f"oovv/{key}"]
                z = np.concatenate([x, y]).transpose(1, 0, 2)  # (no, 2n, nv)
                out = np.zeros_like(z)
                for i in range(no):
                    p0 = i * (i + 1) // 2
                    m = lib.unpack_tril(oovv[p0 : p0 + i + 1])  # (ij|ab) for j = 0..i, symmetric in a, b
                    out[i] += np.tensordot(z[: i + 1], m, axes=([0, 2], [0, 1]))  # sum over j, b
                    out[:i] += np.matmul(z[i], m[:i])  # (ji|ab) = (ij|ab)
                out = out.transpose(1, 0, 2)
                k_ov += out[:n]
                k_vo += out[n:]
        vj = None if j is None else self.basis.to_ao(j, j, shape)
        vk = None if k_ov is None else self.basis.to_ao(k_ov.reshape(n, -1), k_vo.reshape(n, -1), shape)
        return vj, vk


class _MOSpaceFxc:
    """The exchange-correlation kernel of the response, contracted in the occupied–virtual space.

    PySCF contracts the kernel in the AO basis, once per trial vector and
    grid block: ``rho1 = sum_uv D_uv phi_u phi_v`` and
    ``V_uv = sum_g w f phi_u phi_v`` (with gradients for GGAs), about
    ``n_ao**2`` work per grid point and vector. With the occupied and
    virtual orbitals tabulated on the grid once, the same two steps need
    only the ov block, ``n_occ * n_vir`` work, done for all trial vectors in
    one matrix product per grid chunk. Same grid, same kernel, same
    numbers to rounding.
    """

    chunk = 256  # grid points per step: keeps the per-point work in cache (measured fastest)

    def __init__(self, basis: _OVBasis, mf, grids, xctype: str):
        self.grids = grids
        deriv = 0 if xctype == "LDA" else 1
        ni, mol = mf._numint, mf.mol
        po, pv = [], []
        for ao, _mask, _weight, _coords in ni.block_loop(mol, grids, mol.nao_nr(), deriv):
            ao = ao.reshape(-1, *ao.shape[-2:])  # (ncomp, ngrid, nao)
            po.append(ao @ basis.co)
            pv.append(ao @ basis.cv)
        self.phi_o = np.concatenate(po, axis=1)  # (ncomp, ngrid, nocc)
        self.phi_v = np.concatenate(pv, axis=1)
        self.weights = np.asarray(grids.weights)

    @staticmethod
    def memory_mb(grids, nmo: int, xctype: str) -> float:
        """Memory of the orbital tables, MB."""
        return (1 if xctype == "LDA" else 4) * grids.weights.size * nmo * 8 / 1e6

    def contract(self, z, fxc):
        """ov blocks of the kernel potentials of symmetrised ov densities ``z`` (n, nocc, nvir)."""
        po, pv, w = self.phi_o, self.phi_v, self.weights
        n, no, nv = z.shape
        zt = z.transpose(2, 0, 1).reshape(nv, n * no)
        out = np.zeros((n, no, nv))
        for p0 in range(0, w.size, self.chunk):
            sl = slice(p0, p0 + self.chunk)
            o, v, f = po[:, sl], pv[:, sl], fxc[:, :, sl]
            ncomp, g = o.shape[0], o.shape[1]
            q = (v.reshape(ncomp * g, nv) @ zt).reshape(ncomp, g, n, no)  # sum_a z_ia phi_a^(x)
            rho1 = np.empty((n, ncomp, g))
            rho1[:, 0] = np.einsum("gno,go->ng", q[0], o[0])
            for k in range(1, ncomp):
                rho1[:, k] = np.einsum("gno,go->ng", q[k], o[0]) + np.einsum("gno,go->ng", q[0], o[k])
            wv = np.einsum("nyg,xyg,g->nxg", rho1, f, w[sl])
            a = wv[:, 0, :, None] * o[0]  # V_ia = sum_g a_gi phi_a + phi_i b_ga
            for k in range(1, ncomp):
                a += wv[:, k, :, None] * o[k]
            out += np.matmul(a.transpose(0, 2, 1), v[0])
            if ncomp > 1:
                b = wv[:, 1, :, None] * v[1]
                for k in range(2, ncomp):
                    b += wv[:, k, :, None] * v[k]
                out += np.matmul(o[0].T, b)
        return out


@contextlib.contextmanager
def _mo_space_response(mf, options: EngineOptions):
    """Within the block, the response's J/K and XC kernel work in the occupied–virtual space (when they fit).

    Densities with occupied–occupied or virtual–virtual parts, grids other
    than the response grid and meta-GGAs go to PySCF's own routines.
    """
    if not (options.mo_space_jk or options.mo_space_xc):
        yield
        return
    basis = _OVBasis(mf)
    no, nv = basis.nocc, basis.nvir
    budget = 0.5 * options.max_memory_mb
    original_jk = mf.get_jk
    own_jk = "get_jk" in mf.__dict__  # restore exactly: a bound method left on the instance would be a reference cycle
    ni = getattr(mf, "_numint", None)
    patched_fxc = False

    eris = {None: getattr(mf, "_eri", None), **getattr(mf, "_qdlib_eri_lr", {})}
    jk_fits = 3 * len(eris) * (no * nv) ** 2 * 8 / 1e6 <= budget
    fitted = getattr(mf, "with_df", None) is not None
    mo = None
    if options.mo_space_jk and eris[None] is not None and not fitted and jk_fits:
        mo = _MOSpaceJK(basis, eris)
    elif options.mo_space_jk and eris[None] is None and not fitted and options.mo_space_disk:
        from pyscf import lib

        omega_lr = ni.rsh_and_hybrid_coeff(mf.xc)[0] if ni is not None else 0.0
        omegas = [None] + ([omega_lr] if omega_lr else [])
        need = _DiskMOSpaceJK.disk_mb(no, nv, mf.mol.nao_nr(), len(omegas))
        free = shutil.disk_usage(lib.param.TMPDIR).free / 1e6
        if need < 0.9 * free:
            mo = _DiskMOSpaceJK(basis, mf.mol, omegas, options.max_memory_mb, lib.param.TMPDIR)
        else:
            log.info("MO-space integrals need %.0f MB of disk, %s has %.0f MB: direct algorithm", need,
                     lib.param.TMPDIR, free)  # fmt: skip
    elif options.mo_space_jk:
        log.info("MO-space J/K not used (density fitting, or over %.0f MB)", budget)
    if mo is not None:

        def get_jk(mol=None, dm=None, hermi=1, with_j=True, with_k=True, omega=None):
            key = omega or None
            blocks = basis.blocks(dm) if dm is not None and key in mo.omegas else None
            if blocks is None:
                return original_jk(mol, dm, hermi, with_j, with_k, omega)
            return mo.jk(key, *blocks, with_j, with_k, np.shape(dm))

        mf.get_jk = get_jk

    xctype = ni._xc_type(mf.xc) if ni is not None else None
    if options.mo_space_xc and xctype in ("LDA", "GGA") and hasattr(ni, "nr_rks_fxc"):
        need = _MOSpaceFxc.memory_mb(mf.grids, no + nv, xctype)
        if need <= budget:
            fx = _MOSpaceFxc(basis, mf, mf.grids, xctype)
            original_fxc = ni.nr_rks_fxc

            def nr_rks_fxc(mol, grids, xc_code, dm0, dms, relativity=0, hermi=0, rho0=None, vxc=None, fxc=None,
                           max_memory=2000, verbose=None):  # fmt: skip
                blocks = basis.blocks(dms) if fxc is not None and grids is fx.grids else None
                if blocks is None:
                    return original_fxc(mol, grids, xc_code, dm0, dms, relativity, hermi, rho0, vxc, fxc, max_memory, verbose)
                z = (blocks[0] + blocks[1]).reshape(-1, no, nv)  # the symmetric part carries the density
                v = fx.contract(z, np.asarray(fxc))
                return basis.to_ao(v.reshape(len(v), -1), v.reshape(len(v), -1), np.shape(dms))

            ni.nr_rks_fxc = nr_rks_fxc
            patched_fxc = True
        else:
            log.info("MO-space XC kernel needs %.0f MB: AO algorithm", need)
    try:
        yield
    finally:
        if own_jk:
            mf.get_jk = original_jk
        else:
            mf.__dict__.pop("get_jk", None)
        if mo is not None:
            mo.close()
        if patched_fxc:
            del ni.nr_rks_fxc


def _make_rks(mol, settings: TDDFTSettings, options: EngineOptions, backend: str):
    """An RKS object on ``backend`` with the settings' functional, grid and fitting.

    Its caches (AO values on the grid, stored integrals) belong to ``mol``'s
    geometry: a moved geometry gets a new object (:func:`state_gradient`).
    """
    if backend == "gpu":
        from gpu4pyscf.dft import rks as gpu_rks

        mf = gpu_rks.RKS(mol, xc=settings.xc)
        if settings.density_fit:
            mf = mf.density_fit(auxbasis=settings.auxbasis)
    else:
        from pyscf import dft
        from pyscf.dft import numint

        mf = dft.RKS(mol, xc=settings.xc)
        if options.ao_cache_mb > 0:
            cls = type("CachedNumInt", (_CachedNumInt, numint.NumInt), {"ao_cache_mb": float(options.ao_cache_mb)})
            mf._numint = cls()
        if settings.density_fit:
            mf = mf.density_fit(auxbasis=settings.auxbasis)
        elif options.incore_eri:
            mol.incore_anyway = 2 * _eri_mb(mol.nao_nr()) < options.max_memory_mb
            _incore_long_range(mf, options.max_memory_mb)
    mf.grids.level = settings.grid_level
    mf.conv_tol = settings.scf_conv_tol
    mf.max_memory = options.max_memory_mb
    mf.verbose = options.verbose
    return mf


def run_scf(mol, settings: TDDFTSettings = TDDFTSettings(), options: EngineOptions = EngineOptions(), dm0=None,
            chkfile: str | None = None):  # fmt: skip
    """Converged restricted Kohn–Sham ground state, retrying when needed.

    Strategies in order: DIIS from ``dm0`` (or the orbitals in ``chkfile`` when it exists,
    else the minimal-basis guess); level shift 0.5 Eh with damping 0.5; second-order
    (Newton) solver from the last density. With ``chkfile``, PySCF writes the orbitals
    there every cycle.

    Returns
    -------
    mf : pyscf RKS object (converged), with ``mf.qdlib_strategy`` naming the strategy

    Raises
    ------
    SCFConvergenceError
        If no strategy converges.
    """
    backend = select_backend(options.backend)
    mf = _make_rks(mol, settings, options, backend)
    if chkfile is not None:
        if dm0 is None and os.path.isfile(chkfile):
            dm0 = mf.from_chk(chkfile)
            log.info("%s: SCF restarts from %s", _formula(mol), chkfile)
        mf.chkfile = chkfile
    attempts = []
    n = options.scf_max_cycle
    strategies = [("diis", {"max_cycle": n}), ("level_shift", {"level_shift": 0.5, "damp": 0.5, "max_cycle": 2 * n})]
    dm = dm0
    for name, attrs in strategies:
        for k, v in attrs.items():
            setattr(mf, k, v)
        mf.kernel(dm0=dm)
        attempts.append((name, float(mf.e_tot)))
        if mf.converged:
            mf.level_shift, mf.damp = 0.0, 0.0
            mf.qdlib_strategy = name
            return mf
        log.warning("SCF (%s) did not converge for %s; trying the next strategy", name, _formula(mol))
        dm = mf.make_rdm1()
    mf.level_shift, mf.damp = 0.0, 0.0
    newton = mf.newton()
    newton.max_cycle = n
    newton.kernel(dm0=dm)
    attempts.append(("newton", float(newton.e_tot)))
    if newton.converged:
        mf.mo_coeff, mf.mo_occ, mf.mo_energy = newton.mo_coeff, newton.mo_occ, newton.mo_energy
        mf.e_tot, mf.converged = newton.e_tot, True
        mf.qdlib_strategy = "newton"
        return mf
    raise SCFConvergenceError(
        f"SCF did not converge for {_formula(mol)} after "
        + ", ".join(f"{n} (E={e:.6f} Eh)" for n, e in attempts)
    )


def _formula(mol) -> str:
    symbols = [mol.atom_pure_symbol(i) for i in range(mol.natm)]
    return "".join(f"{el}{symbols.count(el)}" for el in dict.fromkeys(symbols))


class ResponseCheckpoint:
    """Keeps the TDDFT solver's best vectors on disk so an interrupted solve resumes.

    PySCF's Davidson solvers keep no restart point: an hour of iterations on a
    30-atom dot is lost when the process stops. This records every trial vector
    the solver sends to the response operator together with its product (the
    solver's own subspace), and after each iteration writes the ``n_keep``
    lowest Ritz vectors of that subspace to ``path`` (atomically, ``.npz``).
    :meth:`initial_guess` reads them back; the solver restarted from them
    continues from where it stopped (a thick restart: one operator application
    for the saved vectors, then the same convergence path). The guess changes
    only where the solver starts, not the converged answer.

    Parameters
    ----------
    path : str
        The ``.npz`` file.
    hermitian : bool
        The solver's problem: Hermitian (Tamm–Dancoff, or Casida's form for pure
        functionals; vectors of length ``n_ov``) or full TDDFT (vectors ``[X, Y]``).
    n_ov : int
        Occupied × virtual orbital pairs; with ``hermitian`` it identifies the problem a
        saved file belongs to.
    n_keep : int
        Ritz vectors saved (the lowest ones).
    """

    def __init__(self, path: str, hermitian: bool, n_ov: int, n_keep: int):
        self.path, self.hermitian, self.n_ov, self.n_keep = path, bool(hermitian), int(n_ov), int(n_keep)
        self._reset(np.zeros((0, self.size)), np.zeros((0, self.size)))

    @property
    def size(self) -> int:
        """Length of one solver vector."""
        return self.n_ov if self.hermitian else 2 * self.n_ov

    def initial_guess(self) -> NDArray[np.float64] | None:
        """Saved Ritz vectors, shape ``(n, size)``, or ``None`` when there are none for this problem."""
        if not os.path.isfile(self.path):
            return None
        try:
            with np.load(self.path) as f:
                z, hermitian = f["vectors"], bool(f["hermitian"])
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable TDDFT restart file %s (%s)", self.path, exc)
            return None
        if hermitian != self.hermitian or z.ndim != 2 or z.shape[1] != self.size or not np.isfinite(z).all():
            log.warning("ignoring TDDFT restart file %s: it belongs to another problem", self.path)
            return None
        log.info("TDDFT restarts from %d saved vectors (%s)", len(z), self.path)
        return z

    def wrap(self, vind):
        """The response operator ``vind`` recording what it is asked and saving the Ritz vectors."""

        def recorded(zs):
            az = vind(zs)
            self._record(np.asarray(zs).reshape(-1, self.size), np.asarray(az).reshape(-1, self.size))
            return az

        return recorded

    # the subspace matrices are sums of these products of blocks of the recorded vectors;
    # each is extended by the new rows and columns only (O(m·k·n) per iteration, not O(m²·n))
    _products = {
        True: (("z", "az"), ("z", "z")),
        False: (("v", "u1"), ("w", "u2"), ("v", "u2"), ("w", "u1"), ("v", "v"), ("w", "w"), ("v", "w")),
    }

    def _blocks(self, z, az) -> dict:
        if self.hermitian:
            return {"z": z, "az": az}
        n = self.n_ov
        return {"v": z[:, :n], "w": z[:, n:], "u1": az[:, :n], "u2": -az[:, n:]}

    def _reset(self, z, az) -> None:
        self._z, self._az = z.copy(), az.copy()
        b = self._blocks(self._z, self._az)
        self._gram = {pq: b[pq[0]] @ b[pq[1]].T for pq in self._products[self.hermitian]}

    def _record(self, z, az) -> None:
        old, new = self._blocks(self._z, self._az), self._blocks(z, az)
        for p, q in self._products[self.hermitian]:  # [[g, old_p new_q^T], [new_p old_q^T, new_p new_q^T]]
            g = self._gram[p, q]
            self._gram[p, q] = np.block([[g, old[p] @ new[q].T], [new[p] @ old[q].T, new[p] @ new[q].T]])
        self._z, self._az = np.vstack([self._z, z]), np.vstack([self._az, az])
        try:
            ritz = self._ritz_vectors()
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            ritz = None
        if ritz is None:  # the solver restarted from vectors inside the old subspace: follow it
            self._reset(z, az)
            return
        tmp = f"{self.path}.tmp.npz"
        np.savez(tmp, vectors=ritz, hermitian=self.hermitian)
        os.replace(tmp, self.path)

    def _ritz_vectors(self) -> NDArray[np.float64] | None:
        k, g = min(self.n_keep, len(self._z)), self._gram
        sym = lambda m: (m + m.T) / 2  # noqa: E731
        with np.errstate(divide="raise", over="raise", invalid="raise"):
            if self.hermitian:  # A x = w x in the recorded subspace
                import scipy.linalg

                _, c = scipy.linalg.eigh(sym(g["z", "az"]), sym(g["z", "z"]))
                ritz = c[:, :k].T @ self._z
            else:  # [[A, B], [B, A]] [X, Y] = w [[1, 0], [0, -1]] [X, Y], PySCF's real_eig subspace
                from pyscf.tdscf._lr_eig import TDDFT_subspace_eigen_solver

                n = self.n_ov
                v, w_ = self._z[:, :n], self._z[:, n:]
                a, b = sym(g["v", "u1"] + g["w", "u2"]), sym(g["v", "u2"] + g["w", "u1"])
                sigma = sym(g["v", "v"] - g["w", "w"])
                pi = g["v", "w"] - g["v", "w"].T  # v w^T - w v^T
                omega, x, y = TDDFT_subspace_eigen_solver(a, b, sigma, pi, k)
                if len(omega) < k or np.any(omega <= 0):
                    return None
                ritz = np.hstack([x.T @ v + y.T @ w_, x.T @ w_ + y.T @ v])
        return ritz if np.isfinite(ritz).all() else None


def run_tddft(mf, settings: TDDFTSettings = TDDFTSettings(), options: EngineOptions = EngineOptions(),
              restart_file: str | None = None):  # fmt: skip
    """Solve for ``settings.n_states`` singlet excitations on a converged ground state.

    With ``restart_file`` (CPU), the solver's best vectors are saved there after every
    iteration and, when the file exists, the solver starts from them
    (:class:`ResponseCheckpoint`).

    Returns the PySCF TDDFT/TDA object after ``kernel()``.
    """
    if settings.response_grid_level is not None and settings.response_grid_level != settings.grid_level:
        from pyscf import dft

        grids = dft.gen_grid.Grids(mf.mol)
        grids.level = settings.response_grid_level
        grids.build()
        scf_grids, mf.grids = mf.grids, grids  # the response kernel is built on mf.grids
    else:
        scf_grids = mf.grids
    td = mf.TDA() if settings.tda else mf.TDDFT()
    td.nstates = settings.n_states
    td.singlet = True
    td.conv_tol = settings.td_conv_tol
    cpu = not type(mf).__module__.startswith("gpu4pyscf")
    x0 = None
    if restart_file is not None and cpu:
        from pyscf.tdscf.rhf import TDA

        nocc = int(np.count_nonzero(mf.mo_occ > 0))
        checkpoint = ResponseCheckpoint(restart_file, isinstance(td, TDA), nocc * (len(mf.mo_occ) - nocc),
                                        n_keep=2 * settings.n_states)  # fmt: skip
        x0 = checkpoint.initial_guess()
        gen_vind = td.gen_vind

        def recording_gen_vind(mf=None):
            vind, hdiag = gen_vind(mf)
            return checkpoint.wrap(vind), hdiag

        td.gen_vind = recording_gen_vind
    try:
        with _mo_space_response(mf, options) if cpu else contextlib.nullcontext():
            td.kernel(x0=x0)
    finally:
        mf.grids = scf_grids
        td.__dict__.pop("gen_vind", None)  # the recording wrapper holds td's own method: a reference cycle
    return td


#: What PySCF's TDDFT solver says when the ground state is a saddle point (A − B not positive definite).
_SADDLE_POINT_MESSAGE = "saddle-point solution"


def follow_internal_instability(mf, max_rounds: int = 3):
    """Re-converge a ground state that is a saddle point, downhill along its internal instability.

    A displaced or strained geometry can converge to an SCF solution with a
    negative orbital-rotation Hessian eigenvalue; full TDDFT (RPA) then has
    no real solution. PySCF's internal stability analysis gives rotated
    orbitals along the unstable mode; the SCF restarts from them until the
    solution is a minimum.

    Returns
    -------
    mf : the same object, converged to a stable solution; ``mf.qdlib_strategy`` gains ``"+stability"``.

    Raises
    ------
    SCFConvergenceError
        If the SCF does not converge from the rotated orbitals, or is still unstable after ``max_rounds``.
    """
    for _ in range(max_rounds):
        mo, _, stable, _ = mf.stability(internal=True, external=False, return_status=True)
        if stable:
            mf.qdlib_strategy = f"{mf.qdlib_strategy}+stability"
            return mf
        e_before = float(mf.e_tot)
        mf.kernel(dm0=mf.make_rdm1(mo, mf.mo_occ))
        if not mf.converged:
            raise SCFConvergenceError(f"SCF did not re-converge after following the instability of {_formula(mf.mol)}")
        log.warning("%s: followed an internal SCF instability, E %.6f -> %.6f Eh", _formula(mf.mol), e_before, mf.e_tot)
    raise SCFConvergenceError(f"{_formula(mf.mol)}: SCF still unstable after {max_rounds} stability rounds")


def _states_converged(td) -> NDArray[np.bool_]:
    """Whether each state of a solved TDDFT/TDA object converged (PySCF may give one flag for all)."""
    return np.broadcast_to(np.asarray(_to_numpy(td.converged), dtype=bool), np.shape(_to_numpy(td.e))).copy()


def excitations(
    atoms: Atoms,
    settings: TDDFTSettings = TDDFTSettings(),
    options: EngineOptions = EngineOptions(),
    dm0=None,
    cover_nm: float | None = None,
    max_states: int = 40,
) -> Excitations:
    """Ground state and singlet excitations of one geometry (the heart of every TD-DFT call).

    Parameters
    ----------
    atoms : ase.Atoms
        Geometry, Å; validated first.
    settings : TDDFTSettings
        What to compute (paper defaults).
    options : EngineOptions
        How to compute it (backend, threads, memory).
    dm0 : ndarray, optional
        Initial density matrix (e.g. from a nearby geometry).
    cover_nm : float, optional
        Solve for more states than ``settings.n_states`` until the highest one lies at or below
        this wavelength (nm), so that a spectrum is complete down to it (a distorted geometry's
        lowest states can all lie far to the red). The ground state is solved once; the state
        count grows from the spacing of the states found (:func:`next_state_count`). The
        result's ``settings.n_states`` says how many were solved; :meth:`Excitations.covers`
        whether the wavelength was reached.
    max_states : int
        The most states solved for with ``cover_nm``; a result that stops here may not cover it.

    Returns
    -------
    Excitations

    Examples
    --------
    A CdSe dimer's two lowest states lie in the infrared; a spectrum complete down to 300 nm
    needs more (a few seconds):

    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.55]])
    >>> exc = excitations(dimer, TDDFTSettings(n_states=2, grid_level=0), cover_nm=300.0, max_states=12)
    >>> exc.settings.n_states, exc.covers(300.0)
    (8, True)
    """
    backend = select_backend(options.backend)
    with _threads(options.threads):
        t0 = time.perf_counter()
        mol = build_mol(atoms, settings, verbose=options.verbose)
        chkfile = _checkpoint_path(atoms, settings, options.checkpoint_dir, ".chk")
        restart = _checkpoint_path(atoms, settings, options.checkpoint_dir, ".td.npz")
        mf = run_scf(mol, settings, options, dm0=dm0, chkfile=chkfile)
        try:
            td = run_tddft(mf, settings, options, restart_file=restart)
        except RuntimeError as exc:
            if _SADDLE_POINT_MESSAGE not in str(exc):
                raise
            log.warning("%s: TDDFT found the ground state a saddle point; following its instability", _formula(mol))
            mf = follow_internal_instability(mf)
            try:
                td = run_tddft(mf, settings, options, restart_file=restart)
            except RuntimeError as again:
                if _SADDLE_POINT_MESSAGE not in str(again) or settings.tda:
                    raise
                # A ground state stable to real orbital rotations whose full-TDDFT problem is still not
                # positive definite (A − B, e.g. a complex instability of the hybrid): the Tamm–Dancoff
                # problem (A alone) is Hermitian and solvable. The result says so in its settings.
                log.warning("%s: full TDDFT has no real solution here; Tamm-Dancoff approximation instead", _formula(mol))
                settings = dataclasses.replace(settings, tda=True)
                td = run_tddft(mf, settings, options, restart_file=restart)
                mf.qdlib_strategy = f"{mf.qdlib_strategy}+tda-fallback"
        if cover_nm is not None:
            td, settings, restart = _grow_until_covered(mf, td, settings, options, atoms, cover_nm, max_states, restart)
        wall = time.perf_counter() - t0
    for done in (chkfile, restart):  # the result goes to the store, the restart points are not needed
        if done is not None and os.path.isfile(done):
            os.remove(done)
    e_ev = np.asarray(_to_numpy(td.e), dtype=float) * HARTREE_EV
    f = np.asarray(_to_numpy(td.oscillator_strength()), dtype=float)
    conv = _states_converged(td)
    if not conv.all():
        log.warning("TDDFT: states %s did not converge", np.nonzero(~conv)[0].tolist())
    return Excitations(
        energies_ev=e_ev,
        osc_strengths=f,
        e_tot_hartree=float(mf.e_tot),
        td_converged=conv,
        scf_strategy=mf.qdlib_strategy,
        settings=settings,
        backend=backend,
        wall_time_s=wall,
        versions=versions(backend),
        transitions=dominant_transitions(td.xy, int(np.count_nonzero(_to_numpy(mf.mo_occ) > 0))),
    )


def next_state_count(energies_ev: ArrayLike, cover_ev: float, max_states: int) -> int:
    """How many states to solve for next so that the highest reaches ``cover_ev`` (eV).

    Extrapolates the mean spacing of the states found so far to ``cover_ev``, with half as many
    again for the states crowding at higher energy (falling short costs a whole new solve, a few
    states too many little); at least six more than now, at most three
    times as many (a few near-degenerate states make the spacing, and the extrapolation,
    unreliable) and at most ``max_states``.

    >>> next_state_count([2.0, 2.1, 2.2, 2.3, 2.4, 2.5], cover_ev=3.2, max_states=40)
    17
    >>> next_state_count([2.0, 2.0, 2.0, 2.1, 2.1, 2.1], cover_ev=3.5, max_states=40)
    18
    """
    e = np.sort(np.asarray(energies_ev, dtype=float))
    n = e.size
    spacing = max((e[-1] - e[0]) / max(n - 1, 1), 1e-3)
    wanted = n + int(np.ceil(1.5 * (cover_ev - e[-1]) / spacing))
    return int(min(max_states, max(n + 6, min(3 * n, wanted))))


def _grow_until_covered(mf, td, settings, options, atoms, cover_nm, max_states, restart):
    """Solve again with more states until the highest lies at or below ``cover_nm``; the ground state is kept."""
    cover_ev = float(spectra.nm_to_ev(cover_nm))
    while True:
        e_ev = np.asarray(_to_numpy(td.e), dtype=float) * HARTREE_EV
        if e_ev.size == 0 or e_ev.max() >= cover_ev or settings.n_states >= max_states:
            return td, settings, restart
        n = next_state_count(e_ev, cover_ev, max_states)
        log.info("%s: %d states reach %.1f nm, short of %.1f nm; solving for %d",
                 _formula(mf.mol), e_ev.size, spectra.ev_to_nm(e_ev.max()), cover_nm, n)  # fmt: skip
        if restart is not None and os.path.isfile(restart):
            os.remove(restart)
        settings = dataclasses.replace(settings, n_states=n)
        restart = _checkpoint_path(atoms, settings, options.checkpoint_dir, ".td.npz")
        td = run_tddft(mf, settings, options, restart_file=restart)


def _to_numpy(x):
    return x.get() if hasattr(x, "get") else x


class _threads:
    """Context manager setting PySCF's OpenMP threads, restoring them after."""

    def __init__(self, n: int | None):
        self.n = n

    def __enter__(self):
        from pyscf import lib

        self.old = lib.num_threads()
        if self.n:
            lib.num_threads(self.n)

    def __exit__(self, *exc):
        from pyscf import lib

        lib.num_threads(self.old)


# --------------------------------------------------------------------------- geometry optimisation


#: geomeTRIC configures the root logger from an ini file at every run (stderr, INFO); this one keeps it quiet.
_GEOMETRIC_LOG_INI = """[loggers]
keys=root
[handlers]
keys=null
[formatters]
keys=
[logger_root]
level=WARNING
handlers=null
[handler_null]
class=NullHandler
args=()
"""


@contextlib.contextmanager
def _geometric_logging():
    """The path of a quiet logging ini for geomeTRIC; the root logger's level and handlers are restored after."""
    import tempfile

    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "log.ini")
        with open(path, "w") as fh:
            fh.write(_GEOMETRIC_LOG_INI)
        try:
            yield path
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)


def _checkpoint_path(atoms: Atoms, settings: TDDFTSettings, directory: str | None, suffix: str) -> str | None:
    """``<directory>/<result key><suffix>``: a restart point of one calculation (``None`` without a directory)."""
    if directory is None:
        return None
    from .store import result_key

    os.makedirs(directory, exist_ok=True)
    return os.path.join(directory, f"{result_key(atoms, settings)}{suffix}")


def state_gradient(mol, state: int, settings: TDDFTSettings = TDDFTSettings(),
                   options: EngineOptions = EngineOptions(), dm0=None):  # fmt: skip
    """Energy and nuclear gradient of one state at ``mol``'s geometry, by the single-point engine.

    The ground state and the excitations are solved exactly as :func:`excitations`
    solves them (:func:`run_scf`, :func:`run_tddft`: stored long-range integrals,
    response in the occupied–virtual space on the response grid), on a fresh SCF
    object, so nothing cached can belong to another geometry. The gradient is
    PySCF's analytic one (TDDFT: Z-vector) at those orbitals and response vectors,
    its exchange-correlation terms on the SCF grid. With a response grid coarser than the
    SCF grid the excited-state energy and gradient therefore differ by the response
    grid's error (about 0.01 meV in excitation energies, ``benchmarks/tddft_speed.py``;
    ``benchmarks/relax_speed.py`` measures the gradient), far below a relaxation's thresholds.

    Parameters
    ----------
    mol : pyscf.gto.Mole
        The geometry (:func:`build_mol`).
    state : int
        0 for the ground state, n for the n-th singlet excited state.
    settings, options
        As for :func:`excitations`; at least ``state + 2`` states are solved for.
    dm0 : ndarray, optional
        Initial density matrix, e.g. the previous geometry's.

    Returns
    -------
    energy : float
        Total energy of the state, Eh.
    gradient : ndarray, shape (n_atoms, 3)
        dE/dR, Eh/bohr.
    mf : pyscf SCF object
        The converged ground state (``mf.make_rdm1()`` is the next geometry's guess),
        its caches dropped (stored integrals, AO values on the grid).

    Raises
    ------
    SCFConvergenceError
        If the ground state does not converge.
    RuntimeError
        If the excited state ``state`` does not converge.
    """
    mf = run_scf(mol, settings, options, dm0=dm0)
    try:
        if state == 0:
            return float(mf.e_tot), np.asarray(_to_numpy(mf.nuc_grad_method().kernel())), mf
        settings = dataclasses.replace(settings, n_states=max(settings.n_states, state + 2))
        td = run_tddft(mf, settings, options)
        if not _states_converged(td)[state - 1]:
            raise RuntimeError(f"TDDFT state S{state} of {_formula(mol)} did not converge")
        grad = td.nuc_grad_method()
        grad.verbose = options.verbose
        de = grad.kernel(state=state)
        return float(mf.e_tot + _to_numpy(td.e)[state - 1]), np.asarray(_to_numpy(de)), mf
    finally:
        _drop_caches(mf)


def _drop_caches(mf) -> None:
    """Free what an SCF object holds for speed: stored integrals, AO values on the grid.

    The object stays usable (PySCF rebuilds what it needs). Called at the end of
    every relaxation step, so a caller that keeps the returned SCF object (for its
    density) does not keep gigabytes of integrals and grid values with it.
    """
    mf._eri = None
    getattr(mf, "_qdlib_eri_lr", {}).clear()
    numint = getattr(mf, "_numint", None)
    if numint is not None:
        numint.__dict__.pop("_ao_cache", None)


def _optimize(atoms: Atoms, state: int, settings: TDDFTSettings, options: EngineOptions, max_steps: int) -> Atoms:
    """Relax ``state`` (0 = ground, n = Sn) with geomeTRIC on :func:`state_gradient`; a new Atoms, Å.

    Every step starts its SCF from the previous step's density. With
    ``options.checkpoint_dir``, the latest geometry is written there after every
    gradient (``<key>.S<state>.opt.xyz``, key of the starting geometry and settings) and a
    restarted relaxation continues from it; the steps already taken count against
    ``max_steps``. The file is removed when the relaxation ends.
    """
    import io

    from pyscf.geomopt import geometric_solver
    from pyscf.geomopt.addons import as_pyscf_method

    restart = OptimizationCheckpoint.for_run(atoms, state, settings, options.checkpoint_dir)
    start, done = restart.load(atoms) if restart is not None else (atoms, 0)
    with _threads(options.threads):
        mol = build_mol(start, settings, verbose=0)
        previous_dm = [None]

        last_energy = [float("nan")]

        def energy_and_gradient(m):
            energy, gradient, mf = state_gradient(m, state, settings, options, dm0=previous_dm[0])
            previous_dm[0] = mf.make_rdm1()
            last_energy[0] = float(energy)
            return energy, gradient

        chatter = io.StringIO()  # geomeTRIC reports every step on stdout
        gradients = [done]  # energy-and-gradient evaluations, with those of earlier runs

        def after_gradient(env):
            gradients[0] += 1
            log.info("%s: S%d relaxation, gradient %d, E = %.6f Eh", _formula(mol), state, gradients[0], last_energy[0])
            if restart is not None:
                restart.save(start, env["mol"].atom_coords(unit="Angstrom"), gradients[0])

        with contextlib.redirect_stdout(chatter), _geometric_logging() as log_ini:
            conv, mol_eq = geometric_solver.kernel(as_pyscf_method(mol, energy_and_gradient),
                                                   maxsteps=max(1, max_steps - done), logIni=log_ini,
                                                   callback=after_gradient)  # fmt: skip
    log.debug("geomeTRIC:\n%s", chatter.getvalue())
    if restart is not None:
        restart.remove()
    if not conv:
        log.warning("geometry optimisation of S%d did not converge in %d steps", state, max_steps)
    out = atoms.copy()
    out.positions = mol_eq.atom_coords(unit="Angstrom")
    out.info.update(relaxed=f"S{state}", optimization_converged=bool(conv), optimization_gradients=gradients[0])
    return out


@dataclass
class OptimizationCheckpoint:
    """The latest geometry of a relaxation in progress, so that a stopped one continues.

    Attributes
    ----------
    path : str
        The extended-xyz file (positions in Å; ``gradients`` done so far in its comment line).
    """

    path: str

    @classmethod
    def for_run(cls, atoms: Atoms, state: int, settings: TDDFTSettings, directory: str | None):
        """The checkpoint of relaxing ``state`` from ``atoms`` at ``settings``, or ``None`` without a directory."""
        path = _checkpoint_path(atoms, settings, directory, f".S{state}.opt.xyz")
        return None if path is None else cls(path)

    def load(self, atoms: Atoms) -> tuple[Atoms, int]:
        """The geometry to start from and the gradients already spent (``atoms`` and 0 when none saved)."""
        import ase.io

        if not os.path.isfile(self.path):
            return atoms, 0
        try:
            saved = ase.io.read(self.path, format="extxyz")
        except Exception as exc:  # ASE raises several types for a damaged file
            log.warning("ignoring unreadable relaxation checkpoint %s (%s)", self.path, exc)
            return atoms, 0
        if saved.get_chemical_symbols() != atoms.get_chemical_symbols():
            log.warning("ignoring relaxation checkpoint %s: it belongs to other atoms", self.path)
            return atoms, 0
        done = int(saved.info.get("gradients", 0))
        log.info("relaxation continues from %s after %d gradients", self.path, done)
        start = atoms.copy()
        start.positions = saved.positions
        return start, done

    def save(self, atoms: Atoms, positions_angstrom, gradients: int) -> None:
        """Write the current geometry atomically."""
        import ase.io

        current = Atoms(atoms.get_chemical_symbols(), positions=positions_angstrom)
        current.info["gradients"] = int(gradients)
        tmp = f"{self.path}.tmp"
        ase.io.write(tmp, current, format="extxyz")
        os.replace(tmp, self.path)

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path)


def optimize_ground_state(
    atoms: Atoms,
    settings: TDDFTSettings = TDDFTSettings(),
    options: EngineOptions = EngineOptions(),
    max_steps: int = 100,
) -> Atoms:
    """Relax the ground state with geomeTRIC on the DFT gradient; returns a new Atoms, Å."""
    return _optimize(atoms, 0, settings, options, max_steps)


def optimize_excited_state(
    atoms: Atoms,
    state: int = 1,
    settings: TDDFTSettings = TDDFTSettings(),
    options: EngineOptions = EngineOptions(),
    max_steps: int = 100,
) -> Atoms:
    """Relax excited state ``state`` (1 = S1) with geomeTRIC on the TDDFT gradient (:func:`state_gradient`); Å."""
    if state < 1:
        raise ValueError(f"state must be >= 1 (use optimize_ground_state for S0), got {state}")
    return _optimize(atoms, state, settings, options, max_steps)


def emission(
    atoms: Atoms,
    settings: TDDFTSettings = TDDFTSettings(),
    options: EngineOptions = EngineOptions(),
    max_steps: int = 100,
) -> tuple[Excitations, Atoms]:
    """Kasha emission: relax S1 from ``atoms``, then the excitations at the relaxed geometry.

    Returns
    -------
    excitations : Excitations
        At the relaxed S1 geometry; ``spectrum("emission")`` is the S1→S0 band.
    relaxed : ase.Atoms
        The relaxed S1 geometry, Å.
    """
    relaxed = optimize_excited_state(atoms, 1, settings, options, max_steps)
    return excitations(relaxed, settings, options), relaxed

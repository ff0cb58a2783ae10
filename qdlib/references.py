"""The reference dots, their targets, and lookups of stored results.

The undisplaced benchmark dot of each paper case is the reference: its TD-DFT, with states
covering the case's comparison window, is the target every design is judged against
(:mod:`qdlib.verdict`), and its converged solution is the warm start of nearby geometries
(:mod:`qdlib.qchem.warmstart`). Designs and references are found again in a results store by
their labels and geometry. This module sits low: it needs no agent, no DDPG and no torch, so the
design campaigns (:mod:`qdlib.campaign`) use it alone; the rechecks of the trained agents'
designs are :mod:`qdlib.verification`'s.

:func:`cover_label`, :func:`reference_frame`, :func:`case_window`, :func:`case_target`
    A case's reference dot labelled for the store, its window, and its target from stored TD-DFT.
:func:`compute_covering`, :func:`compute_references`
    TD-DFT with states covering a window, into a store; the targets computed where missing.
:func:`warm_start_point`
    A reference's solution on disk (computed once per machine, under a file lock).
:func:`find_stored`, :func:`stored_excitations`, :func:`tddft_spectra`, :func:`tddft_peaks`
    Stored results of frames: matched by labels and geometry, or by geometry key at settings.
:func:`recompute_stored`
    TD-DFT run again beside a stored result.

>>> window = Window("absorption", blue_nm=396.8, red_nm=798.4)
>>> cover_label(window)           # the label of results whose states reach 3σ beyond 396.8 nm
{'cover_nm': 355.84}
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from ase import Atoms
from numpy.typing import NDArray

from . import qchem
from .compute import compute_many
from .datasets import benchmark_target
from .qchem import EngineOptions, TDDFTSettings, result_key
from .spectra import spectrum_peak, wavelength_grid
from .store import ResultStore, covered_key
from .tddft_data import TDDFTDataset, entry_excitations
from .verdict import COVER_MAX_STATES, Target, Window, target_window

log = logging.getLogger(__name__)

__all__ = [
    "cover_label",
    "reference_frame",
    "case_window",
    "case_target",
    "compute_covering",
    "compute_references",
    "warm_start_point",
    "find_stored",
    "stored_excitations",
    "tddft_spectra",
    "tddft_peaks",
    "recompute_stored",
]


def cover_label(window: Window) -> dict:
    """The label that marks results asked to cover ``window`` (none for emission, complete with S1)."""
    return {} if window.cover_nm is None else {"cover_nm": round(float(window.cover_nm), 2)}


def reference_frame(dot: str, kind: str, window: Window | None = None) -> Atoms:
    """The undisplaced benchmark dot labelled ``set="reference"`` (and its window's ``cover_nm``)."""
    atoms, target = benchmark_target(dot, kind, 1)
    window = window or target_window(target, kind)
    atoms.info = dict(set="reference", dot=dot, kind=kind, **cover_label(window))
    return atoms


def case_window(dot: str, kind: str) -> Window:
    """The comparison window of ``dot``'s target of ``kind`` (:func:`qdlib.verdict.target_window` of the paper's target)."""
    return target_window(benchmark_target(dot, kind, 1)[1], kind)


def case_target(dot: str, kind: str, source, shift_nm: float = 0.0) -> Target:
    """The target of ``dot``'s ``kind``, from its reference TD-DFT (covering the window) in ``source``.

    Raises
    ------
    LookupError
        If the reference has not been computed (``qdlib verify`` computes it first).
    """
    paper = benchmark_target(dot, kind, 1)[1]
    hit = find_stored([reference_frame(dot, kind)], source)[0]
    if hit is None:
        where = getattr(source, "url", None) or type(source).__name__
        raise LookupError(f"no reference TD-DFT of {dot} ({kind}) covering its window in {where}; "
                          f"`qdlib verify --dots {dot} --references-only` computes it")  # fmt: skip
    return Target.from_reference(hit[1], paper, kind, name=f"{dot} {kind}", shift_nm=shift_nm)


def compute_covering(frames: Sequence[Atoms], window: Window, store, settings=None, options=None, executor=None,
                     max_states: int = COVER_MAX_STATES, retry_failed: bool = False):  # fmt: skip
    """TD-DFT of ``frames`` with states solved for until they cover ``window``, into ``store`` (labels: the scalars of ``info``).

    Stored under :func:`~qdlib.store.covered_key` (found done on a rerun); emission windows need S1
    alone and are computed at ``settings`` as they are. A calculation that failed in an earlier run is
    not tried again unless ``retry_failed`` (:func:`~qdlib.compute.compute_many`). Returns the
    :class:`~qdlib.compute.BatchReport`.
    """
    settings, options = settings or TDDFTSettings(), options or EngineOptions()
    if window.cover_nm is None:
        fn, key = qchem.excitations, result_key
    else:
        cover = round(float(window.cover_nm), 2)
        fn = functools.partial(qchem.excitations, cover_nm=cover, max_states=max_states)
        key = functools.partial(covered_key, cover_nm=cover, max_states=max_states)
    report = compute_many(frames, settings, options, store=_source(store), executor=executor, compute=fn, key=key,
                          labels=lambda i, atoms: _scalar_labels(atoms), progress=False, retry_failed=retry_failed)  # fmt: skip
    for i, err in report.failures.items():
        log.warning("%s: %s", frames[i].info, err)
    return report


def compute_references(dots_kinds: Sequence[tuple[str, str]], store, settings=None, options=None, executor=None,
                       max_states: int = COVER_MAX_STATES) -> dict[tuple[str, str], Target]:  # fmt: skip
    """The targets of ``(dot, kind)`` pairs: each undisplaced dot's TD-DFT covering its window, computed
    into ``store`` where missing (:func:`compute_covering`), as :class:`~qdlib.verdict.Target` objects."""
    targets = {}
    for dot, kind in dots_kinds:
        compute_covering([reference_frame(dot, kind)], case_window(dot, kind), store, settings, options, executor, max_states)
        targets[dot, kind] = t = case_target(dot, kind, store)
        n = find_stored([reference_frame(dot, kind)], store)[0][1].energies_ev.size
        log.info("target %s: window %.1f–%.1f nm, reference %d states, peak %.1f nm", t.name, t.window.blue_nm,
                 t.window.red_nm, n, t.peak_nm)  # fmt: skip
    return targets


def warm_start_point(atoms: Atoms, name: str, cover_nm: float | None, settings=None, options=None,
                     max_states: int = COVER_MAX_STATES) -> str:  # fmt: skip
    """Path of a reference structure's solution to start nearby geometries from, computed if missing.

    The point (:mod:`qdlib.qchem.warmstart`: SCF orbitals, excitation vectors) of ``atoms`` solved
    with states covering ``cover_nm``, kept once per machine under ``warm/`` of
    ``options.checkpoint_dir`` (default :func:`qdlib.paths.checkpoints_dir`), named after ``name``,
    the covering wavelength and the state cap. Pass the path as ``EngineOptions(warm_start=...)``.
    Processes asking for the same point take turns (an operating-system lock on ``<path>.lock``):
    the first computes it, the others wait and read it. (It lives here, not in
    :mod:`qdlib.qchem.warmstart`: it runs the engine, which itself imports that module.)
    """
    from filelock import FileLock

    from .paths import checkpoints_dir

    settings, options = settings or TDDFTSettings(), options or EngineOptions()
    folder = Path(options.checkpoint_dir or checkpoints_dir()) / "warm"
    cover = "" if cover_nm is None else f"_cover{cover_nm:.2f}nm_max{max_states}"
    path = str(folder / f"{name}{cover}.chk")
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{path}.lock"):
        if not os.path.isfile(path) or not os.path.isfile(path + ".xy.npz"):
            log.info("%s: computing the warm-start point %s", name, path)
            qchem.excitations(atoms, settings, options, cover_nm=cover_nm, max_states=max_states, save_warm_start_to=path)
    return path


def find_stored(frames: Sequence[Atoms], source, tolerance_angstrom: float = 1e-3) -> list:
    """Stored TD-DFT results of ``frames``, found by their labels and a geometry match.

    A stored result counts for a frame if its labels equal the frame's ``info`` and every atom lies
    within ``tolerance_angstrom`` of the frame's. Designs come from float32 rollouts; matching by
    labels and a tolerance rather than by the exact geometry key keeps a lookup from hinging on the
    last digit (another seed, agent or machine that designed elsewhere finds nothing).

    Parameters
    ----------
    frames : sequence of ase.Atoms
        With scalar labels in ``info`` (:func:`designed_structure`).
    source : qdlib.tddft_data.TDDFTDataset, qdlib.store.ResultStore or path of a store
    tolerance_angstrom : float

    Returns
    -------
    list of (ase.Atoms, Excitations) or None
        Per frame, the stored geometry and its excitations, or None.
    """
    out = []
    for frame in frames:
        if isinstance(source, TDDFTDataset):
            candidates = [(e, entry_excitations(e)) for e in source.select(**frame.info)]
        else:
            candidates = [(atoms, exc) for atoms, exc, _ in _source(source).select(**frame.info)]
        match = [(a, e) for a, e in candidates
                 if len(a) == len(frame) and np.abs(a.positions - frame.positions).max() <= tolerance_angstrom]  # fmt: skip
        match.sort(key=lambda hit: -hit[1].energies_ev.size)  # the one with most states
        out.append(match[0] if match else None)
    return out


def stored_excitations(frames: Sequence[Atoms], source, settings=None) -> list:
    """The stored :class:`~qdlib.qchem.Excitations` of each of ``frames`` at ``settings`` (None where not stored).

    Parameters
    ----------
    frames : sequence of ase.Atoms
    source : qdlib.store.ResultStore, qdlib.tddft_data.TDDFTDataset or path
        Where the results are (anything with ``get(atoms, settings)``; a path opens a store).
    settings : qdlib.qchem.TDDFTSettings, optional
        Default: the paper settings.
    """
    source, settings = _source(source), settings or TDDFTSettings()
    return [source.get(atoms, settings) for atoms in frames]


def tddft_spectra(frames: Sequence[Atoms], source, kind: str, settings=None) -> NDArray[np.float64]:
    """Broadened TD-DFT spectra ``(n, n_bins)`` of ``frames`` (as :func:`stored_excitations`); NaN rows where not stored."""
    out = np.full((len(frames), wavelength_grid(kind).size), np.nan)
    for i, exc in enumerate(stored_excitations(frames, source, settings)):
        if exc is not None:
            out[i] = exc.spectrum(kind)
    return out


def tddft_peaks(frames: Sequence[Atoms], source, kind: str, settings=None, line: int | None = None) -> NDArray[np.float64]:
    """Central peaks of the stored TD-DFT spectra of ``frames`` (``kind``), nm; NaN where not stored or dark.

    Parameters
    ----------
    frames, source, settings
        As :func:`stored_excitations`.
    kind : {"absorption", "emission"}
        Emission: the S1→S0 line at the frame's geometry.
    line : int, optional
        Instead of the spectrum's peak, the wavelength of excitation ``line`` (0: S1), bright or dark.
    """
    if line is None:
        return np.asarray(spectrum_peak(tddft_spectra(frames, source, kind, settings), kind), dtype=float).reshape(len(frames))
    return np.array([np.nan if exc is None else exc.wavelengths_nm[line]
                     for exc in stored_excitations(frames, source, settings)], dtype=float)  # fmt: skip


def recompute_stored(atoms: Atoms, source, settings=None, options=None, kind: str = "absorption") -> dict:
    """Run TD-DFT of ``atoms`` again, bypassing ``source``, and compare with the stored result.

    Returns
    -------
    dict
        ``max_abs_energy_ev`` (largest excitation-energy difference), ``peak_nm``
        (|difference| of the central peaks of ``kind``), ``wall_time_s`` and ``backend`` of the rerun.

    Raises
    ------
    KeyError
        If ``source`` holds no result for ``atoms``.
    """
    source, settings = _source(source), settings or TDDFTSettings()
    stored = source.get(atoms, settings)
    if stored is None:
        raise KeyError("no stored result for this geometry at these settings")
    fresh = qchem.excitations(atoms, settings, options or EngineOptions())  # looked up here: tests replace it
    return dict(
        max_abs_energy_ev=float(np.max(np.abs(fresh.energies_ev - stored.energies_ev))),
        peak_nm=float(abs(spectrum_peak(fresh.spectrum(kind), kind) - spectrum_peak(stored.spectrum(kind), kind))),
        wall_time_s=fresh.wall_time_s, backend=fresh.backend,
    )  # fmt: skip


def _source(source):
    """A results source: anything with ``get(atoms, settings)``, or a path of a results store."""
    return source if hasattr(source, "get") else ResultStore(source)


def _scalar_labels(atoms: Atoms) -> dict:
    """The scalar entries of ``atoms.info``: what a results store keeps as searchable labels."""
    return {k: v for k, v in atoms.info.items() if isinstance(v, (str, bool, int, float, np.integer, np.floating))}

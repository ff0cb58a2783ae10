"""Our TD-DFT dataset: the released, text-only form of the results stores.

``data/tddft/`` holds one folder per part of the release — ``reproduction/`` (the paper's
structures and the designs of notebooks 01–06), ``campaign/`` (the design campaigns' TD-DFT
calls, notebook 07) and ``library/`` (the stable-cluster library) — so that a notebook's
fingerprint changes only when the part it reads does. Each folder holds

* ``structures.extxyz``: every computed geometry, one frame each, its
  ``info`` holding the identity (``id``: the key of the geometry at the settings
  it was computed with; ``store_key``: the key it was asked under, where that differs,
  e.g. a Tamm–Dancoff fallback of a full-TDDFT request; ``set``:
  ``authors``, ``design-region`` or ``random``; ``role``: which spectra it
  stands for), the excitations (``energies_ev``, ``osc_strengths``,
  ``td_converged``, ``e_tot_hartree``), every setting that changes the answer,
  how it was run (``backend``, ``wall_time_s``, ``scf_strategy``) and the
  versions of the code (``version_pyscf``, ``version_qdlib``, …); a
  ``random`` frame whose relaxation reached the minimum of an earlier one
  carries ``same_minimum_as`` (that frame's ``id``);
* ``spectra_absorption.csv`` and ``spectra_emission.csv``: the broadened
  spectra on the paper grids (ε, L mol⁻¹ cm⁻¹), one row per frame of that
  role, first column the ``id``: the form the authors published, for
  training surrogates directly.

A frame's role follows from its geometry: a ground-state geometry gives an
absorption spectrum, a relaxed S1 geometry the S1→S0 emission (Kasha), and a
displaced design-region geometry both (absorption, and vertical emission
from the same TD-DFT run).

This module reads the dataset (:func:`load_tddft_dataset`, :class:`TDDFTDataset`); what one
frame holds is :mod:`qdlib.tddft_frames`' idea, how the results stores become these files
:mod:`qdlib.tddft_export`'s. Their public names are importable from here too.

>>> ds = load_tddft_dataset()
>>> frame = ds.select(set="design-region", dot="Cd6Se6")[0]
>>> frame.info["xc"], frame.info["basis"], frame.info["role"]
('camb3lyp', 'lanl2dz', 'absorption+emission')
>>> ds.get(frame).energies_ev.size, int(frame.info["n_states"])
(6, 6)
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from numpy.typing import NDArray

from .qchem import Excitations, TDDFTSettings, result_key
from .tddft_export import (
    DATASET_STORES,
    collect_entries,
    entries_from_store,
    stored_authors_groups,
    write_tddft_dataset,
)
from .tddft_frames import (
    _STRUCTURES,
    DISPLACED_SETS,
    PARTS,
    ROLES,
    _spectra_file,
    decode_transitions,
    encode_transitions,
    entry_excitations,
    make_entry,
    part_of,
    role_of,
)

__all__ = [
    "DATASET_STORES",
    "DISPLACED_SETS",
    "PARTS",
    "ROLES",
    "TDDFTDataset",
    "collect_entries",
    "decode_transitions",
    "encode_transitions",
    "entries_from_store",
    "entry_excitations",
    "load_tddft_dataset",
    "make_entry",
    "part_of",
    "role_of",
    "stored_authors_groups",
    "write_tddft_dataset",
]

#: Where the released dataset lives, relative to ``data/``.
RELEASE_DIR = "tddft"


@dataclass
class TDDFTDataset:
    """Our released TD-DFT dataset in memory.

    Attributes
    ----------
    entries : list of ase.Atoms
        Every frame, ``info`` as described in the module docstring.
    spectra : dict of str to (list of str, ndarray)
        Per kind, the frame ids and their broadened spectra (n, 500), L mol⁻¹ cm⁻¹.
    wavelength_nm : dict of str to ndarray
        Per kind, the grid of the spectra, nm.

    Examples
    --------
    >>> ds = load_tddft_dataset()
    >>> X, Y, frames = ds.training_set("absorption", ds.select(set="design-region", dot="Cd6Se6"))
    >>> X.shape[1], Y.shape[1], len(frames) == len(X) > 0
    (900, 500, True)
    """

    entries: list[Atoms]
    spectra: dict[str, tuple[list[str], NDArray[np.float64]]]
    wavelength_nm: dict[str, NDArray[np.float64]]

    def __repr__(self) -> str:
        counts = {k: len(v[0]) for k, v in self.spectra.items()}
        return f"TDDFTDataset({len(self.entries)} geometries; spectra: {counts})"

    def select(self, **labels) -> list[Atoms]:
        """Frames whose ``info`` matches every ``labels`` item."""
        return [e for e in self.entries if all(e.info.get(k) == v for k, v in labels.items())]

    @functools.cached_property
    def _by_id(self) -> dict[str, Atoms]:
        """Frames by key: their ``id``, and the ``store_key`` they were asked under where that differs."""
        out = {e.info["id"]: e for e in self.entries}
        out.update({e.info["store_key"]: e for e in self.entries if "store_key" in e.info})
        return out

    def get(self, atoms: Atoms, settings: TDDFTSettings | None = None) -> Excitations | None:
        """The excitations of ``atoms`` at ``settings`` (default: the paper's) if a frame holds them, else None.

        The lookup of :meth:`qdlib.store.ResultStore.get` (same key), so code that reads
        results takes the released dataset and a results store alike.
        """
        entry = self._by_id.get(result_key(atoms, settings or TDDFTSettings()))
        return None if entry is None else entry_excitations(entry)

    def get_by_key(self, key: str) -> Excitations | None:
        """The excitations stored under a results-store key (:meth:`qdlib.store.ResultStore.get_by_key`), or None."""
        entry = self._by_id.get(key)
        return None if entry is None else entry_excitations(entry)

    def training_set(self, kind: str, entries: Iterable[Atoms] | None = None):
        """Coulomb matrices and spectra of the frames of ``kind`` (all, or ``entries``).

        Frames whose excited states did not all converge (``td_converged``) stay in the
        dataset as a record but are left out here: their spectra are not labels.

        Returns
        -------
        X : ndarray, shape (n, 900)
            Padded Coulomb matrices in the authors' layout (:class:`~qdlib.features.CoulombMatrix`).
        Y : ndarray, shape (n, 500)
            Spectra, L mol⁻¹ cm⁻¹.
        frames : list of ase.Atoms
        """
        from .features import CoulombMatrix

        ids, Y = self.spectra[kind]
        row = {i: k for k, i in enumerate(ids)}
        frames = [e for e in (self.entries if entries is None else entries)
                  if e.info["id"] in row and np.all(e.info["td_converged"])]  # fmt: skip
        X = CoulombMatrix().create(frames)
        return X, Y[[row[e.info["id"]] for e in frames]], frames


def load_tddft_dataset(directory: str | Path | None = None, verify: bool = True,
                       parts: Sequence[str] | None = None) -> TDDFTDataset:
    """Read the released dataset (``data/tddft`` by default, hash-checked against the registry).

    Parameters
    ----------
    directory : path, optional
        A dataset of one's own (:func:`write_tddft_dataset`'s folder); not hash-checked.
    verify : bool
        Check the released files against ``data/registry.txt``.
    parts : sequence of str, optional
        Read only these parts (:func:`part_of`); default every part present.

    Raises
    ------
    qdlib.datasets.DataFileError
        If a file is missing, differs from the registry, or the files disagree with each other.

    Examples
    --------
    >>> ds = load_tddft_dataset()
    >>> ds.wavelength_nm["absorption"].size, ds.wavelength_nm["emission"].size
    (500, 500)
    >>> {e.info["set"] for e in load_tddft_dataset(parts=["campaign"]).entries} <= {"campaign", "reference"}
    True

    :func:`write_tddft_dataset` reads a dataset of one's own from its folder.
    """
    from .datasets import DataFileError
    from .paths import data_dir
    from .release import read_registry, verified_path

    if directory is not None:
        root = Path(directory)
        found = sorted(p.parent.name for p in root.glob(f"*/{_STRUCTURES}"))
        path = lambda name: root / name  # noqa: E731
    else:
        found = sorted({k.split("/")[1] for k in read_registry() if k.startswith(f"{RELEASE_DIR}/") and k.count("/") == 2})
        if verify:
            path = lambda name: verified_path(f"{RELEASE_DIR}/{name}")  # noqa: E731
        else:
            path = lambda name: data_dir() / RELEASE_DIR / name  # noqa: E731
    wanted = found if parts is None else [p for p in parts if p in found]
    if parts is not None and len(wanted) < len(parts):
        raise DataFileError(f"no part {sorted(set(parts) - set(found))} in the dataset (parts: {found})")
    entries, spectra, grids = [], {}, {}
    for part in wanted:
        e, s, g = _read_part(lambda name, part=part: path(f"{part}/{name}"))
        entries += e
        for kind in s:
            if kind in grids and not np.array_equal(grids[kind], g[kind]):
                raise DataFileError(f"{part}/{_spectra_file(kind)} is on another wavelength grid than the other parts")
            ids, Y = spectra.get(kind, ([], np.empty((0, g[kind].size))))
            spectra[kind], grids[kind] = (ids + s[kind][0], np.vstack([Y, s[kind][1]])), g[kind]
    return TDDFTDataset(entries, spectra, grids)


def _read_part(path):
    from ase.io import read

    from .datasets import DataFileError

    structures = path(_STRUCTURES)
    try:
        entries = read(structures, index=":", format="extxyz")
    except Exception as exc:
        raise DataFileError(f"cannot read {structures}: {exc}") from exc
    by_id = {e.info["id"]: e for e in entries}
    spectra, grids = {}, {}
    for kind in ("absorption", "emission"):
        with open(path(_spectra_file(kind)), newline="") as fh:
            rows = list(csv.reader(fh))
        grid = np.array(rows[0][1:], dtype=float)
        ids = [r[0] for r in rows[1:]]
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise DataFileError(f"{_spectra_file(kind)} has spectra of {len(unknown)} id(s) not in {_STRUCTURES}")
        Y = np.array([r[1:] for r in rows[1:]], dtype=float).reshape(len(ids), grid.size)
        spectra[kind], grids[kind] = (ids, Y), grid
    return entries, spectra, grids

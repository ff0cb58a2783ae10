"""The authors' published data, fetched with pooch and loaded as Python objects.

Files come from the authors' repository (github.com/KShiba24/INVERSE-DESIGN-DDPG)
at a pinned commit, each checked against its SHA-256. They are cached in
``pooch.os_cache("qdlib")``; set ``QDLIB_DATA_DIR`` to use another folder
(for example an offline mirror with the same layout).

The Coulomb matrices in the authors' CSV files are unsorted (atoms ordered
Se, Cd, Te and centred in 30 slots), so the geometries they were built from
can be recovered exactly: ``r_ij = Z_i Z_j / C_ij`` and classical
multidimensional scaling (:func:`recover_geometry`). Each structure appears
4× or 8× as atom-order permutations within an element; rows are grouped by
structure (:attr:`PaperDataset.row_group`) so that evaluation can hold out
whole structures.

The registry and the fetching of the files are :mod:`qdlib.authors_files`' idea, the
recovery of the geometries :mod:`qdlib.geometry_recovery`'s; their public names are importable
from here too.

>>> ds = fetch_paper_dataset("absorption")
>>> len(ds.structures), ds.X.shape
(42, (240, 900))
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from ase import Atoms
from numpy.typing import NDArray

from .authors_files import (
    _FILES,
    AUTHORS_COMMIT,
    AUTHORS_REPOSITORY,
    PAPER_DATA,
    DataFileError,
    _check_kind,
    _load_matrix,
    fetch_file,
    fetch_wavelength_grid,
)
from .features import N_SLOTS
from .geometry_recovery import NEIGHBOUR_BOUNDS_ANGSTROM, _physical_problem, _unpad, recover_geometry
from .structures import composition

__all__ = [
    "AUTHORS_COMMIT",
    "AUTHORS_REPOSITORY",
    "BENCHMARK_DOTS",
    "NEIGHBOUR_BOUNDS_ANGSTROM",
    "PAPER_DATA",
    "DataFileError",
    "PaperDataset",
    "benchmark_target",
    "fetch_benchmark_dot",
    "fetch_file",
    "fetch_paper_dataset",
    "fetch_wavelength_grid",
    "movable_indices",
    "recover_geometry",
]

log = logging.getLogger(__name__)

#: The paper's four benchmark dots and where their geometries come from.
BENCHMARK_DOTS: dict[str, str] = {
    "Cd4Se4": "absorption dataset",
    "Cd5Te5": "absorption dataset",
    "Cd5Se1Te4": "absorption dataset",
    "Cd6Se6": "Reinforcement_learning/Cd6Se6/Cd6Se6_abs.csv",
}


@dataclass(frozen=True)
class PaperDataset:
    """The authors' surrogate training set, grouped by structure.

    Attributes
    ----------
    kind : {"absorption", "emission"}
    wavelength_nm : ndarray, shape (500,)
        Spectral grid, nm.
    structures : list of ase.Atoms
        The distinct structures (one per group), rebuilt from the Coulomb
        matrices; ``info`` holds ``group``, ``composition``, ``rows`` (file
        rows of its permutation twins) and ``embedding_error_angstrom``.
    spectra : ndarray, shape (n_structures, 500)
        ε(λ) of each structure, L mol⁻¹ cm⁻¹ (unscaled).
    groups : ndarray of int, shape (n_structures,)
        Group id of each structure.
    X : ndarray, shape (n_rows, 900)
        The authors' flattened Coulomb matrices, rows that passed the check.
    Y : ndarray, shape (n_rows, 500)
        Their label spectra.
    row_index : ndarray of int, shape (n_rows,)
        Row number in the authors' files of each kept row.
    row_group : ndarray of int, shape (n_rows,)
        Group (structure) of each kept row; use as ``groups`` in
        :class:`sklearn.model_selection.GroupKFold`.
    rejected : dict of int to str
        File rows dropped by the physical check, with the reason.
    """

    kind: str
    wavelength_nm: NDArray[np.float64]
    structures: list[Atoms]
    spectra: NDArray[np.float64]
    groups: NDArray[np.int64]
    X: NDArray[np.float64]
    Y: NDArray[np.float64]
    row_index: NDArray[np.int64]
    row_group: NDArray[np.int64]
    rejected: dict[int, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        sizes = [len(a) for a in self.structures]
        return (f"PaperDataset({self.kind!r}: {len(self.Y)} rows, {len(self.structures)} distinct structures of "
                f"{min(sizes)}-{max(sizes)} atoms, {len(self.rejected)} rows rejected; "
                f"{self.wavelength_nm[0]:g}-{self.wavelength_nm[-1]:g} nm in {self.wavelength_nm.size} bins)")  # fmt: skip

    def structure(self, composition: str) -> Atoms:
        """The structure of a composition such as ``"Cd6Se6"`` or ``"Cd5Se1Te4"``.

        >>> atoms = fetch_paper_dataset("absorption").structure("Cd6Se6")
        >>> atoms.info["composition"], atoms.info["rows"]
        ('Cd6Se6Te0', [40, 41, 42, 43])
        """
        want = _normalise_formula(composition)
        for atoms in self.structures:
            if atoms.info["composition"] == want:
                return atoms.copy()
        raise KeyError(f"no {composition} structure in the {self.kind} dataset")


def _normalise_formula(name: str) -> str:
    return composition(Atoms(name))


def _group_rows(X: NDArray[np.float64]) -> tuple[NDArray[np.int64], list[int]]:
    """Group rows that are atom permutations of one structure (same composition, same CM spectrum)."""
    keys = []
    for row in X:
        block, z = _unpad(row)
        keys.append((composition(Atoms(numbers=z)), np.linalg.eigvalsh(block)))
    groups = np.empty(len(X), dtype=np.int64)
    representatives: list[int] = []
    for r, (comp, ev) in enumerate(keys):
        for g, rep in enumerate(representatives):
            comp_r, ev_r = keys[rep]
            if comp_r == comp and np.allclose(ev_r, ev, rtol=1e-9, atol=1e-9):
                groups[r] = g
                break
        else:
            groups[r] = len(representatives)
            representatives.append(r)
    return groups, representatives


def fetch_paper_dataset(kind: Literal["absorption", "emission"] = "absorption") -> PaperDataset:
    """The authors' absorption (240 rows) or emission (208 rows) training set.

    Rows that fail a physical check (an atom with no neighbour within 4 Å or
    two atoms closer than 1.5 Å; the emission set's Cd9Se7Te2 rows have one Se
    about 1e10 Å away) are dropped, logged and listed in
    :attr:`PaperDataset.rejected`.

    Parameters
    ----------
    kind : {"absorption", "emission"}

    Returns
    -------
    PaperDataset

    Examples
    --------
    The emission set: 208 rows in the files, the 8 rows with a detached atom dropped:

    >>> ds = fetch_paper_dataset("emission")
    >>> len(ds.Y), sorted(ds.rejected)
    (200, [80, 81, 82, 83, 84, 85, 86, 87])
    """
    x_name, y_name = _FILES[_check_kind(kind)]
    X = _load_matrix(x_name, N_SLOTS * N_SLOTS)
    Y = _load_matrix(y_name, 500)
    if len(X) != len(Y):
        raise DataFileError(f"{x_name} has {len(X)} rows but {y_name} has {len(Y)}")
    grid = fetch_wavelength_grid(kind)

    rejected: dict[int, str] = {}
    for r, row in enumerate(X):
        problem = _physical_problem(row)
        if problem:
            rejected[r] = problem
    if rejected:
        first = next(iter(rejected.values()))
        log.warning(
            "%s dataset: dropped %d row(s) failing the physical check (rows %s; e.g. %s)",
            kind, len(rejected), sorted(rejected), first,
        )
    keep = np.array([r for r in range(len(X)) if r not in rejected], dtype=np.int64)
    raw_groups, reps = _group_rows(X[keep])
    structures, spectra = [], []
    for g, rep in enumerate(reps):
        members = keep[raw_groups == g]
        labels = Y[members]
        if np.ptp(labels, axis=0).max() > 1e-9 * max(1.0, np.abs(labels).max()):
            raise DataFileError(f"{kind} rows {members.tolist()} are one structure but carry different spectra")
        atoms, err = recover_geometry(X[keep[rep]])
        atoms.info.update(
            group=g,
            composition=composition(atoms),
            rows=members.tolist(),
            embedding_error_angstrom=err,
            source=f"{AUTHORS_REPOSITORY}@{AUTHORS_COMMIT[:7]}:{x_name}",
        )
        structures.append(atoms)
        spectra.append(Y[keep[rep]])
    return PaperDataset(
        kind=kind,
        wavelength_nm=grid,
        structures=structures,
        spectra=np.array(spectra),
        groups=np.arange(len(reps), dtype=np.int64),
        X=X[keep],
        Y=Y[keep],
        row_index=keep,
        row_group=raw_groups,
        rejected=rejected,
    )


def movable_indices(atoms: Atoms, n_movable: int = 1) -> list[int]:
    """Indices of the atoms the authors' design moves: the last ``n_movable`` Cd atoms, last first.

    The authors' Cd6Se6 design file moves its last Cd; with more atoms we take
    the Cd atoms before it in the same file order.

    >>> from ase import Atoms
    >>> movable_indices(Atoms("Se6Cd6"), 3)
    [11, 10, 9]
    """
    cd = [i for i, s in enumerate(atoms.get_chemical_symbols()) if s == "Cd"]
    if not 1 <= n_movable <= len(cd):
        raise ValueError(f"n_movable must be within 1..{len(cd)}, got {n_movable}")
    return cd[::-1][:n_movable]


def fetch_benchmark_dot(name: str, n_movable: int = 1) -> Atoms:
    """One of the paper's benchmark dots, at the authors' geometry.

    Cd6Se6 comes from the authors' design file (their coordinates and target
    absorption spectrum); Cd4Se4, Cd5Te5 and Cd5Se1Te4 are recovered from their
    absorption dataset (atoms ordered Se, Cd, Te, centred at the origin).

    Parameters
    ----------
    name : {"Cd4Se4", "Cd5Te5", "Cd5Se1Te4", "Cd6Se6"}
    n_movable : int
        Number of designed atoms (1–3), stored in ``info["movable"]``.

    Returns
    -------
    ase.Atoms
        ``info``: ``name``, ``movable`` (indices), ``spectrum_absorption``
        (the authors' label, L mol⁻¹ cm⁻¹ on the absorption grid) and
        ``source``.

    Examples
    --------
    >>> from qdlib.spectra import peak_wavelength, wavelength_grid
    >>> dot = fetch_benchmark_dot("Cd6Se6", n_movable=2)
    >>> dot.get_chemical_formula(), dot.info["movable"]
    ('Cd6Se6', [11, 10])
    >>> round(peak_wavelength(dot.info["spectrum_absorption"], wavelength_grid("absorption")), 1)
    374.4
    """
    if name not in BENCHMARK_DOTS:
        raise ValueError(f"unknown benchmark dot {name!r}; choose from {list(BENCHMARK_DOTS)}")
    if name == "Cd6Se6":
        atoms, spectrum = _read_design_file(BENCHMARK_DOTS[name])
        source = f"{AUTHORS_REPOSITORY}@{AUTHORS_COMMIT[:7]}:{BENCHMARK_DOTS[name]}"
    else:
        ds = fetch_paper_dataset("absorption")
        atoms = ds.structure(name)
        spectrum = ds.spectra[atoms.info["group"]]
        source = atoms.info["source"]
        atoms.info.clear()
    atoms.info.update(
        name=name,
        movable=movable_indices(atoms, n_movable),
        spectrum_absorption=np.asarray(spectrum, dtype=float),
        source=source,
    )
    return atoms


def _read_design_file(name: str) -> tuple[Atoms, NDArray[np.float64]]:
    """Atoms and target spectrum from one of the authors' ``<dot>_abs.csv`` design files."""
    import csv

    path = fetch_file(name)
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    expected = {"atom", "atomnum", "X", "Y", "Z", "label"}
    if not rows or set(rows[0]) != expected:
        raise DataFileError(f"{path}: expected columns {sorted(expected)}")
    atom_rows = [r for r in rows if r["atom"]]
    try:
        symbols = [r["atom"] for r in atom_rows]
        numbers = [int(r["atomnum"]) for r in atom_rows]
        positions = [[float(r[c]) for c in "XYZ"] for r in atom_rows]
        labels = np.array([float(r["label"]) for r in rows])
    except ValueError as exc:
        raise DataFileError(f"{path}: non-numeric entry: {exc}") from exc
    atoms = Atoms(symbols, positions=positions)
    if atoms.numbers.tolist() != numbers:
        raise DataFileError(f"{path}: element symbols and atomic numbers disagree")
    if labels.size != 500:
        raise DataFileError(f"{path}: {labels.size} label values, expected 500")
    return atoms, labels


def benchmark_target(dot: str, kind: str = "absorption", n_movable: int = 1) -> tuple[Atoms, NDArray[np.float64]]:
    """A benchmark dot at the authors' geometry of ``kind`` and their target spectrum of that kind.

    Absorption: the ground-state geometry and absorption label; emission: the relaxed S1 geometry
    and emission label (L mol⁻¹ cm⁻¹). ``info["movable"]`` holds the designed atoms. Read once per
    process; every call returns fresh copies.

    >>> from qdlib.spectra import peak_wavelength, wavelength_grid
    >>> atoms, target = benchmark_target("Cd6Se6", "absorption", n_movable=2)
    >>> atoms.get_chemical_formula(), atoms.info["movable"], round(peak_wavelength(target, wavelength_grid()), 1)
    ('Cd6Se6', [11, 10], 374.4)
    """
    atoms, target = _benchmark_target(dot, kind, n_movable)
    return atoms.copy(), target.copy()  # ase copies info deeply


@functools.cache
def _benchmark_target(dot: str, kind: str, n_movable: int) -> tuple[Atoms, NDArray[np.float64]]:
    if kind == "absorption":
        atoms = fetch_benchmark_dot(dot, n_movable)
        return atoms, atoms.info["spectrum_absorption"]
    if kind != "emission":
        raise ValueError(f"kind must be 'absorption' or 'emission', got {kind!r}")
    ds = fetch_paper_dataset("emission")
    atoms = ds.structure(dot)
    atoms.info.update(name=dot, movable=movable_indices(atoms, n_movable))
    return atoms, ds.spectra[list(ds.groups).index(atoms.info["group"])]

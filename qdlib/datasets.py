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

>>> ds = fetch_paper_dataset("absorption")
>>> len(ds.structures), ds.X.shape
(42, (240, 900))
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pooch
from ase import Atoms
from numpy.typing import NDArray

from .features import CM_A, CM_B, N_SLOTS
from .spectra import wavelength_grid
from .structures import composition

__all__ = [
    "AUTHORS_REPOSITORY",
    "AUTHORS_COMMIT",
    "PAPER_DATA",
    "DataFileError",
    "PaperDataset",
    "BENCHMARK_DOTS",
    "fetch_file",
    "fetch_paper_dataset",
    "fetch_benchmark_dot",
    "benchmark_target",
    "fetch_wavelength_grid",
    "recover_geometry",
    "movable_indices",
]

log = logging.getLogger(__name__)

AUTHORS_REPOSITORY = "KShiba24/INVERSE-DESIGN-DDPG"
AUTHORS_COMMIT = "cb4e1f1c6e6eff84ec39929e0216db28f6211e9d"

#: The one registry of the authors' files (paths as in their repository).
PAPER_DATA = pooch.create(
    path=pooch.os_cache("qdlib"),
    base_url=f"https://raw.githubusercontent.com/{AUTHORS_REPOSITORY}/{AUTHORS_COMMIT}/",
    env="QDLIB_DATA_DIR",
    retry_if_failed=2,
    registry={
        "Machine_learning/dataset/RCM_input_data.csv": "sha256:91229be1574085b0918765442ce26ffbe74015ce979d0b30f25772147afb3290",
        "Machine_learning/dataset/RCM_label_data.csv": "sha256:96fa2287756cb51250b61f7ec302c37db367d74cb25efd327075e5130b3add52",
        "Machine_learning/dataset/RCM_input_data_emi.csv": "sha256:14af43eadf3cfae8f7ff0b0f02ed602b8a9b225c43fa878c653653fda0f23283",
        "Machine_learning/dataset/RCM_label_data_emi.csv": "sha256:0143ebdda75562b83eb3dc0f1598ad0a2c374fae719712894af9fa63f6526400",
        "Machine_learning/dataset/wavelengeth.csv": "sha256:c3937036fa7c3a78e958bf2bc997112d94c77528844cba8dd10ee265d2a7816a",
        "Machine_learning/dataset/wavelengeth_emi.csv": "sha256:52b0b9cf1c73c2b93ae489fddc6720fe64dcbdbce3e97359ab4fe1dbb82b1940",
        "Reinforcement_learning/Cd6Se6/Cd6Se6_abs.csv": "sha256:22f67c45e87693d794a694d53f888476e0d3c7c5c3e333d31b50fbc60cec1ca1",
    },
)

_FILES = {
    "absorption": ("Machine_learning/dataset/RCM_input_data.csv", "Machine_learning/dataset/RCM_label_data.csv"),
    "emission": ("Machine_learning/dataset/RCM_input_data_emi.csv", "Machine_learning/dataset/RCM_label_data_emi.csv"),
}
_GRID_FILES = {
    "absorption": "Machine_learning/dataset/wavelengeth.csv",
    "emission": "Machine_learning/dataset/wavelengeth_emi.csv",
}

#: Bounds of the physical check on recovered structures, Å: no pair closer
#: than the first, every atom with a neighbour within the second.
NEIGHBOUR_BOUNDS_ANGSTROM = (1.5, 4.0)

#: The paper's four benchmark dots and where their geometries come from.
BENCHMARK_DOTS: dict[str, str] = {
    "Cd4Se4": "absorption dataset",
    "Cd5Te5": "absorption dataset",
    "Cd5Se1Te4": "absorption dataset",
    "Cd6Se6": "Reinforcement_learning/Cd6Se6/Cd6Se6_abs.csv",
}


class DataFileError(RuntimeError):
    """A data file that is missing, corrupt or not what the code expects."""


def fetch_file(name: str) -> Path:
    """Local path of one registry file, downloading and verifying it if needed.

    Raises
    ------
    DataFileError
        If the file cannot be had with the registered SHA-256 (corrupt
        download, corrupt cached copy that cannot be replaced, no network).

    Examples
    --------
    >>> fetch_file("Machine_learning/dataset/wavelengeth.csv").name
    'wavelengeth.csv'
    """
    if name not in PAPER_DATA.registry:
        raise DataFileError(f"{name!r} is not in the registry; known files: {sorted(PAPER_DATA.registry)}")
    try:
        return Path(PAPER_DATA.fetch(name, progressbar=False))
    except Exception as exc:
        local = Path(PAPER_DATA.abspath) / name
        raise DataFileError(
            f"could not obtain a verified copy of {name} (expected {PAPER_DATA.registry[name]}). "
            f"Local copy: {local} ({'present' if local.exists() else 'absent'}); "
            f"source: {PAPER_DATA.get_url(name)}. Point QDLIB_DATA_DIR at a folder holding the authors' "
            f"files, or delete the corrupt copy to download it again. Cause: {type(exc).__name__}: {exc}"
        ) from exc


def _load_matrix(name: str, n_cols: int, skip_header: bool = False) -> NDArray[np.float64]:
    path = fetch_file(name)
    return _parse_matrix(str(path), path.stat().st_mtime_ns, n_cols, skip_header).copy()


@functools.lru_cache(maxsize=16)
def _parse_matrix(path: str, mtime_ns: int, n_cols: int, skip_header: bool) -> NDArray[np.float64]:
    """Parse a numeric CSV once per (file, modification time)."""
    try:
        data = np.loadtxt(path, delimiter=",", ndmin=2, skiprows=int(skip_header), encoding="utf-8-sig")
    except ValueError as exc:
        raise DataFileError(f"{path} is not a numeric CSV: {exc}") from exc
    if data.shape[1] != n_cols:
        raise DataFileError(f"{path} has {data.shape[1]} columns, expected {n_cols}")
    return data


def fetch_wavelength_grid(kind: Literal["absorption", "emission"] = "absorption") -> NDArray[np.float64]:
    """The authors' wavelength grid file, nm, checked against :func:`qdlib.spectra.wavelength_grid`.

    >>> grid = fetch_wavelength_grid("emission")
    >>> grid.size, float(grid[0]), float(grid[-1])
    (500, 300.0, 2994.6)
    """
    grid = _load_matrix(_GRID_FILES[_check_kind(kind)], 1, skip_header=True)[:, 0]
    ours = wavelength_grid(kind)
    if grid.shape != ours.shape or not np.allclose(grid, ours, atol=1e-9):
        raise DataFileError(f"the authors' {kind} grid does not match the paper grid")
    return grid


def _check_kind(kind: str) -> str:
    if kind not in _FILES:
        raise ValueError(f"kind must be 'absorption' or 'emission', got {kind!r}")
    return kind


def _unpad(flat: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """The occupied block of a padded Coulomb matrix and its atomic numbers."""
    cm = np.asarray(flat, dtype=float).reshape(N_SLOTS, N_SLOTS)
    occupied = np.nonzero(np.diag(cm))[0]
    if occupied.size == 0:
        raise DataFileError("empty Coulomb matrix row")
    if np.any(np.diff(occupied) != 1):
        raise DataFileError("Coulomb matrix row has gaps between occupied slots")
    block = cm[np.ix_(occupied, occupied)]
    z_real = (np.diag(block) / CM_A) ** (1.0 / CM_B)
    z = np.rint(z_real).astype(np.int64)
    if np.max(np.abs(z_real - z)) > 1e-3:
        raise DataFileError(f"diagonal does not encode integer atomic numbers: {z_real.round(4).tolist()}")
    return block, z


def recover_geometry(flat_cm: NDArray[np.float64]) -> tuple[Atoms, float]:
    """Rebuild a structure from one of the authors' Coulomb-matrix rows.

    Distances follow from ``r_ij = Z_i Z_j / C_ij``; coordinates from
    classical multidimensional scaling (the top three eigenvectors of the
    double-centred squared-distance matrix). The result is centred at the
    origin and fixed only up to rotation and reflection.

    Parameters
    ----------
    flat_cm : ndarray, shape (900,)
        One row of the authors' input CSV.

    Returns
    -------
    atoms : ase.Atoms
        Atoms in the file's order (Se, Cd, Te).
    embedding_error_angstrom : float
        Largest difference between the recovered and the encoded distances, Å.

    Examples
    --------
    A CdSe₂ fragment encoded in the authors' 30-slot layout, then rebuilt:

    >>> from ase import Atoms
    >>> from qdlib.features import CoulombMatrix
    >>> row = CoulombMatrix(n_max=30).create(Atoms("CdSe2", positions=[[0, 0, 0], [0, 0, 2.6], [0, 2.6, 0]]))
    >>> atoms, err = recover_geometry(row)
    >>> atoms.get_chemical_symbols(), round(err, 6)
    (['Se', 'Se', 'Cd'], 0.0)
    >>> atoms.get_all_distances().round(3)
    array([[0.   , 3.677, 2.6  ],
           [3.677, 0.   , 2.6  ],
           [2.6  , 2.6  , 0.   ]])
    """
    block, z = _unpad(flat_cm)
    n = z.size
    with np.errstate(divide="ignore"):
        d = np.outer(z, z) / block
    np.fill_diagonal(d, 0.0)
    d2 = np.square(d)
    j = np.eye(n) - 1.0 / n
    b = -0.5 * j @ d2 @ j
    w, v = np.linalg.eigh(b)
    top = np.argsort(w)[::-1][:3]
    coords = v[:, top] * np.sqrt(np.clip(w[top], 0.0, None))
    atoms = Atoms(numbers=z, positions=coords)
    back = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    with np.errstate(invalid="ignore"):
        err = float(np.nanmax(np.abs(back - d))) if np.all(np.isfinite(d)) else np.inf
    return atoms, err


def _physical_problem(flat_cm: NDArray[np.float64]) -> str | None:
    """Why a row is not a physical structure, or ``None``."""
    block, z = _unpad(flat_cm)
    with np.errstate(divide="ignore"):
        d = np.outer(z, z) / block
    np.fill_diagonal(d, np.inf)
    nearest = d.min(axis=1)
    lo, hi = NEIGHBOUR_BOUNDS_ANGSTROM
    if nearest.min() < lo:
        return f"atoms closer than {lo} Å ({nearest.min():.3g} Å)"
    far = np.nonzero(nearest > hi)[0]
    if far.size:
        return f"atom(s) {far.tolist()} have no neighbour within {hi} Å (nearest {nearest[far].min():.3g} Å)"
    return None


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

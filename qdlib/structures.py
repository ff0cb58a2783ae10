"""Quantum-dot structures: validation, xyz I/O, random clusters, displacements.

Structures are :class:`ase.Atoms` with metadata in ``atoms.info``; files are
read and written through :mod:`ase.io` (xyz / extxyz).

>>> import numpy as np
>>> atoms = random_cluster(8, rng=np.random.default_rng(0))
>>> composition(atoms), len(atoms)
('Cd4Se4Te0', 8)
>>> validate(atoms) is atoms, is_connected(atoms)
(True, True)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np
from ase import Atoms
from numpy.typing import ArrayLike

__all__ = [
    "StructureError",
    "SUPPORTED_ELEMENTS",
    "BOND_LENGTH_ANGSTROM",
    "validate",
    "read",
    "write",
    "distances",
    "composition",
    "is_connected",
    "same_structure",
    "distinct_structures",
    "random_cluster",
    "displace_in_cuboid",
    "displace_by",
]

log = logging.getLogger(__name__)

#: Elements of the paper's Cd_xSe_yTe_(x-y) dots (LanL2DZ with ECP for all three).
SUPPORTED_ELEMENTS: tuple[str, ...] = ("Cd", "Se", "Te")
#: Typical cation–anion bond lengths in small CdX clusters, Å.
BOND_LENGTH_ANGSTROM: dict[str, float] = {"Se": 2.6, "Te": 2.8}
#: Largest dot the paper's 30-slot Coulomb matrix holds.
MAX_ATOMS: int = 30
#: Closest allowed interatomic distance, Å (a Cd–Se bond is 2.6 Å).
MIN_DISTANCE_ANGSTROM: float = 1.5


class StructureError(ValueError):
    """A structure that cannot be used: bad file, element, size or geometry."""


def distances(atoms: Atoms) -> np.ndarray:
    """All interatomic distances, Å, shape (n, n), no periodic images.

    >>> from ase import Atoms
    >>> distances(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])).round(2)
    array([[0. , 2.6],
           [2.6, 0. ]])
    """
    r = atoms.positions
    return np.linalg.norm(r[:, None, :] - r[None, :, :], axis=-1)


def composition(atoms: Atoms) -> str:
    """Composition label in the paper's Cd_x Se_y Te_z form, zeros kept: ``"Cd6Se6Te0"``.

    >>> from ase import Atoms
    >>> composition(Atoms("Cd5SeTe4"))
    'Cd5Se1Te4'
    """
    symbols = atoms.get_chemical_symbols()
    return "".join(f"{el}{symbols.count(el)}" for el in SUPPORTED_ELEMENTS)


def validate(
    atoms: Atoms,
    *,
    elements: Sequence[str] | None = SUPPORTED_ELEMENTS,
    max_atoms: int = MAX_ATOMS,
    min_distance_angstrom: float = MIN_DISTANCE_ANGSTROM,
    max_neighbour_distance_angstrom: float | None = None,
) -> Atoms:
    """Check that a structure is usable and return it unchanged.

    Parameters
    ----------
    atoms : ase.Atoms
    elements : sequence of str or None
        Allowed elements; ``None`` allows any element.
    max_atoms : int
        Largest allowed number of atoms.
    min_distance_angstrom : float
        Atoms closer than this are taken as overlapping, Å.
    max_neighbour_distance_angstrom : float or None
        If given, every atom needs a neighbour within this distance, Å
        (catches detached atoms).

    Raises
    ------
    StructureError
        With a message naming the problem and the offending atoms.

    Examples
    --------
    >>> from ase import Atoms
    >>> validate(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 1.0]]))
    Traceback (most recent call last):
        ...
    qdlib.structures.StructureError: atoms 0 (Cd) and 1 (Se) overlap: 1.000 Å apart, minimum allowed 1.5 Å
    """
    if not isinstance(atoms, Atoms):
        raise StructureError(f"expected ase.Atoms, got {type(atoms).__name__}")
    n = len(atoms)
    if n == 0:
        raise StructureError("structure has no atoms")
    if n > max_atoms:
        raise StructureError(f"{atoms.get_chemical_formula()} has {n} atoms; at most {max_atoms} are supported")
    if elements is not None:
        bad = sorted(set(atoms.get_chemical_symbols()) - set(elements))
        if bad:
            raise StructureError(f"unsupported element(s) {bad}; supported: {list(elements)}")
    pos = atoms.positions
    if not np.all(np.isfinite(pos)):
        rows = np.unique(np.nonzero(~np.isfinite(pos))[0]).tolist()
        raise StructureError(f"non-finite coordinates (NaN or inf) for atom(s) {rows}")
    if n > 1:
        d = distances(atoms)
        np.fill_diagonal(d, np.inf)
        i, j = np.unravel_index(np.argmin(d), d.shape)
        if d[i, j] < min_distance_angstrom:
            sym = atoms.get_chemical_symbols()
            raise StructureError(
                f"atoms {i} ({sym[i]}) and {j} ({sym[j]}) overlap: {d[i, j]:.3f} Å apart, "
                f"minimum allowed {min_distance_angstrom} Å"
            )
        if max_neighbour_distance_angstrom is not None:
            nearest = d.min(axis=1)
            far = np.nonzero(nearest > max_neighbour_distance_angstrom)[0]
            if far.size:
                raise StructureError(
                    f"atom(s) {far.tolist()} have no neighbour within {max_neighbour_distance_angstrom} Å "
                    f"(nearest {nearest[far].min():.3g} Å): detached"
                )
    return atoms


def read(path: str | os.PathLike, index: int | str | None = None, **validate_kwargs) -> Atoms | list[Atoms]:
    """Read and validate structures from an xyz/extxyz (or any ASE-readable) file.

    Parameters
    ----------
    path : path-like
    index : int, str or None
        ASE index: ``None`` for the last frame, ``":"`` for all frames.
    **validate_kwargs
        Passed to :func:`validate`.

    Raises
    ------
    StructureError
        If the file is missing or cannot be parsed, or a structure is invalid.

    Examples
    --------
    >>> from ase import Atoms
    >>> write("dimer.xyz", Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]]))
    >>> atoms = read("dimer.xyz")
    >>> atoms.get_chemical_formula(), atoms.positions[1].tolist()
    ('CdSe', [0.0, 0.0, 2.6])
    >>> read("missing.xyz")
    Traceback (most recent call last):
        ...
    qdlib.structures.StructureError: no such structure file: missing.xyz
    """
    import ase.io

    path = os.fspath(path)
    if not os.path.exists(path):
        raise StructureError(f"no such structure file: {path}")
    try:
        comments = _plain_xyz_comments(path)
        result = ase.io.read(path, index=index, format="xyz" if comments is not None else None)
        if comments is not None:  # a plain xyz comment is text, not extxyz key=value pairs
            from ase.io.formats import string2index

            chosen = comments[string2index(index) if isinstance(index, str) else -1 if index is None else index]
            frames = result if isinstance(result, list) else [result]
            for atoms, text in zip(frames, chosen if isinstance(chosen, list) else [chosen]):
                atoms.info = {"comment": text} if text else {}
    except KeyError as exc:  # ASE's lookup of an element symbol
        raise StructureError(f"cannot parse {path}: unknown element symbol {exc}") from exc
    except Exception as exc:  # ASE raises many types for malformed input
        raise StructureError(f"cannot parse {path}: {type(exc).__name__}: {exc}") from exc
    frames = result if isinstance(result, list) else [result]
    if not frames:
        raise StructureError(f"{path} holds no structure")
    for k, atoms in enumerate(frames):
        try:
            validate(atoms, **validate_kwargs)
        except StructureError as exc:
            raise StructureError(f"{path} frame {k}: {exc}") from None
    return result


def _plain_xyz_comments(path: str) -> list[str] | None:
    """The comment line of every frame of a plain xyz file; ``None`` if the file is extended xyz (or not xyz).

    A comment is extended xyz when it holds ``Properties=`` or ``Lattice=``, or consists of
    ``key=value`` pairs only; anything else (free text, as plain xyz files carry) is plain.
    """
    if not path.lower().endswith(".xyz"):
        return None
    with open(path) as fh:
        lines = fh.read().splitlines()
    comments, i = [], 0
    while i < len(lines) and lines[i].strip():
        try:
            n = int(lines[i].split()[0])
        except ValueError:
            return None  # not xyz as we know it: let ASE say what is wrong
        comments.append(lines[i + 1].strip() if i + 1 < len(lines) else "")
        i += n + 2
    extended = [("Properties=" in c or "Lattice=" in c or (c and all("=" in tok for tok in c.split()))) for c in comments]
    return None if any(extended) else comments


def write(path: str | os.PathLike, atoms: Atoms | Sequence[Atoms], **kwargs) -> None:
    """Write structures as extended xyz (``atoms.info`` kept as per-frame metadata).

    >>> from ase import Atoms
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]], info={"name": "dimer"})
    >>> write("dimer.extxyz", [dimer, dimer])
    >>> [a.info["name"] for a in read("dimer.extxyz", index=":")]
    ['dimer', 'dimer']
    """
    import ase.io

    ase.io.write(os.fspath(path), atoms, format="extxyz", **kwargs)


def is_connected(atoms: Atoms, cutoff_angstrom: float = 3.4) -> bool:
    """Whether the bond graph (pairs closer than ``cutoff_angstrom``) is connected.

    >>> from ase import Atoms
    >>> is_connected(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]]))
    True
    >>> is_connected(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 5.0]]))
    False
    """
    from scipy.sparse.csgraph import connected_components

    adj = distances(atoms) < cutoff_angstrom
    n_comp, _ = connected_components(adj, directed=False)
    return n_comp == 1


def same_structure(a: Atoms, b: Atoms, tol_angstrom: float = 0.02) -> bool:
    """Whether two clusters are one structure, up to rotation, translation and atom order.

    Same composition, and for every element pair the sorted interatomic
    distances agree within ``tol_angstrom`` (Å). Relaxations from different
    starts that reach one minimum agree to a few thousandths of an ångström.
    Equal distance lists are necessary, not sufficient (a homometric pair,
    rare for relaxed clusters, would pass).

    Examples
    --------
    >>> from ase import Atoms
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
    >>> turned = dimer.copy()
    >>> turned.rotate(90, "x")
    >>> turned.translate([1.0, 2.0, 3.0])
    >>> same_structure(dimer, turned), same_structure(dimer, displace_by(dimer, [1], 0.1, rng=0))
    (True, False)
    """
    if len(a) != len(b) or composition(a) != composition(b):
        return False
    return all(np.max(np.abs(x - y), initial=0.0) <= tol_angstrom for x, y in zip(_pair_distances(a), _pair_distances(b)))


def distinct_structures(structures: Sequence[Atoms], tol_angstrom: float = 0.02) -> dict[int, int]:
    """For each structure that repeats an earlier one (:func:`same_structure`), the index of the first.

    Returns ``{index: index of its first occurrence}`` for the repeats only;
    an empty dict when all are distinct.

    >>> from ase import Atoms
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
    >>> shifted = dimer.copy()
    >>> shifted.translate([1.0, 0.0, 0.0])
    >>> distinct_structures([dimer, displace_by(dimer, [1], 0.5, rng=0), shifted])
    {2: 0}
    """
    firsts: list[int] = []
    repeats = {}
    for i, atoms in enumerate(structures):
        first = next((j for j in firsts if same_structure(structures[j], atoms, tol_angstrom)), None)
        if first is None:
            firsts.append(i)
        else:
            repeats[i] = first
    return repeats


def _pair_distances(atoms: Atoms) -> list[np.ndarray]:
    """Sorted distances (Å) of each element pair, pairs in a fixed order."""
    z, d = atoms.numbers, distances(atoms)
    iu, ju = np.triu_indices(len(atoms), 1)
    pairs = np.sort(np.stack([z[iu], z[ju]]), axis=0)
    out = []
    for p in sorted({tuple(c) for c in pairs.T}):
        mask = (pairs[0] == p[0]) & (pairs[1] == p[1])
        out.append(np.sort(d[iu[mask], ju[mask]]))
    return out


def _composition(n_atoms: int, n_se: int | None, rng: np.random.Generator) -> list[str]:
    if n_atoms % 2 or not 8 <= n_atoms <= MAX_ATOMS:
        raise ValueError(f"n_atoms must be even and within 8..{MAX_ATOMS} (Cd_x Se_y Te_(x-y)), got {n_atoms}")
    n_cd = n_atoms // 2
    if n_se is None:
        n_se = int(rng.integers(0, n_cd + 1))
    if not 0 <= n_se <= n_cd:
        raise ValueError(f"n_se must be within 0..{n_cd}, got {n_se}")
    anions = ["Se"] * n_se + ["Te"] * (n_cd - n_se)
    rng.shuffle(anions)
    return anions


def random_cluster(
    n_atoms: int,
    rng: np.random.Generator | int | None = None,
    *,
    n_se: int | None = None,
    n_candidates: int = 64,
    same_species_min_angstrom: float = 3.2,
) -> Atoms:
    """A random, connected Cd_x Se_y Te_(x−y) starting geometry.

    Cations and anions are added alternately; each new atom sits at the
    cation–anion bond length (Cd–Se 2.6 Å, Cd–Te 2.8 Å) from an atom of the
    other kind, at the candidate position with the most bonds (compact
    clusters), never closer than 0.9 bond lengths to another cation–anion
    pair nor ``same_species_min_angstrom`` to a like pair.

    Parameters
    ----------
    n_atoms : int
        Even number of atoms, 8–30 (x = n_atoms / 2 cadmium atoms).
    rng : numpy.random.Generator, int or None
        Random source or seed.
    n_se : int or None
        Number of Se atoms (the rest of the anions are Te); drawn uniformly
        from 0..x when ``None``.
    n_candidates : int
        Candidate positions tried per added atom.
    same_species_min_angstrom : float
        Closest allowed Cd–Cd or anion–anion distance, Å.

    Returns
    -------
    ase.Atoms
        Centred at the origin; ``info["composition"]`` as :func:`composition`.

    Examples
    --------
    >>> atoms = random_cluster(10, rng=0, n_se=2)
    >>> atoms.info["composition"], is_connected(atoms)
    ('Cd5Se2Te3', True)
    """
    rng = np.random.default_rng(rng)
    anions = _composition(n_atoms, n_se, rng)
    order: list[str] = []
    for anion in anions:
        order += ["Cd", anion]
    symbols: list[str] = [order[0]]
    positions: list[np.ndarray] = [np.zeros(3)]
    for sym in order[1:]:
        is_cation = sym == "Cd"
        hosts = [k for k, s in enumerate(symbols) if (s == "Cd") != is_cation]
        pos = np.array(positions)
        best, best_score = None, -np.inf
        for _ in range(50):
            host = rng.choice(hosts, size=n_candidates)
            v = rng.normal(size=(n_candidates, 3))
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            bond = np.array([BOND_LENGTH_ANGSTROM[sym if not is_cation else symbols[h]] for h in host])
            cand = pos[host] + bond[:, None] * v
            d = np.linalg.norm(cand[:, None, :] - pos[None, :, :], axis=-1)
            other = np.array([(s == "Cd") != is_cation for s in symbols])
            pair_bond = np.array(
                [BOND_LENGTH_ANGSTROM[sym if not is_cation else s] if o else 0.0 for s, o in zip(symbols, other)]
            )
            ok_other = np.all(np.where(other, d >= 0.9 * pair_bond, True), axis=1)
            ok_same = np.all(np.where(~other, d >= same_species_min_angstrom, True), axis=1)
            ok = ok_other & ok_same
            if not ok.any():
                continue
            n_bonds = np.sum(other & (d < 1.15 * pair_bond), axis=1)
            score = n_bonds - 0.01 * np.linalg.norm(cand - pos.mean(axis=0), axis=1)
            score = np.where(ok, score, -np.inf)
            k = int(np.argmax(score))
            if score[k] > best_score:
                best, best_score = cand[k], score[k]
            break
        if best is None:
            raise RuntimeError(f"could not place atom {len(symbols)} ({sym}); try another seed")
        symbols.append(sym)
        positions.append(best)
    atoms = Atoms(symbols, positions=np.array(positions))
    atoms.positions -= atoms.positions.mean(axis=0)
    atoms.info["composition"] = composition(atoms)
    return atoms


def displace_in_cuboid(
    atoms: Atoms,
    indices: Sequence[int],
    edge_angstrom: float | ArrayLike,
    rng: np.random.Generator | int | None = None,
    *,
    center_angstrom: ArrayLike | None = None,
    min_distance_angstrom: float | None = MIN_DISTANCE_ANGSTROM,
    max_tries: int = 1000,
) -> Atoms:
    """Move chosen atoms to uniform random positions inside a cuboid.

    Parameters
    ----------
    atoms : ase.Atoms
        Reference structure (not modified).
    indices : sequence of int
        Atoms to move.
    edge_angstrom : float or array_like, shape (3,)
        Cuboid edge(s), Å (the paper: 4 or 10); the cuboid is centred on each
        atom's reference position (or ``center_angstrom``).
    rng : numpy.random.Generator, int or None
    center_angstrom : array_like, shape (len(indices), 3), optional
        Cuboid centres; default the atoms' current positions.
    min_distance_angstrom : float or None
        Redraw until no two atoms are closer than this; ``None`` accepts any draw.
    max_tries : int
        Redraws before giving up.

    Returns
    -------
    ase.Atoms
        A copy with ``info["displaced"]`` (indices) and
        ``info["displacement_angstrom"]`` (norm of each move).

    Raises
    ------
    RuntimeError
        If no draw satisfies ``min_distance_angstrom`` within ``max_tries``.

    Examples
    --------
    The Se of a dimer moved inside a 4 Å cube around its position:

    >>> from ase import Atoms
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
    >>> moved = displace_in_cuboid(dimer, [1], 4.0, rng=0)
    >>> moved.positions[1].round(2), moved.info["displaced"]
    (array([-1.93,  1.25,  4.25]), [1])
    """
    idx = np.asarray(indices, dtype=int)
    half = 0.5 * np.broadcast_to(np.asarray(edge_angstrom, dtype=float), (3,))
    center = atoms.positions[idx] if center_angstrom is None else np.asarray(center_angstrom, dtype=float)
    return _displace(atoms, idx, lambda rng: center + rng.uniform(-half, half, size=(idx.size, 3)), rng, min_distance_angstrom, max_tries)


def displace_by(
    atoms: Atoms,
    indices: Sequence[int],
    distance_angstrom: float,
    rng: np.random.Generator | int | None = None,
    *,
    min_distance_angstrom: float | None = MIN_DISTANCE_ANGSTROM,
    max_tries: int = 1000,
) -> Atoms:
    """Move chosen atoms each by exactly ``distance_angstrom`` along its own random direction.

    Directions are uniform on the sphere (normalised Gaussian draws), one per atom.

    Parameters
    ----------
    atoms : ase.Atoms
        Reference structure (not modified).
    indices : sequence of int
        Atoms to move.
    distance_angstrom : float
        Length of every move, Å (≥ 0).
    rng : numpy.random.Generator, int or None
    min_distance_angstrom : float or None
        Redraw the directions until no two atoms are closer than this; ``None`` accepts any draw.
    max_tries : int

    Returns
    -------
    ase.Atoms
        A copy with ``info["displaced"]`` and ``info["displacement_angstrom"]`` as
        :func:`displace_in_cuboid`.

    Raises
    ------
    ValueError
        If ``distance_angstrom`` is negative.
    RuntimeError
        If no draw satisfies ``min_distance_angstrom`` within ``max_tries``.

    Examples
    --------
    >>> from ase import Atoms
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
    >>> moved = displace_by(dimer, [1], 0.5, rng=0)
    >>> [round(d, 6) for d in moved.info["displacement_angstrom"]]
    [0.5]
    """
    if not distance_angstrom >= 0:
        raise ValueError(f"distance_angstrom must be >= 0, got {distance_angstrom}")
    idx = np.asarray(indices, dtype=int)
    start = atoms.positions[idx]

    def propose(rng):
        u = rng.standard_normal((idx.size, 3))
        return start + distance_angstrom * u / np.linalg.norm(u, axis=1, keepdims=True)

    return _displace(atoms, idx, propose, rng, min_distance_angstrom, max_tries)


def _displace(atoms, idx, propose, rng, min_distance_angstrom, max_tries) -> Atoms:
    """A copy of ``atoms`` with ``idx`` at ``propose(rng)``, redrawn until no pair is closer than the minimum."""
    rng = np.random.default_rng(rng)
    for _ in range(max_tries):
        new = atoms.copy()
        new.positions[idx] = propose(rng)
        if min_distance_angstrom is None:
            break
        d = distances(new)
        np.fill_diagonal(d, np.inf)
        if d[idx].min() >= min_distance_angstrom:
            break
    else:
        raise RuntimeError(f"no displacement with all distances >= {min_distance_angstrom} Å in {max_tries} tries")
    new.info["displaced"] = idx.tolist()
    new.info["displacement_angstrom"] = np.linalg.norm(new.positions[idx] - atoms.positions[idx], axis=1).tolist()
    return new


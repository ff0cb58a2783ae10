"""Random geometries: new Cd–Se–Te clusters, and chosen atoms of a structure moved.

:func:`random_cluster` grows a connected starting geometry atom by atom at the cation–anion bond
length; :func:`displace_in_cuboid` moves chosen atoms to uniform random positions in a cuboid (the
paper's design region) and :func:`displace_by` each by a given distance in a random direction,
both redrawn until no two atoms overlap. Randomness enters as ``rng`` (a generator or a seed).

>>> from ase import Atoms
>>> moved = displace_by(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]]), [1], 0.5, rng=0)
>>> moved.info["displaced"]
[1]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from numpy.typing import ArrayLike

from .checks import MAX_ATOMS, MIN_DISTANCE_ANGSTROM, composition, distances

__all__ = ["BOND_LENGTH_ANGSTROM", "displace_by", "displace_in_cuboid", "random_cluster"]

#: Typical cation–anion bond lengths in small CdX clusters, Å.
BOND_LENGTH_ANGSTROM: dict[str, float] = {"Se": 2.6, "Te": 2.8}


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
    >>> from qdlib.structures import is_connected
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

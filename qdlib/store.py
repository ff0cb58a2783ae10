"""The results store: every TD-DFT result written once, keyed by geometry and settings.

An :mod:`ase.db` database (an SQLite file by default; a
``postgresql://...`` URL for a store shared by a cluster). Each row holds the
structure, the excitations (``data``) and, as searchable key-value pairs,
the result key, the settings, the backend, the wall time and the package
versions. Writes commit one row at a time, so a batch killed at any moment
keeps everything it finished; a result already present is never written
again.

>>> store = ResultStore("results.db")                     # doctest: +SKIP
>>> exc = store.get_or_compute(atoms, TDDFTSettings())      # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from ase import Atoms

from .qchem import EngineOptions, Excitations, TDDFTSettings, excitations, result_key

# result_key is defined with the settings it hashes (qdlib.qchem.settings) and re-exported here.
__all__ = ["result_key", "covered_key", "connect", "ResultStore", "GeometryStore"]

log = logging.getLogger(__name__)


def covered_key(atoms: Atoms, settings: TDDFTSettings, cover_nm: float, max_states: int) -> str:
    """Key of a calculation asked to solve for states until they reach ``cover_nm`` (at most ``max_states``).

    Its own key, not :func:`result_key` of the states it ended with: a store finds the request done
    without knowing beforehand how many states it took.
    """
    return f"{result_key(atoms, settings)}:cover{cover_nm:.2f}nm:max{int(max_states)}"


def connect(url: str | os.PathLike):
    """The ASE database at ``url``, its tables created before it is returned.

    ASE creates an SQLite file's tables on first use, by looking for them
    and then creating them; two processes opening a new store at once can
    both look, and the second fails ("table systems already exists") or
    reads a half-made schema. Here a new file's tables are created inside
    an exclusive SQLite transaction, so a second process waits for the
    first and then finds them. A file that already has its tables is
    opened without a lock (read-only files included).

    Parameters
    ----------
    url : str or path-like
        SQLite file path, ``postgresql://`` URL, or a path ending in ``.json``: ASE's JSON
        database, text that a version-control system stores as small deltas (every write
        rewrites the file: for stores of hundreds of rows, not a cluster's).
    """
    import ase.db

    url = os.fspath(url)
    if url.startswith("postgresql"):
        return ase.db.connect(url, type="postgresql")
    if url.endswith(".json"):
        return ase.db.connect(url, type="json")
    db = ase.db.connect(url, type="db")
    if not _has_tables(url):
        with db:  # one connection, held: the lock below covers ASE's look-then-create
            db.connection.execute("BEGIN EXCLUSIVE")
            db.count()
    return db


def _has_tables(path: str) -> bool:
    """Whether the SQLite file at ``path`` exists and holds ASE's tables."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return False
    with contextlib.closing(sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True, timeout=20)) as con:
        return con.execute("SELECT COUNT(*) FROM sqlite_master WHERE name='systems'").fetchone()[0] > 0


class ResultStore:
    """TD-DFT results in an ASE database.

    Parameters
    ----------
    url : str or path-like
        SQLite file path (created on first write) or a PostgreSQL URL.
    """

    def __init__(self, url: str | os.PathLike = "qdlib-results.db"):
        self.url = os.fspath(url)
        self._db = connect(self.url)

    def __len__(self) -> int:
        return self._db.count()

    def __contains__(self, key: str) -> bool:
        return self._db.count(result_key=key) > 0

    def get(self, atoms: Atoms, settings: TDDFTSettings) -> Excitations | None:
        """The stored result for this geometry and settings, or ``None``."""
        return self.get_by_key(result_key(atoms, settings))

    def get_by_key(self, key: str) -> Excitations | None:
        """The stored result with this key, or ``None``."""
        rows = list(self._db.select(result_key=key, limit=1))
        return Excitations.from_dict(rows[0].data["excitations"]) if rows else None

    def put(self, atoms: Atoms, result: Excitations, key: str | None = None, **labels: str | int | float | bool) -> str:
        """Write ``result`` for ``atoms`` unless present; returns the key.

        ``key`` defaults to :func:`result_key` of the result's settings; pass the key of the
        settings that were *asked for* when the engine answered with others (a Tamm–Dancoff
        fallback), so that the request is found done. ``labels`` are extra searchable
        key-value pairs (e.g. ``dataset="authors"``).
        """
        key = key or result_key(atoms, result.settings)
        if key in self:
            log.info("result %s already stored; not written again", key)
            return key
        pairs = {
            "result_key": key,
            "backend": result.backend,
            "wall_time_s": float(result.wall_time_s),
            "scf_strategy": result.scf_strategy,
            "converged": bool(result.converged),
            "n_states": int(result.settings.n_states),
            "reach_nm": float(result.wavelengths_nm.min()) if result.energies_ev.size else 0.0,
            "xc": result.settings.xc,
            "basis": result.settings.basis,
            "tda": bool(result.settings.tda),
            "pyscf_version": result.versions.get("pyscf", ""),
            "qdlib_version": result.versions.get("qdlib", ""),
        }
        pairs.update(labels)
        if "cover_nm" in pairs:  # asked to reach a wavelength: say whether it did
            pairs["covered"] = bool(result.covers(float(pairs["cover_nm"])))
        clean = Atoms(atoms.numbers, positions=atoms.positions)
        self._db.write(clean, key_value_pairs=pairs, data={"excitations": result.to_dict()})
        return key

    def get_or_compute(
        self,
        atoms: Atoms,
        settings: TDDFTSettings = TDDFTSettings(),
        options: EngineOptions = EngineOptions(),
        compute: Callable[[Atoms, TDDFTSettings, EngineOptions], Excitations] = excitations,
        **labels,
    ) -> Excitations:
        """The stored result, or compute it with ``compute`` and store it first."""
        found = self.get(atoms, settings)
        if found is not None:
            return found
        result = compute(atoms, settings, options)
        self.put(atoms, result, key=result_key(atoms, settings), **labels)
        return result

    def select(self, **filters) -> Iterator[tuple[Atoms, Excitations, dict]]:
        """Stored ``(atoms, excitations, key_value_pairs)`` matching ASE-db filters."""
        for row in self._db.select(**filters):
            yield row.toatoms(), Excitations.from_dict(row.data["excitations"]), dict(row.key_value_pairs)

    def __repr__(self) -> str:
        return f"ResultStore({self.url!r}, {len(self)} results)"


class GeometryStore:
    """Relaxed geometries in an ASE database, keyed by the input geometry and the relaxation.

    The relaxation counterpart of :class:`ResultStore`: a structure generated
    and optimised once is found again by ``key`` (e.g. :func:`result_key` of
    the starting geometry plus the step, ``"…:S0"``), so a relaxation job
    resumes where it stopped.

    Parameters
    ----------
    url : str or path-like
        SQLite file path or PostgreSQL URL.
    """

    def __init__(self, url: str | os.PathLike):
        self.url = os.fspath(url)
        self._db = connect(self.url)

    def __len__(self) -> int:
        return self._db.count()

    def get(self, key: str) -> Atoms | None:
        """The stored geometry for ``key`` (``info`` holds its labels), or ``None``."""
        rows = list(self._db.select(relax_key=key, limit=1))
        if not rows:
            return None
        atoms = rows[0].toatoms()
        atoms.info.update(rows[0].key_value_pairs)
        return atoms

    def put(self, key: str, atoms: Atoms, **labels: str | int | float | bool) -> None:
        """Write ``atoms`` under ``key`` unless present; ``labels`` (and scalar ``atoms.info``) are kept."""
        if self.get(key) is not None:
            return
        pairs = {k: v for k, v in atoms.info.items() if isinstance(v, (str, int, float, bool, np.integer, np.floating))}
        pairs.update(labels, relax_key=key)
        self._db.write(Atoms(atoms.numbers, positions=atoms.positions), key_value_pairs=pairs)

    def select(self, **filters) -> Iterator[Atoms]:
        """Stored geometries matching ASE-db filters, labels in ``info``."""
        for row in self._db.select(**filters):
            atoms = row.toatoms()
            atoms.info.update(row.key_value_pairs)
            yield atoms

    def __repr__(self) -> str:
        return f"GeometryStore({self.url!r}, {len(self)} geometries)"

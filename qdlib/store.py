"""The results store: every TD-DFT result written once, keyed by geometry and settings.

An :mod:`ase.db` database (an SQLite file by default; a
``postgresql://...`` URL for a store shared by a cluster, with the
``postgres`` extra). Each row holds the structure, the excitations
(``data``) and, as searchable key-value pairs, the result key, the
settings, the backend, the wall time and the package versions. Writes
commit one row at a time, so a batch killed at any moment keeps everything
it finished; a result already present is never written again, also when
several processes write the same key at once (the look and the write are
one transaction that holds a lock: the whole file for SQLite, the key for
PostgreSQL).

In this example a stand-in returns fixed excitations where
:func:`qdlib.qchem.excitations` would run TD-DFT; the second request is
answered from the store:

>>> import numpy as np
>>> from ase import Atoms
>>> from qdlib.qchem import Excitations, TDDFTSettings
>>> def fake_tddft(atoms, settings, options):
...     return Excitations(energies_ev=np.array([2.5, 3.1]), osc_strengths=np.array([0.02, 0.1]),
...                        e_tot_hartree=-100.0, td_converged=np.ones(2, bool), scf_strategy="diis",
...                        settings=settings, backend="cpu", wall_time_s=0.0)
>>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
>>> store = ResultStore("results.db")
>>> store.get_or_compute(dimer, TDDFTSettings(n_states=2), compute=fake_tddft).energies_ev
array([2.5, 3.1])
>>> store.get_or_compute(dimer, TDDFTSettings(n_states=2), compute=None).osc_strengths
array([0.02, 0.1 ])
>>> store
ResultStore('results.db', 1 results)
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
from ase.db.jsondb import JSONDatabase
from ase.parallel import world
from filelock import FileLock

from .qchem import EngineOptions, Excitations, TDDFTSettings, excitations, result_key

# result_key is defined with the settings it hashes (qdlib.qchem.settings) and re-exported here.
__all__ = ["result_key", "covered_key", "connect", "ResultStore", "GeometryStore"]

log = logging.getLogger(__name__)


def covered_key(atoms: Atoms, settings: TDDFTSettings, cover_nm: float, max_states: int) -> str:
    """Key of a calculation asked to solve for states until they reach ``cover_nm`` (at most ``max_states``).

    Its own key, not :func:`result_key` of the states it ended with: a store finds the request done
    without knowing beforehand how many states it took.

    >>> from ase import Atoms
    >>> from qdlib.qchem import TDDFTSettings
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
    >>> covered_key(dimer, TDDFTSettings(), 337.7, 40).split(":", 1)[1]
    'cover337.70nm:max40'
    """
    return f"{result_key(atoms, settings)}:cover{cover_nm:.2f}nm:max{int(max_states)}"


def connect(url: str | os.PathLike):
    """The ASE database at ``url``, its tables created before it is returned.

    ASE creates a database's tables on first use, by looking for them and
    then creating them; two processes opening a new store at once can both
    look, and the second fails ("table systems already exists") or reads a
    half-made schema. Here a new SQLite file's tables are created inside an
    exclusive SQLite transaction, and a PostgreSQL database's under an
    advisory lock (:mod:`qdlib._postgresql`, which also mends ASE's row ids
    under concurrent writers), so a second process waits for the first and
    then finds them. An SQLite file that already has its tables is opened
    without a lock (read-only files included).

    SQLite files are opened without ASE's lock file (``<file>.lock``): it is
    made and removed by the writer, so a writer killed inside a write leaves
    it behind and every later writer waits for it forever. SQLite's own
    locks, which the operating system releases when a process dies, keep
    writers apart. (On a network file system, where those locks may not
    hold, use PostgreSQL.)

    Parameters
    ----------
    url : str or path-like
        SQLite file path; ``postgresql://`` (or ``postgres://``) URL, which needs the
        ``postgres`` extra (``pip install 'qdlib[postgres]'``); or a path ending in ``.json``:
        ASE's JSON database, text that a version-control system stores as small deltas (every
        write rewrites the file, under ASE's lock file: for stores of hundreds of rows written by a few
        local processes, not a cluster's). The new text is written beside the file and then
        replaces it, so a process reading the store while another writes, or a writer killed
        midway, never meets half a file.

    Returns
    -------
    ase.db.core.Database

    Examples
    --------
    >>> connect("new.db").count(), connect("new.json").count()
    (0, 0)
    """
    import ase.db

    url = os.fspath(url)
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from ._postgresql import PostgreSQLDatabase
        except ImportError as err:
            raise ImportError(
                f"a PostgreSQL store needs the driver and ASE's backend: pip install 'qdlib[postgres]' ({err})"
            ) from err
        db = PostgreSQLDatabase(url)
        db.count()  # creates the tables (under the lock) or finds them, once per connection object
        return db
    Path(url).parent.mkdir(parents=True, exist_ok=True)  # a file store in a folder not made yet
    if url.endswith(".json"):
        return _WholeFileJSONDatabase(url)
    db = ase.db.connect(url, type="db", use_lock_file=False)
    if not _has_tables(url):
        with db:  # one connection, held: the lock below covers ASE's look-then-create
            db.connection.execute("BEGIN EXCLUSIVE")
            db.count()
    return db


class _WholeFileJSONDatabase(JSONDatabase):
    """ASE's JSON database whose writes replace the file whole.

    ASE rewrites the file in place: a reader in another process can meet it half written and
    fail to parse it, and a writer killed midway leaves it truncated. Here the text goes to a
    file beside it, which then replaces it (an atomic rename on POSIX and Windows). Writers
    take turns under an operating-system lock on ``<file>.lock`` (:mod:`filelock`), which the
    system releases when a process dies, where ASE's lock file, made and removed by the
    writer, outlives a writer killed inside a write and stops every later one.
    """

    def __init__(self, filename: str):
        super().__init__(filename)
        self.lock = FileLock(f"{filename}.lock")

    def _write_json(self, bigdct, ids, nextid):
        if not isinstance(self.filename, str) or world.rank > 0:
            return super()._write_json(bigdct, ids, nextid)
        path = self.filename
        tmp = f"{path}.{os.getpid()}.tmp"
        self.filename = tmp
        try:
            super()._write_json(bigdct, ids, nextid)
            os.replace(tmp, path)
        finally:
            self.filename = path
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)


@contextlib.contextmanager
def _one_writer(db, key: str) -> Iterator:
    """``db`` inside one transaction in which no other process writes ``key``.

    Look for ``key`` and write its row inside this block: a second writer of
    the same key waits until the first commits, then finds the row. SQLite
    locks the whole file (``BEGIN IMMEDIATE``); PostgreSQL takes an advisory
    lock on the key, so writers of other keys go on. The transaction commits
    at the end of the block and rolls back on an error (or when the process
    dies inside it). ASE's JSON file has no transactions: ASE's lock file keeps
    each write whole, but not the look together with the write, so two writers
    of the same key may both store it (writers of different keys are safe).
    """
    kind = getattr(db, "type", None)  # "db" (SQLite) or "postgresql"; ASE's JSON database has none
    if kind not in ("db", "postgresql"):
        yield db
        return
    with db:  # one connection for the block: committed at its end, rolled back on an error
        if kind == "postgresql":
            db.lock_key(key)
        else:
            db.connection.execute("BEGIN IMMEDIATE")
        yield db


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
        SQLite file path (created on first write), PostgreSQL URL or ``.json`` path: see
        :func:`connect`.

    Examples
    --------
    The module docstring computes through the store; here a result is written and found by
    geometry and settings, and by a label:

    >>> import numpy as np
    >>> from ase import Atoms
    >>> from qdlib.qchem import Excitations, TDDFTSettings
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
    >>> exc = Excitations.from_sticks([2.5, 3.1], [0.02, 0.1], e_tot_hartree=-100.0)
    >>> store = ResultStore("results.db")
    >>> key = store.put(dimer, exc, dataset="toy")
    >>> key in store, store.get(dimer, TDDFTSettings(n_states=2)).energies_ev
    (True, array([2.5, 3.1]))
    >>> [(atoms.get_chemical_formula(), labels["n_states"]) for atoms, _, labels in store.select(dataset="toy")]
    [('CdSe', 2)]
    >>> store.get(dimer, TDDFTSettings()) is None  # not computed at the paper settings
    True
    """

    def __init__(self, url: str | os.PathLike = "qdlib-results.db"):
        self.url = os.fspath(url)
        self._db = connect(self.url)

    def __len__(self) -> int:
        return self._db.count("result_key")

    def __contains__(self, key: str) -> bool:
        return self._db.count(result_key=key) > 0

    def put_failure(self, atoms: Atoms, key: str, error: str) -> None:
        """Remember that the calculation ``key`` of ``atoms`` raised ``error`` (a rerun need not try it again).

        A failure row holds the structure and ``failure_key``/``error``; it is no result (not
        counted, not selected). Written once per key.

        >>> from ase import Atoms
        >>> store = ResultStore("failures.json")
        >>> store.put_failure(Atoms("Cd2"), "k1", "RuntimeError: SCF did not converge")
        >>> store.failure("k1"), store.failure("k2"), len(store)
        ('RuntimeError: SCF did not converge', None, 0)
        """
        if self.failure(key) is None:
            self._db.write(Atoms(atoms.numbers, positions=atoms.positions),
                           key_value_pairs={"failure_key": key, "error": error[:500]})  # fmt: skip

    def failure(self, key: str) -> str | None:
        """The recorded error of the calculation ``key``, or ``None`` (never failed, or not recorded)."""
        rows = list(self._db.select(failure_key=key, limit=1))
        return rows[0].key_value_pairs["error"] if rows else None

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
        if key in self:  # cheap look without a lock; looked at again under it below
            log.info("result %s already stored; not written again", key)
            return key
        pairs = {
            "result_key": key,
            "backend": result.backend,
            "wall_time_s": float(result.wall_time_s),
            "scf_strategy": result.scf_strategy,
            "start": result.start or "unrecorded",
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
        with _one_writer(self._db, key) as db:
            if db.count(result_key=key):
                log.info("result %s stored meanwhile by another writer; not written again", key)
                return key
            db.write(clean, key_value_pairs=pairs, data={"excitations": result.to_dict()})
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
        for row in self._db.select("result_key", **filters):  # results only, not recorded failures
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
        SQLite file path, PostgreSQL URL or ``.json`` path: see :func:`connect`.

    Examples
    --------
    >>> from ase import Atoms
    >>> store = GeometryStore("relaxed.db")
    >>> store.put("start-key:S0", Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]]), converged=True)
    >>> store.get("start-key:S0").info, store.get("another-key:S0")
    ({'converged': True, 'relax_key': 'start-key:S0'}, None)
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
        with _one_writer(self._db, key) as db:
            if db.count(relax_key=key):
                return
            db.write(Atoms(atoms.numbers, positions=atoms.positions), key_value_pairs=pairs)

    def select(self, **filters) -> Iterator[Atoms]:
        """Stored geometries matching ASE-db filters, labels in ``info``."""
        for row in self._db.select(**filters):
            atoms = row.toatoms()
            atoms.info.update(row.key_value_pairs)
            yield atoms

    def __repr__(self) -> str:
        return f"GeometryStore({self.url!r}, {len(self)} geometries)"

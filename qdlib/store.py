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

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator

import numpy as np
from ase import Atoms

from .qchem import EngineOptions, Excitations, TDDFTSettings, excitations

__all__ = ["result_key", "ResultStore"]

log = logging.getLogger(__name__)

#: Coordinates are rounded to this many decimals (Å) before hashing.
KEY_DECIMALS = 5


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


class ResultStore:
    """TD-DFT results in an ASE database.

    Parameters
    ----------
    url : str or path-like
        SQLite file path (created on first write) or a PostgreSQL URL.
    """

    def __init__(self, url: str | os.PathLike = "qdlib-results.db"):
        import ase.db

        self.url = os.fspath(url)
        self._db = ase.db.connect(self.url, type="postgresql" if self.url.startswith("postgresql") else "db")

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

    def put(self, atoms: Atoms, result: Excitations, **labels: str | int | float | bool) -> str:
        """Write ``result`` for ``atoms`` unless present; returns the key.

        ``labels`` are extra searchable key-value pairs (e.g. ``dataset="authors"``).
        """
        key = result_key(atoms, result.settings)
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
            "xc": result.settings.xc,
            "basis": result.settings.basis,
            "tda": bool(result.settings.tda),
            "pyscf_version": result.versions.get("pyscf", ""),
            "qdlib_version": result.versions.get("qdlib", ""),
        }
        pairs.update(labels)
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
        self.put(atoms, result, **labels)
        return result

    def select(self, **filters) -> Iterator[tuple[Atoms, Excitations, dict]]:
        """Stored ``(atoms, excitations, key_value_pairs)`` matching ASE-db filters."""
        for row in self._db.select(**filters):
            yield row.toatoms(), Excitations.from_dict(row.data["excitations"]), dict(row.key_value_pairs)

    def __repr__(self) -> str:
        return f"ResultStore({self.url!r}, {len(self)} results)"

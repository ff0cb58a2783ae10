"""ASE's PostgreSQL database, made safe for several processes writing at once.

ASE (from 3.23 on) reaches PostgreSQL through the ``ase-db-backends``
package (``ase_db_backends.postgresql.PostgreSQLDatabase``, on the
``psycopg2`` driver). Three of its habits break a store that the workers of
a cluster write to at the same time; :class:`PostgreSQLDatabase` here
changes only those:

* **Row ids.** After ``INSERT INTO systems`` ASE reads the new row's id as
  ``SELECT last_value FROM systems_id_seq``: the last id *any* session took,
  not this one's. With two writers, one attaches its species, keys and
  key-value rows to the other's id: the insert fails on the foreign key
  (the other row is not committed yet) or, worse, succeeds on the wrong
  row. Here the id is ``currval('systems_id_seq')``, this session's own.
* **Creating the tables.** ASE looks for its tables and creates them when
  absent; two processes opening a new database at once both look, and one
  fails (``relation "systems" already exists``, or a duplicate key in
  ``pg_type``). Here the look and the creation hold a transaction-level
  advisory lock, so the second opener waits, then finds the tables.
* **Rollback.** ASE's connection wrapper has no ``rollback``, so an error
  inside ``with db:`` surfaced as an ``AttributeError`` and left the
  connection open. Here it rolls back and closes.

Imported only for ``postgresql://`` stores: it needs the ``postgres`` extra
(``pip install 'qdlib[postgres]'``).
"""

from __future__ import annotations

import psycopg2

try:  # ASE ≥ 3.23: the backend lives in its own package
    from ase_db_backends.postgresql import Connection as _ASEConnection
    from ase_db_backends.postgresql import PostgreSQLDatabase as _ASEPostgreSQLDatabase
except ImportError:  # older ASE shipped it
    from ase.db.postgresql import Connection as _ASEConnection
    from ase.db.postgresql import PostgreSQLDatabase as _ASEPostgreSQLDatabase

__all__ = ["PostgreSQLDatabase", "CONNECT_TIMEOUT_S"]

#: Seconds to wait for the server to answer a new connection.
CONNECT_TIMEOUT_S = 30

#: The advisory lock (one per database) held while the tables are looked for and created.
_CREATE_TABLES_LOCK = "qdlib.store:create-tables"


class Connection(_ASEConnection):
    """ASE's psycopg2 connection wrapper, with the ``rollback`` that ``with db:`` calls on an error."""

    def rollback(self) -> None:
        self.con.rollback()


class PostgreSQLDatabase(_ASEPostgreSQLDatabase):
    """An ASE PostgreSQL database that several processes can create and write at once.

    Parameters
    ----------
    filename : str
        The URL, ``postgresql://user@host:port/dbname`` (any libpq connection string).

    Examples
    --------
    A running server is needed (tests/test_store.py runs against one when QDLIB_TEST_POSTGRES is set):

    >>> db = PostgreSQLDatabase("postgresql://postgres@127.0.0.1:5432/qdlib")  # a server  # doctest: +SKIP
    >>> db.count()                                                     # a new database  # doctest: +SKIP
    0
    """

    def _connect(self) -> Connection:
        return Connection(psycopg2.connect(self.filename, connect_timeout=CONNECT_TIMEOUT_S))

    def _initialize(self, con) -> None:
        if self.initialized:
            return
        # Released when this transaction ends: ASE commits right after creating the tables.
        con.cursor().execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (_CREATE_TABLES_LOCK,))
        super()._initialize(con)

    def get_last_id(self, cur) -> int:
        """The id this session's last ``INSERT INTO systems`` took."""
        cur.execute("SELECT currval('systems_id_seq')")
        return int(cur.fetchone()[0])

    def lock_key(self, key: str) -> None:
        """Hold a lock on ``key`` until the current ``with db:`` transaction ends.

        Writers of the same key wait for each other; writers of other keys do not.
        """
        lock = "qdlib.store:" + key
        self.connection.cursor().execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (lock,))

"""Test configuration: offline data, headless plotting, small helpers, the results stores to test on."""

import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

# The authors' files: an offline mirror beside the checkout (CI sets the same).
_MIRROR = Path(__file__).resolve().parents[1].parent / "shared" / "paper_data"
if "QDLIB_DATA_DIR" not in os.environ and _MIRROR.is_dir():
    os.environ["QDLIB_DATA_DIR"] = str(_MIRROR)
os.environ.setdefault("MPLBACKEND", "Agg")

#: A PostgreSQL server the store tests may create databases on (``.ci/postgres.sh start`` prints it).
POSTGRES_ENV = "QDLIB_TEST_POSTGRES"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """The URL of a new, empty results store: an SQLite file, or a PostgreSQL database of its own.

    The PostgreSQL variant creates a database named for the test on the server at
    ``$QDLIB_TEST_POSTGRES`` and drops it afterwards (with the connections left open to it);
    it is skipped when that variable is unset.
    """
    if request.param == "sqlite":
        yield str(tmp_path / "r.db")
        return
    admin = os.environ.get(POSTGRES_ENV)
    if not admin:
        pytest.skip(f"{POSTGRES_ENV} is unset: no PostgreSQL server to test on (`.ci/postgres.sh start` runs one)")
    import psycopg2  # a server without the driver is an error, not a skip: pip install -e ".[postgres]"

    name = f"qdlib_test_{uuid.uuid4().hex[:12]}"

    def run(sql):
        con = psycopg2.connect(admin, connect_timeout=10)
        try:
            con.autocommit = True  # CREATE/DROP DATABASE cannot run inside a transaction
            con.cursor().execute(sql)
        finally:
            con.close()

    run(f"CREATE DATABASE {name}")
    try:
        yield urlsplit(admin)._replace(path=f"/{name}").geturl()
    finally:
        run(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

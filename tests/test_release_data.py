"""Every released file in data/ is listed in data/registry.txt with its SHA-256, and vice versa.

Result stores (``data/stores/*.db``, working SQLite databases that grow as background runs finish)
are not released files and are not listed.
"""

import hashlib

from qdlib.paths import data_dir
import pytest

from qdlib.datasets import DataFileError
from qdlib.release import read_registry, released_files, update_registry, verified_path


def test_registry_matches_files():
    entries = read_registry()
    files = {str(p.relative_to(data_dir())) for p in released_files()}
    assert set(entries) == files
    for name, digest in entries.items():
        assert hashlib.sha256((data_dir() / name).read_bytes()).hexdigest() == digest, name


def test_update_registry(tmp_path):
    (tmp_path / "registry.txt").write_text("")
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    (tmp_path / "stores").mkdir()
    (tmp_path / "stores" / "work.db").write_bytes(b"x")
    entries = update_registry(tmp_path)
    assert entries == {"table.csv": hashlib.sha256(b"a,b\n1,2\n").hexdigest()}
    assert read_registry(tmp_path) == entries


def test_verified_path_catches_missing_unlisted_and_corrupt(tmp_path):
    (tmp_path / "registry.txt").write_text("")
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataFileError, match="not a released file"):
        verified_path("table.csv", tmp_path)
    update_registry(tmp_path)
    assert verified_path("table.csv", tmp_path) == tmp_path / "table.csv"
    (tmp_path / "table.csv").write_text("a,b\n1,3\n")
    with pytest.raises(DataFileError, match="does not match the registry"):
        verified_path("table.csv", tmp_path)
    (tmp_path / "table.csv").unlink()
    with pytest.raises(DataFileError, match="missing"):
        verified_path("table.csv", tmp_path)

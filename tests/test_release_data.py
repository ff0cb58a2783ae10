"""Every released file in data/ is listed in data/registry.txt with its SHA-256, and vice versa.

Result stores (``data/stores/*.db``, working SQLite databases that grow as
background runs finish) are not released files and are not listed.
"""

import hashlib

from qdlib.paths import data_dir

UNLISTED = {"README.md", "registry.txt"}


def _registry():
    entries = {}
    for line in (data_dir() / "registry.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, digest = line.split()
            entries[name] = digest
    return entries


def test_registry_matches_files():
    entries = _registry()
    files = {
        str(p.relative_to(data_dir()))
        for p in data_dir().rglob("*")
        if p.is_file() and p.name not in UNLISTED and not p.name.startswith(".") and "stores" not in p.parts
    }
    assert set(entries) == files
    for name, digest in entries.items():
        assert hashlib.sha256((data_dir() / name).read_bytes()).hexdigest() == digest, name

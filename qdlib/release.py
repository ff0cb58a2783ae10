"""The registry of released files in ``data/``: SHA-256 of each, checked by the tests.

Working result stores (``data/stores/``) are not released files and are skipped.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .paths import data_dir

__all__ = ["released_files", "read_registry", "update_registry"]

_UNLISTED = {"README.md", "registry.txt"}
_HEADER = "# sha256 of every released file in data/ (path relative to data/, then the hash)\n"


def released_files(root: Path | None = None) -> list[Path]:
    """Files under ``data/`` that the registry must list."""
    root = root or data_dir()
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.name not in _UNLISTED and not p.name.startswith(".") and "stores" not in p.relative_to(root).parts
    )


def read_registry(root: Path | None = None) -> dict[str, str]:
    """``{relative path: sha256}`` from ``data/registry.txt``."""
    root = root or data_dir()
    entries = {}
    for line in (root / "registry.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, digest = line.split()
            entries[name] = digest
    return entries


def update_registry(root: Path | None = None) -> dict[str, str]:
    """Rewrite ``data/registry.txt`` from the files present; returns the entries."""
    root = root or data_dir()
    entries = {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in released_files(root)}
    (root / "registry.txt").write_text(_HEADER + "".join(f"{k} {v}\n" for k, v in entries.items()))
    return entries

"""The registry of released files in ``data/``: SHA-256 of each, checked by the tests.

Working result stores (``data/stores/``) are not released files and are skipped.

>>> "tddft/reproduction/structures.extxyz" in read_registry()
True
>>> verified_path("models/absorption_ml-nn.json").name
'absorption_ml-nn.json'
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .paths import data_dir

__all__ = ["released_files", "read_registry", "update_registry", "verified_path", "fingerprint"]

_UNLISTED = {"README.md", "registry.txt"}
_HEADER = "# sha256 of every released file in data/ (path relative to data/, then the hash)\n"


def released_files(root: Path | None = None) -> list[Path]:
    """Files under ``data/`` that the registry must list.

    >>> from pathlib import Path
    >>> root = Path("data")
    >>> (root / "models").mkdir(parents=True)
    >>> (root / "stores").mkdir()
    >>> _ = (root / "models" / "toy.json").write_text("{}")
    >>> _ = (root / "stores" / "work.db").write_text("a working store")
    >>> _ = (root / "README.md").write_text("not listed")
    >>> [p.relative_to(root).as_posix() for p in released_files(root)]
    ['models/toy.json']
    """
    root = root or data_dir()
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.name not in _UNLISTED and not p.name.startswith(".") and "stores" not in p.relative_to(root).parts
    )


def read_registry(root: Path | None = None) -> dict[str, str]:
    """``{relative path: sha256}`` from ``data/registry.txt``.

    >>> registry = read_registry()
    >>> "models/absorption_ml-nn.pt" in registry, len(registry["models/absorption_ml-nn.pt"])
    (True, 64)
    """
    root = root or data_dir()
    entries = {}
    for line in (root / "registry.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, digest = line.split()
            entries[name] = digest
    return entries


def update_registry(root: Path | None = None) -> dict[str, str]:
    """Rewrite ``data/registry.txt`` from the files present; returns the entries.

    A release folder of one file (the default, ``root=None``, is the repository's ``data/``):

    >>> from pathlib import Path
    >>> (Path("data") / "models").mkdir(parents=True)
    >>> _ = (Path("data") / "models" / "toy.json").write_text("{}")
    >>> update_registry(Path("data"))
    {'models/toy.json': '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a'}
    >>> print((Path("data") / "registry.txt").read_text(), end="")
    # sha256 of every released file in data/ (path relative to data/, then the hash)
    models/toy.json 44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a
    """
    root = root or data_dir()
    entries = {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in released_files(root)}
    (root / "registry.txt").write_text(_HEADER + "".join(f"{k} {v}\n" for k, v in entries.items()))
    return entries


def verified_path(name: str, root: Path | None = None) -> Path:
    """Path of the released file ``name`` (relative to ``data/``) after checking its SHA-256.

    Raises
    ------
    qdlib.datasets.DataFileError
        If the file is missing, not in the registry, or its content differs from the registry.

    Examples
    --------
    >>> from pathlib import Path
    >>> (Path("data") / "models").mkdir(parents=True)
    >>> _ = (Path("data") / "models" / "toy.json").write_text("{}")
    >>> _ = update_registry(Path("data"))
    >>> verified_path("models/toy.json", Path("data")).as_posix()
    'data/models/toy.json'
    >>> _ = (Path("data") / "models" / "toy.json").write_text("{ }")
    >>> verified_path("models/toy.json", Path("data"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    qdlib.datasets.DataFileError: data/models/toy.json does not match the registry (sha256 257c1be96ae6…, ...
    """
    from .datasets import DataFileError

    root = root or data_dir()
    path = root / name
    expected = read_registry(root).get(name)
    if expected is None:
        raise DataFileError(f"{name} is not a released file (not in {root / 'registry.txt'})")
    if not path.is_file():
        raise DataFileError(f"released file {path} is missing; restore it from the repository")
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != expected:
        raise DataFileError(
            f"{path} does not match the registry (sha256 {actual[:12]}…, expected {expected[:12]}…): "
            "corrupt or edited; restore it from the repository or retrain and run qdlib.release.update_registry()"
        )
    return path


def fingerprint(*prefixes: str, root: Path | None = None) -> str:
    """Which release a notebook read: a short SHA-256 over the registry's entries under each prefix.

    A notebook that reads released files prints this line in a checked output, so that nbval
    fails when those files changed and the notebook was not executed again.

    >>> from pathlib import Path
    >>> (Path("data") / "tddft").mkdir(parents=True)
    >>> _ = (Path("data") / "tddft" / "a.csv").write_text("1")
    >>> _ = update_registry(Path("data"))
    >>> fingerprint("tddft/", "campaigns/", root=Path("data"))
    'release read: tddft/ f232869877d4 (1 file), campaigns/ none'
    >>> _ = (Path("data") / "tddft" / "a.csv").write_text("2")
    >>> _ = update_registry(Path("data"))
    >>> fingerprint("tddft/", root=Path("data"))
    'release read: tddft/ 958496cab5c7 (1 file)'
    """
    registry = read_registry(root)
    parts = []
    for prefix in prefixes:
        lines = sorted(f"{k} {v}" for k, v in registry.items() if k.startswith(prefix))
        if not lines:
            parts.append(f"{prefix} none")
            continue
        digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12]
        parts.append(f"{prefix} {digest} ({len(lines)} file{'s' if len(lines) > 1 else ''})")
    return "release read: " + ", ".join(parts)

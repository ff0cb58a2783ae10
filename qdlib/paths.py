"""Where the project's folders are: notebooks, figures, released data, results stores, parameter files.

Resolved from the source checkout (the package is installed editable); each
can be overridden by an environment variable for installs elsewhere.

>>> (repo_root() / "qdlib" / "paths.py").is_file(), notebooks_dir().name, params_dir().name
(True, 'notebooks', 'params')
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["repo_root", "notebooks_dir", "figures_dir", "data_dir", "params_dir", "stores_dir", "store_path", "checkpoints_dir"]


def repo_root() -> Path:
    """The checkout holding ``qdlib/`` (``QDLIB_ROOT`` overrides)."""
    env = os.environ.get("QDLIB_ROOT")
    return Path(env) if env else Path(__file__).resolve().parent.parent


def _sub(name: str, env: str) -> Path:
    value = os.environ.get(env)
    return Path(value) if value else repo_root() / name


def notebooks_dir() -> Path:
    """The ordered notebooks."""
    return _sub("notebooks", "QDLIB_NOTEBOOKS_DIR")


def figures_dir() -> Path:
    """Where notebooks write figures (``QDLIB_FIGURES_DIR`` overrides); created on demand.

    >>> import os
    >>> os.environ["QDLIB_FIGURES_DIR"] = "my-figures"
    >>> str(figures_dir()), figures_dir().is_dir()
    ('my-figures', True)
    """
    path = _sub("figures", "QDLIB_FIGURES_DIR")
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """The project's released data (not the authors' files, which pooch caches).

    >>> (data_dir() / "registry.txt").is_file()
    True
    """
    return _sub("data", "QDLIB_RELEASE_DIR")


def params_dir() -> Path:
    """Parameter files of the reproduction profiles, one folder per profile."""
    return _sub("params", "QDLIB_PARAMS_DIR")


def stores_dir() -> Path:
    """The working TD-DFT results stores (``QDLIB_STORES_DIR`` overrides; default ``data/stores``)."""
    return _sub("data/stores", "QDLIB_STORES_DIR")


def store_path(name: str) -> Path:
    """The working results store ``name``: ASE's JSON database ``<stores_dir>/<name>.json``.

    Text that grows by one row per result, so that version control carries it well; a user who
    runs large campaigns points ``--store`` at an SQLite file or a PostgreSQL URL instead.

    >>> store_path("verdicts").name
    'verdicts.json'
    """
    return stores_dir() / f"{name}.json"


def checkpoints_dir() -> Path:
    """Restart points of TD-DFT calculations in progress (removed when a result is stored)."""
    return stores_dir() / "checkpoints"

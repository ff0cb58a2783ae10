"""Where the project's folders are: notebooks, figures, released data, parameter files.

Resolved from the source checkout (the package is installed editable); each
can be overridden by an environment variable for installs elsewhere.

>>> (repo_root() / "qdlib" / "paths.py").is_file(), notebooks_dir().name, params_dir().name
(True, 'notebooks', 'params')
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["repo_root", "notebooks_dir", "figures_dir", "data_dir", "params_dir"]


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

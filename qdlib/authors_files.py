"""The authors' published files: the one pinned pooch registry and verified local copies.

:data:`PAPER_DATA` lists every file the package reads from the authors' repository
(:data:`AUTHORS_REPOSITORY` at :data:`AUTHORS_COMMIT`) with its SHA-256; :func:`fetch_file` gives
the local path of a verified copy (downloaded into ``pooch.os_cache("qdlib")``, or found in
``QDLIB_DATA_DIR``) and raises :class:`~qdlib.datasets.DataFileError` when it cannot;
:func:`fetch_wavelength_grid` reads the authors' grid files. Loading them as Python objects is
:mod:`qdlib.datasets`' idea.

>>> sorted(PAPER_DATA.registry)[0]
'Machine_learning/dataset/RCM_input_data.csv'
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

import numpy as np
import pooch
from numpy.typing import NDArray

from .spectra import wavelength_grid

__all__ = [
    "AUTHORS_COMMIT",
    "AUTHORS_REPOSITORY",
    "PAPER_DATA",
    "DataFileError",
    "fetch_file",
    "fetch_wavelength_grid",
]

AUTHORS_REPOSITORY = "KShiba24/INVERSE-DESIGN-DDPG"
AUTHORS_COMMIT = "cb4e1f1c6e6eff84ec39929e0216db28f6211e9d"

#: The one registry of the authors' files (paths as in their repository).
PAPER_DATA = pooch.create(
    path=pooch.os_cache("qdlib"),
    base_url=f"https://raw.githubusercontent.com/{AUTHORS_REPOSITORY}/{AUTHORS_COMMIT}/",
    env="QDLIB_DATA_DIR",
    retry_if_failed=2,
    registry={
        "Machine_learning/dataset/RCM_input_data.csv": "sha256:91229be1574085b0918765442ce26ffbe74015ce979d0b30f25772147afb3290",
        "Machine_learning/dataset/RCM_label_data.csv": "sha256:96fa2287756cb51250b61f7ec302c37db367d74cb25efd327075e5130b3add52",
        "Machine_learning/dataset/RCM_input_data_emi.csv": "sha256:14af43eadf3cfae8f7ff0b0f02ed602b8a9b225c43fa878c653653fda0f23283",
        "Machine_learning/dataset/RCM_label_data_emi.csv": "sha256:0143ebdda75562b83eb3dc0f1598ad0a2c374fae719712894af9fa63f6526400",
        "Machine_learning/dataset/wavelengeth.csv": "sha256:c3937036fa7c3a78e958bf2bc997112d94c77528844cba8dd10ee265d2a7816a",
        "Machine_learning/dataset/wavelengeth_emi.csv": "sha256:52b0b9cf1c73c2b93ae489fddc6720fe64dcbdbce3e97359ab4fe1dbb82b1940",
        "Reinforcement_learning/Cd6Se6/Cd6Se6_abs.csv": "sha256:22f67c45e87693d794a694d53f888476e0d3c7c5c3e333d31b50fbc60cec1ca1",
    },
)

_FILES = {
    "absorption": ("Machine_learning/dataset/RCM_input_data.csv", "Machine_learning/dataset/RCM_label_data.csv"),
    "emission": ("Machine_learning/dataset/RCM_input_data_emi.csv", "Machine_learning/dataset/RCM_label_data_emi.csv"),
}
_GRID_FILES = {
    "absorption": "Machine_learning/dataset/wavelengeth.csv",
    "emission": "Machine_learning/dataset/wavelengeth_emi.csv",
}


class DataFileError(RuntimeError):
    """A data file that is missing, corrupt or not what the code expects."""

    __module__ = "qdlib.datasets"  # the name it is imported by, raised with and documented under


def fetch_file(name: str) -> Path:
    """Local path of one registry file, downloading and verifying it if needed.

    Raises
    ------
    DataFileError
        If the file cannot be had with the registered SHA-256 (corrupt
        download, corrupt cached copy that cannot be replaced, no network).

    Examples
    --------
    >>> fetch_file("Machine_learning/dataset/wavelengeth.csv").name
    'wavelengeth.csv'
    """
    if name not in PAPER_DATA.registry:
        raise DataFileError(f"{name!r} is not in the registry; known files: {sorted(PAPER_DATA.registry)}")
    try:
        return Path(PAPER_DATA.fetch(name, progressbar=False))
    except Exception as exc:
        local = Path(PAPER_DATA.abspath) / name
        raise DataFileError(
            f"could not obtain a verified copy of {name} (expected {PAPER_DATA.registry[name]}). "
            f"Local copy: {local} ({'present' if local.exists() else 'absent'}); "
            f"source: {PAPER_DATA.get_url(name)}. Point QDLIB_DATA_DIR at a folder holding the authors' "
            f"files, or delete the corrupt copy to download it again. Cause: {type(exc).__name__}: {exc}"
        ) from exc


def _load_matrix(name: str, n_cols: int, skip_header: bool = False) -> NDArray[np.float64]:
    path = fetch_file(name)
    return _parse_matrix(str(path), path.stat().st_mtime_ns, n_cols, skip_header).copy()


@functools.lru_cache(maxsize=16)
def _parse_matrix(path: str, mtime_ns: int, n_cols: int, skip_header: bool) -> NDArray[np.float64]:
    """Parse a numeric CSV once per (file, modification time)."""
    try:
        data = np.loadtxt(path, delimiter=",", ndmin=2, skiprows=int(skip_header), encoding="utf-8-sig")
    except ValueError as exc:
        raise DataFileError(f"{path} is not a numeric CSV: {exc}") from exc
    if data.shape[1] != n_cols:
        raise DataFileError(f"{path} has {data.shape[1]} columns, expected {n_cols}")
    return data


def fetch_wavelength_grid(kind: Literal["absorption", "emission"] = "absorption") -> NDArray[np.float64]:
    """The authors' wavelength grid file, nm, checked against :func:`qdlib.spectra.wavelength_grid`.

    >>> grid = fetch_wavelength_grid("emission")
    >>> grid.size, float(grid[0]), float(grid[-1])
    (500, 300.0, 2994.6)
    """
    grid = _load_matrix(_GRID_FILES[_check_kind(kind)], 1, skip_header=True)[:, 0]
    ours = wavelength_grid(kind)
    if grid.shape != ours.shape or not np.allclose(grid, ours, atol=1e-9):
        raise DataFileError(f"the authors' {kind} grid does not match the paper grid")
    return grid


def _check_kind(kind: str) -> str:
    if kind not in _FILES:
        raise ValueError(f"kind must be 'absorption' or 'emission', got {kind!r}")
    return kind

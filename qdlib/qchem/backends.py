"""Where a calculation runs: PySCF on the CPU or gpu4pyscf on a CUDA GPU, and on how many threads.

``"auto"`` takes the GPU when gpu4pyscf imports and CuPy sees a CUDA device, else the CPU; the
backend changes the speed, never the answer. :func:`versions` records what computed a result.

>>> select_backend("cpu")
'cpu'
"""

from __future__ import annotations

import importlib
import platform
from typing import Literal

import numpy as np

__all__ = ["Backend", "BackendUnavailableError", "gpu_available", "select_backend", "versions"]

#: A backend as asked for (``"auto"`` resolves to one of the other two).
Backend = Literal["auto", "cpu", "gpu"]


class BackendUnavailableError(RuntimeError):
    """The requested backend cannot run on this machine (``"gpu"`` without gpu4pyscf or a CUDA device)."""


def gpu_available() -> bool:
    """Whether gpu4pyscf imports and CuPy sees at least one CUDA device.

    Returns
    -------
    bool
        ``False`` also when the CUDA driver fails (no error is raised).

    Examples
    --------
    >>> gpu_available() in (True, False)
    True
    """
    try:
        importlib.import_module("gpu4pyscf")
        cupy = importlib.import_module("cupy")
        return int(cupy.cuda.runtime.getDeviceCount()) > 0
    except Exception:  # ImportError, CUDA driver errors, ...
        return False


def select_backend(requested: Backend = "auto") -> Literal["cpu", "gpu"]:
    """Resolve ``"auto"``/``"cpu"``/``"gpu"`` to the backend that will run.

    Parameters
    ----------
    requested : {"auto", "cpu", "gpu"}
        ``"auto"`` takes the GPU when :func:`gpu_available`, else the CPU.

    Returns
    -------
    {"cpu", "gpu"}

    Raises
    ------
    BackendUnavailableError
        If ``"gpu"`` is requested and gpu4pyscf or a CUDA device is missing.
    ValueError
        For an unknown name.

    Examples
    --------
    >>> select_backend("cpu")
    'cpu'
    >>> select_backend("tpu")
    Traceback (most recent call last):
    ...
    ValueError: backend must be 'auto', 'cpu' or 'gpu', got 'tpu'
    """
    if requested not in ("auto", "cpu", "gpu"):
        raise ValueError(f"backend must be 'auto', 'cpu' or 'gpu', got {requested!r}")
    if requested == "cpu":
        return "cpu"
    has_gpu = gpu_available()
    if requested == "gpu" and not has_gpu:
        raise BackendUnavailableError(
            "backend 'gpu' needs gpu4pyscf and a CUDA device: install the extra (pip install -e '.[gpu]') "
            "on a machine with an NVIDIA GPU, or use backend='cpu'"
        )
    return "gpu" if has_gpu else "cpu"


def versions(backend: str) -> dict[str, str]:
    """Versions of the packages behind a calculation, recorded with every result.

    Parameters
    ----------
    backend : {"cpu", "gpu"}
        The backend that ran; ``"gpu"`` adds gpu4pyscf's version.

    Returns
    -------
    dict of str to str
        Package name to version: PySCF, NumPy, Python, qdlib (and gpu4pyscf).

    Examples
    --------
    >>> sorted(versions("cpu"))
    ['numpy', 'pyscf', 'python', 'qdlib']
    """
    import pyscf

    out = {"pyscf": pyscf.__version__, "numpy": np.__version__, "python": platform.python_version()}
    try:
        import qdlib

        out["qdlib"] = qdlib.__version__
    except ImportError:  # pragma: no cover
        pass
    if backend == "gpu":
        out["gpu4pyscf"] = importlib.import_module("gpu4pyscf").__version__
    return out


def _to_numpy(x):
    """A NumPy array of a NumPy or CuPy (gpu4pyscf) array."""
    return x.get() if hasattr(x, "get") else x


class _threads:
    """Context manager setting PySCF's OpenMP threads, restoring them after."""

    def __init__(self, n: int | None):
        self.n = n

    def __enter__(self):
        from pyscf import lib

        self.old = lib.num_threads()
        if self.n:
            lib.num_threads(self.n)

    def __exit__(self, *exc):
        from pyscf import lib

        lib.num_threads(self.old)

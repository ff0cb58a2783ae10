"""qdlib: inverse design of quantum-dot optical spectra with TD-DFT, surrogates and DDPG.

A reproduction of Yoshida et al., AIP Advances 12, 115316 (2022),
doi:10.1063/5.0127546.
"""

import contextlib
import os
import sys

__version__ = "0.1.0"

# Same numbers at any thread count and on any CPU with AVX2 (x86-64 since 2013): MKL's strict conditional
# numerical reproducibility on its AVX2 branch makes PyTorch's CPU matrix products bitwise independent of
# the number of threads (strict mode exists on the AVX2 and AVX-512 branches only) and of whether the CPU
# also has AVX-512 (MKL's AUTO would take the AVX-512 branch there, and training would drift apart:
# benchmarks/cpu_paths.py). PyTorch's own vectorised kernels are pinned to the AVX2 ones for the same
# reason (a CPU without AVX2 falls back to MKL's and ATen's other paths: its numbers differ). Both are
# read when the libraries load, so they are set here, before PyTorch is imported (a user's own settings
# are kept).
_TORCH_BEFORE_QDLIB = "torch" in sys.modules
os.environ.setdefault("MKL_CBWR", "AVX2,STRICT")
os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")


def mkl_reproducible() -> bool:
    """Whether MKL's strict reproducible mode was set before PyTorch loaded MKL in this process."""
    return not _TORCH_BEFORE_QDLIB and "STRICT" in os.environ.get("MKL_CBWR", "").upper()



@contextlib.contextmanager
def progress_lines(stream=None):
    """Within the block, print qdlib's progress messages (its INFO log lines) as plain lines on ``stream``.

    For long notebook cells and scripts: one line per relaxation gradient, per TD-DFT result, ….
    In a notebook run by papermill with ``log_output`` (``qdlib --verbose reproduce``) they appear as
    they come. Default stream: stdout.

    >>> import logging
    >>> with progress_lines():
    ...     logging.getLogger("qdlib.example").info("relaxation: gradient 1")
    relaxation: gradient 1
    >>> logging.getLogger("qdlib.example").info("not shown outside the block")
    """
    import logging

    logger = logging.getLogger("qdlib")
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the lines go to ``stream`` alone, not also to the root logger's stderr
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate

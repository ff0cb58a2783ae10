"""qdlib: inverse design of quantum-dot optical spectra with TD-DFT, surrogates and DDPG.

A reproduction of Yoshida et al., AIP Advances 12, 115316 (2022),
doi:10.1063/5.0127546.
"""

import os
import sys

__version__ = "0.1.0"

# Same numbers at any thread count: MKL's strict conditional numerical reproducibility makes
# PyTorch's CPU matrix products bitwise independent of the number of threads. MKL reads it when it
# loads, so it is set here, before PyTorch is imported (a user's own setting is kept).
_TORCH_BEFORE_QDLIB = "torch" in sys.modules
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")


def mkl_reproducible() -> bool:
    """Whether MKL's strict reproducible mode was set before PyTorch loaded MKL in this process."""
    return not _TORCH_BEFORE_QDLIB and "STRICT" in os.environ.get("MKL_CBWR", "").upper()

"""Fixtures of the qdlib.library tests."""

import numpy as np
import pytest
from ase import Atoms

from qdlib import library
from qdlib.structures import random_cluster


@pytest.fixture(scope="package")
def two_minima():
    """Relaxed Cd4Se4: two random starts that reach one minimum, and a puckered ring (xTB, seconds)."""
    angle = np.arange(8) * np.pi / 4
    ring = Atoms("CdSe" * 4, positions=np.c_[3.53 * np.cos(angle), 3.53 * np.sin(angle), 0.3 * (-1) ** np.arange(8)])
    starts = [random_cluster(8, rng=1, n_se=4), ring, random_cluster(8, rng=2, n_se=4)]
    return [library.relax(s)[0] for s in starts]

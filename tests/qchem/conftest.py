"""Fixtures of the qdlib.qchem tests: one real TD-DFT run of a CdSe dimer, shared by their files."""

import pytest
from ase import Atoms

from qdlib import qchem
from tests.fakes import CHEAP, CPU


@pytest.fixture(scope="package")
def dimer_result():
    """A CdSe dimer and its excitations at :data:`tests.fakes.CHEAP` (real PySCF), once for tests/qchem."""
    atoms = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.55]])
    return atoms, qchem.excitations(atoms, CHEAP, CPU)

"""Cheap stand-ins for a TD-DFT call, for tests of the store and the executors."""

import os
import time

import numpy as np

from qdlib.qchem import Excitations, TDDFTSettings


def fake_excitations(atoms, settings=TDDFTSettings(), options=None):
    """Deterministic 'excitations' from the geometry: no quantum chemistry."""
    if any(s == "Te" for s in atoms.get_chemical_symbols()) and len(atoms) == 1:
        raise RuntimeError("fake failure for a lone Te atom")
    d = float(np.linalg.norm(atoms.positions[-1] - atoms.positions[0]))
    e = 2.0 + 0.1 * d + 0.2 * np.arange(settings.n_states)
    return Excitations(
        energies_ev=e,
        osc_strengths=np.full(settings.n_states, 0.01),
        e_tot_hartree=-d,
        td_converged=np.ones(settings.n_states, bool),
        scf_strategy="diis",
        settings=settings,
        backend="cpu",
        wall_time_s=0.0,
        versions={"pyscf": "fake"},
        transitions=[[(0, k, 0.9), (1, 0, 0.1)] for k in range(settings.n_states)] if d < 2.75 else [],
    )


def slow_fake_excitations(atoms, settings=TDDFTSettings(), options=None):
    time.sleep(float(os.environ.get("QDLIB_FAKE_DELAY_S", "0.1")))
    return fake_excitations(atoms, settings, options)

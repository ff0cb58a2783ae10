"""qdlib.qchem.geomopt: state gradients, ground- and excited-state relaxations, emission."""

import dataclasses
import os

import numpy as np
import pytest
from ase import Atoms

from qdlib import qchem
from qdlib.qchem import TDDFTSettings, geomopt
from qdlib.qchem.accelerated import _cached_mb
from tests.fakes import CHEAP, CPU


def test_emission_relaxes_s1_then_computes_there(monkeypatch):
    """Kasha: the excitations come from the relaxed S1 geometry, not the input one."""
    start = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.55]])
    relaxed = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.70]])
    seen = {}

    def fake_opt(atoms, state, settings, options, max_steps):
        seen["state"] = state
        return relaxed

    def fake_exc(atoms, settings, options):
        seen["geometry"] = atoms.positions.copy()
        return "EXC"

    monkeypatch.setattr(geomopt, "optimize_excited_state", fake_opt)
    monkeypatch.setattr(geomopt, "excitations", fake_exc)
    exc, geom = qchem.emission(start, CHEAP, CPU)
    assert exc == "EXC" and geom is relaxed and seen["state"] == 1
    np.testing.assert_array_equal(seen["geometry"], relaxed.positions)


@pytest.mark.slow
@pytest.mark.tddft
@pytest.mark.skipif(not os.environ.get("QDLIB_SLOW_TESTS"), reason="minutes: set QDLIB_SLOW_TESTS=1")
def test_s1_relaxation_lowers_the_s1_energy(capfd):
    import logging

    ring = Atoms("Cd2Se2", positions=[[0, 0, 0], [2.6, 0, 0], [2.6, 2.6, 0.3], [0, 2.6, 0]])
    s = TDDFTSettings(n_states=3, grid_level=0, response_grid_level=0)
    before = qchem.excitations(ring, s, CPU)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    capfd.readouterr()
    after, relaxed = qchem.emission(ring, s, CPU, max_steps=4)
    out, err = capfd.readouterr()
    assert "geometric" not in (out + err).lower()  # geomeTRIC's banner and step reports stay out of the terminal
    assert root.handlers == handlers and root.level == level  # and it leaves the caller's logging as it was
    assert after.energies_ev[0] < before.energies_ev[0]
    assert relaxed.info["relaxed"] == "S1" and np.abs(relaxed.positions - ring.positions).max() > 0.01
    assert relaxed.info["optimization_gradients"] >= 2


@pytest.mark.tddft
def test_relaxation_steps_see_the_moved_geometry():
    """geomeTRIC moves one Mole in place: a step must not reuse integrals or grids of the last geometry."""
    mol = qchem.build_mol(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.55]]), CHEAP)
    _, _, mf = qchem.state_gradient(mol, 0, CHEAP, CPU)
    mol.set_geom_(np.array([[0.0, 0, 0], [0, 0, 2.75]]), unit="Angstrom")
    e_step, _, _ = qchem.state_gradient(mol, 0, CHEAP, CPU, dm0=mf.make_rdm1())
    fresh = qchem.run_scf(qchem.build_mol(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.75]]), CHEAP), CHEAP, CPU)
    assert abs(e_step - fresh.e_tot) < 1e-7


@pytest.mark.tddft
@pytest.mark.parametrize("state", [0, 1], ids=["S0", "S1"])
def test_state_gradient_is_the_derivative_of_the_state_energy(state):
    """Analytic gradient (Eh/bohr) against a central difference of the state's energy along the bond."""
    settings = dataclasses.replace(CHEAP, grid_level=3, scf_conv_tol=1e-11, td_conv_tol=1e-6)  # no grid response: a fine grid
    bohr = 0.529177210903
    h = 2e-3  # bohr

    def energy(z_bohr):
        mol = qchem.build_mol(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, z_bohr * bohr]]), settings)
        return qchem.state_gradient(mol, state, settings, CPU)

    z = 2.4 / bohr  # S1 (a degenerate pair, moving together along the bond) well above zero here
    _, g, _ = energy(z)
    numeric = (energy(z + h)[0] - energy(z - h)[0]) / (2 * h)
    assert g.shape == (2, 3) and abs(g[1, 2]) > 1e-3  # a real force along the bond, not a minimum
    assert abs(g[1, 2] - numeric) < 2e-5
    np.testing.assert_allclose(g[0], -g[1], atol=1e-5)  # no net force on the pair (up to the grid, 1e-6 here)


@pytest.mark.tddft
def test_relaxation_steps_free_the_previous_steps_scf_objects(monkeypatch):
    """Each step's SCF object holds integrals and grid values (gigabytes at 8+ atoms): none may outlive its step."""
    import weakref

    real_run_scf, made, alive_at_step = qchem.run_scf, [], []

    def recording_run_scf(*args, **kwargs):
        alive_at_step.append(sum(ref() is not None for ref in made))
        mf = real_run_scf(*args, **kwargs)
        made.append(weakref.ref(mf))
        return mf

    monkeypatch.setattr(geomopt, "run_scf", recording_run_scf)
    out = qchem.optimize_ground_state(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.9]]), CHEAP, CPU, max_steps=4)
    assert out.info["optimization_gradients"] >= 3
    assert alive_at_step[0] == 0 and max(alive_at_step) == 0


@pytest.mark.tddft
def test_state_gradient_leaves_no_caches_behind():
    mol = qchem.build_mol(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.4]]), CHEAP)
    assert _cached_mb(qchem.run_scf(mol, CHEAP, CPU)) > 0  # a single point keeps integrals and AO values
    _, _, mf = qchem.state_gradient(mol, 1, CHEAP, CPU)
    assert _cached_mb(mf) == 0  # a relaxation step returns its SCF object without them
    assert mf.converged and mf.make_rdm1().shape == (mol.nao_nr(), mol.nao_nr())

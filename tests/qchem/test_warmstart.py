"""qdlib.qchem.warmstart: a calculation started from a related one's orbitals and vectors gives the cold answer."""

import dataclasses

import numpy as np
import pytest
from ase import Atoms

from qdlib import qchem
from qdlib.qchem import Excitations, TDDFTSettings
from qdlib.qchem.warmstart import pad_guess
from tests.fakes import CHEAP, CPU


@pytest.mark.tddft
def test_carried_vectors_padded_with_pyscfs_keep_the_solvers_first_subspace_well_conditioned():
    """The full-TDDFT solver factors σ − π of its first vectors ``[X, Y]`` (σ = X·X − Y·Y, π = X·Y − Y·X).

    Padding the previous solution's vectors with PySCF's ``[x, 0]`` rows, projected on the ``X``
    halves only, keeps it near the identity; projecting whole rows leaves rows with ``|x| ≈ |y|``.
    """
    settings = dataclasses.replace(CHEAP, n_states=6)
    mf = qchem.run_scf(qchem.build_mol(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.55]]), settings), settings)
    td = qchem.run_tddft(mf, settings, CPU)
    found = np.array([np.concatenate([np.ravel(x), np.ravel(y)]) for x, y in td.xy])
    default = np.asarray(mf.TDDFT().get_init_guess(mf, 12))

    def condition(paired):
        x0 = pad_guess(found, default, len(found) + len(default), paired=paired)
        v, w = np.split(x0, 2, axis=1)
        sigma, pi = v @ v.T - w @ w.T, v @ w.T - w @ v.T
        d = np.sqrt(np.abs(np.diag(sigma)))
        return np.linalg.cond((sigma - pi) / np.outer(d, d))

    assert condition(paired=True) < 2
    assert condition(paired=False) > 100  # what the growth step used to start from


@pytest.mark.tddft
@pytest.mark.parametrize("cover_nm", [None, 150.0], ids=["states", "cover"])
def test_warm_start_gives_the_cold_answer(tmp_path, cover_nm):
    """A stretched CdSe from the dimer's solution: the same energies and strengths as a cold start.

    The solver's threshold is tightened (1e-7 instead of 1e-5): at the paper's, the cold answer itself
    is fixed only to about 1e-5 in the highest states' strengths, whatever the guess. (Whether the warm
    start is faster is measured on real designs by benchmarks/warm_start.py: a dimer's solver
    converges in a few steps from any guess.)
    """
    settings = TDDFTSettings(n_states=4, grid_level=0, scf_conv_tol=1e-9, td_conv_tol=1e-7)
    ref = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.55]])
    point = str(tmp_path / "warm" / "ref.chk")
    qchem.excitations(ref, settings, CPU, cover_nm=cover_nm, save_warm_start_to=point)
    assert sorted(f.name for f in (tmp_path / "warm").iterdir()) == ["ref.chk", "ref.chk.xy.npz"]  # no temporaries left
    moved = Atoms("CdSe", positions=[[0, 0, 0], [0.05, 0.03, 2.65]])  # its ground state needs the stability follow-up
    cold = qchem.excitations(moved, settings, CPU, cover_nm=cover_nm)
    warm = qchem.excitations(moved, settings, dataclasses.replace(CPU, warm_start=point), cover_nm=cover_nm)
    n = min(cold.energies_ev.size, warm.energies_ev.size)
    assert cover_nm is None or (cold.covers(cover_nm) and warm.covers(cover_nm) and n > 4)
    np.testing.assert_allclose(warm.energies_ev[:n], cold.energies_ev[:n], atol=1e-5)
    np.testing.assert_allclose(warm.osc_strengths[:n], cold.osc_strengths[:n], atol=1e-5)
    assert abs(warm.e_tot_hartree - cold.e_tot_hartree) < 1e-8
    assert (cold.start, warm.start) == ("default", "warm:ref.chk")  # the provenance of each
    assert Excitations.from_dict(warm.to_dict()).start == "warm:ref.chk"


@pytest.mark.tddft
def test_warm_start_of_another_molecule_is_ignored(tmp_path, dimer_result, caplog):
    atoms, exc = dimer_result
    point = str(tmp_path / "cd.chk")
    qchem.excitations(Atoms("Cd"), CHEAP, CPU, save_warm_start_to=point)
    out = qchem.excitations(atoms, CHEAP, dataclasses.replace(CPU, warm_start=point))
    assert "belongs to another molecule" in caplog.text
    assert out.start == "default"
    np.testing.assert_allclose(out.energies_ev, exc.energies_ev, atol=1e-6)

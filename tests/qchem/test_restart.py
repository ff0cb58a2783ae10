"""qdlib.qchem.restart: SCF, TDDFT and relaxation checkpoints; interrupted runs resume from them."""

import dataclasses
import os

import numpy as np
import pytest
from ase import Atoms

from qdlib import qchem
from qdlib.qchem import response
from tests.fakes import CHEAP, CPU


@pytest.mark.tddft
def test_scf_checkpoint_restarts_from_the_last_orbitals(tmp_path, dimer_result):
    atoms, exc = dimer_result
    mol = qchem.build_mol(atoms, CHEAP)
    chk = str(tmp_path / "dimer.chk")
    first = qchem.run_scf(mol, CHEAP, CPU, chkfile=chk)
    again = qchem.run_scf(mol, CHEAP, CPU, chkfile=chk)
    assert first.cycles > 3 and again.cycles <= 2 and abs(again.e_tot - first.e_tot) < 1e-8
    out = qchem.excitations(atoms, CHEAP, dataclasses.replace(CPU, checkpoint_dir=str(tmp_path / "chk")))
    chk = tmp_path / "chk" / f"{qchem.result_key(atoms, CHEAP)}.chk"
    assert chk.parent.is_dir() and not chk.exists()  # removed when done
    np.testing.assert_allclose(out.energies_ev, exc.energies_ev, atol=1e-6)


class _Interrupt(Exception):
    pass


@pytest.fixture(scope="module")
def dimer_scf(dimer_result):
    atoms, _ = dimer_result
    return qchem.run_scf(qchem.build_mol(atoms, CHEAP), CHEAP, CPU)


def _count_operator_calls(monkeypatch, tda: bool, stop_after: int | None = None) -> list[int]:
    """Wrap PySCF's response operator: record each call's number of vectors, optionally interrupt."""
    from pyscf.tdscf import rks

    cls = rks.TDA if tda else rks.TDDFT
    real, calls = cls.gen_vind, []

    def gen_vind(self, mf=None):
        vind, hdiag = real(self, mf)

        def counted(zs):
            calls.append(len(zs))
            if stop_after is not None and len(calls) > stop_after:
                raise _Interrupt
            return vind(zs)

        return counted, hdiag

    monkeypatch.setattr(cls, "gen_vind", gen_vind)
    return calls


@pytest.mark.tddft
@pytest.mark.parametrize("tda", [False, True], ids=["rpa", "tda"])
def test_interrupted_tddft_resumes_from_saved_vectors(tmp_path, monkeypatch, dimer_scf, tda):
    settings = dataclasses.replace(CHEAP, tda=tda, td_conv_tol=1e-7)
    restart = str(tmp_path / "dimer.td.npz")
    ref = qchem.run_tddft(dimer_scf, settings, CPU)
    assert all(ref.converged)

    with monkeypatch.context() as m:
        _count_operator_calls(m, tda, stop_after=3)
        with pytest.raises(_Interrupt):
            qchem.run_tddft(dimer_scf, settings, CPU, restart_file=restart)
    with np.load(restart) as f:
        saved = f["vectors"]
    n_ov = ref.xy[0][0].size
    assert saved.shape == (2 * settings.n_states, n_ov if tda else 2 * n_ov) and np.isfinite(saved).all()

    resumed = qchem.run_tddft(dimer_scf, settings, CPU, restart_file=restart)
    np.testing.assert_allclose(resumed.e, ref.e, atol=1e-9)

    # the file now holds the converged vectors: a restart from them needs one or two operator calls
    calls = _count_operator_calls(monkeypatch, tda)
    again = qchem.run_tddft(dimer_scf, settings, CPU, restart_file=restart)
    assert all(again.converged) and len(calls) <= 2
    np.testing.assert_allclose(again.e, ref.e, atol=1e-9)


@pytest.mark.tddft
def test_restart_file_of_another_problem_is_ignored(tmp_path, dimer_scf, caplog):
    restart = tmp_path / "other.td.npz"
    np.savez(restart, vectors=np.ones((4, 7)), hermitian=False)
    td = qchem.run_tddft(dimer_scf, CHEAP, CPU, restart_file=str(restart))
    assert all(td.converged) and "belongs to another problem" in caplog.text
    restart.write_bytes(b"not a numpy file")
    td = qchem.run_tddft(dimer_scf, CHEAP, CPU, restart_file=str(restart))
    assert all(td.converged) and "unreadable TDDFT restart file" in caplog.text


@pytest.mark.tddft
def test_excitations_keep_tddft_vectors_beside_the_scf_checkpoint_until_done(tmp_path, monkeypatch, dimer_result):
    atoms, exc = dimer_result
    chk = tmp_path / "chk"
    real_run_tddft, written = qchem.run_tddft, []

    def run_tddft(mf, settings, options, restart_file=None, guess=None):
        td = real_run_tddft(mf, settings, options, restart_file=restart_file, guess=guess)
        written.append((restart_file, os.path.isfile(restart_file)))
        return td

    monkeypatch.setattr(response, "run_tddft", run_tddft)
    out = qchem.excitations(atoms, CHEAP, dataclasses.replace(CPU, checkpoint_dir=str(chk)))
    assert written == [(str(chk / f"{qchem.result_key(atoms, CHEAP)}.td.npz"), True)]
    assert not list(chk.iterdir())  # both restart points removed once the result exists
    np.testing.assert_allclose(out.energies_ev, exc.energies_ev, atol=1e-6)


@pytest.mark.tddft
def test_interrupted_relaxation_continues_from_its_last_geometry(tmp_path, monkeypatch):
    start = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.9]])
    options = dataclasses.replace(CPU, checkpoint_dir=str(tmp_path))
    ref = qchem.optimize_ground_state(start, CHEAP, CPU, max_steps=30)
    assert ref.info["optimization_converged"]

    real_save, saved = qchem.OptimizationCheckpoint.save, []

    def save_then_stop(self, atoms, positions, gradients):
        real_save(self, atoms, positions, gradients)
        saved.append(np.array(positions))
        if len(saved) == 2:
            raise _Interrupt

    with monkeypatch.context() as m:
        m.setattr(qchem.OptimizationCheckpoint, "save", save_then_stop)
        with pytest.raises(_Interrupt):
            qchem.optimize_ground_state(start, CHEAP, options, max_steps=30)
    (path,) = tmp_path.iterdir()
    checkpoint = qchem.OptimizationCheckpoint(str(path))
    resumed_from, done = checkpoint.load(start)
    assert done == 2 and np.allclose(resumed_from.positions, saved[-1])

    out = qchem.optimize_ground_state(start, CHEAP, options, max_steps=30)
    assert out.info["optimization_converged"] and out.info["optimization_gradients"] > 2
    assert abs(out.get_distance(0, 1) - ref.get_distance(0, 1)) < 5e-3  # Å, geomeTRIC's tolerance
    assert not list(tmp_path.iterdir())  # removed once relaxed

    # a checkpoint of other atoms, or a damaged one, is ignored
    path.write_text("not xyz")
    assert checkpoint.load(start)[1] == 0
    checkpoint.save(Atoms("Cd2", positions=[[0, 0, 0], [0, 0, 3]]), [[0, 0, 0], [0, 0, 3]], 5)
    assert checkpoint.load(start) == (start, 0)

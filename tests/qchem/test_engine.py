"""qdlib.qchem.engine and its solves (scf, response): single points end to end, stability and the Tamm-Dancoff fallback."""

import dataclasses
import os

import numpy as np
import pytest
from ase import Atoms

from qdlib import qchem, spectra
from qdlib.qchem import EngineOptions, engine, response
from qdlib.structures import StructureError
from tests.fakes import CHEAP, CPU


@pytest.mark.tddft
def test_tiny_cluster_end_to_end(dimer_result):
    atoms, exc = dimer_result
    assert exc.backend == "cpu" and exc.converged and exc.scf_strategy == "diis"
    assert exc.energies_ev.shape == (2,) and np.all(np.diff(exc.energies_ev) >= 0)
    assert np.all(exc.energies_ev > 0.1) and np.all(exc.energies_ev < 10)
    assert np.all(exc.osc_strengths >= 0)
    np.testing.assert_allclose(exc.wavelengths_nm, spectra.HC_EV_NM / exc.energies_ev)
    assert exc.versions["pyscf"] and exc.wall_time_s > 0
    assert exc.e_tot_hartree < 0
    ab = exc.spectrum("absorption")
    em = exc.spectrum("emission")
    assert ab.shape == em.shape == (500,)
    np.testing.assert_allclose(em, spectra.broaden(exc.wavelengths_nm[:1], exc.osc_strengths[:1], spectra.wavelength_grid("emission")))
    assert "λ (nm)" in exc.table()


def test_invalid_structure_rejected_before_integrals(monkeypatch):
    called = []
    monkeypatch.setattr(engine, "run_scf", lambda *a, **k: called.append(1))
    with pytest.raises(StructureError, match="overlap"):
        qchem.excitations(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 0.4]]), CHEAP, CPU)
    with pytest.raises(StructureError, match="unsupported element"):
        qchem.excitations(Atoms("CdAu", positions=[[0, 0, 0], [0, 0, 2.6]]), CHEAP, CPU)
    assert called == []


@pytest.mark.tddft
def test_scf_failure_is_reported_not_used():
    atoms = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.55]])
    with pytest.raises(qchem.SCFConvergenceError, match="diis.*level_shift.*newton"):
        qchem.excitations(atoms, CHEAP, EngineOptions(backend="cpu", threads=1, scf_max_cycle=1))


@pytest.mark.tddft
def test_stable_ground_state_passes_the_stability_check(dimer_result):
    atoms, exc = dimer_result
    mf = qchem.run_scf(qchem.build_mol(atoms, CHEAP), CHEAP, CPU)
    e0 = mf.e_tot
    assert qchem.follow_internal_instability(mf) is mf
    assert mf.qdlib_strategy == "diis+stability" and mf.e_tot == e0


def _saddle_on_solve(monkeypatch, ks, label):
    """Make the TDDFT solves numbered in ``ks`` (from 1) raise PySCF's saddle-point error; record ``label(settings, guess)`` per solve and "stability" per follow-up."""
    seen = []
    real_run_tddft, real_follow = qchem.run_tddft, qchem.follow_internal_instability

    def run_tddft(mf, settings, options, **kw):
        seen.append(label(settings, kw.get("guess")))
        if sum(x != "stability" for x in seen) in ks:
            raise RuntimeError("This error is often caused by a problematic SCF solution, such as a saddle-point solution.")
        return real_run_tddft(mf, settings, options, **kw)

    def follow(mf):
        seen.append("stability")
        return real_follow(mf)

    monkeypatch.setattr(response, "run_tddft", run_tddft)
    monkeypatch.setattr(response, "follow_internal_instability", follow)
    return seen


@pytest.mark.tddft
def test_saddle_point_ground_state_is_followed_then_tddft_retried(monkeypatch, dimer_result):
    atoms, exc = dimer_result
    calls = _saddle_on_solve(monkeypatch, {1}, lambda settings, guess: "tddft")  # what PySCF raises when A - B is not positive definite
    again = qchem.excitations(atoms, CHEAP, CPU)
    assert calls == ["tddft", "stability", "tddft"]
    assert again.scf_strategy == "diis+stability"
    np.testing.assert_allclose(again.energies_ev, exc.energies_ev, atol=1e-6)


@pytest.mark.tddft
def test_full_tddft_still_unsolvable_after_stability_falls_back_to_tamm_dancoff(monkeypatch, dimer_result):
    atoms, _ = dimer_result
    seen = []
    real_run_tddft = qchem.run_tddft

    def run_tddft(mf, s, options, **kw):
        seen.append(s.tda)
        if not s.tda:
            raise RuntimeError("This error is often caused by a problematic SCF solution, such as a saddle-point solution.")
        return real_run_tddft(mf, s, options, **kw)

    monkeypatch.setattr(response, "run_tddft", run_tddft)
    out = qchem.excitations(atoms, CHEAP, CPU)
    assert seen == [False, False, True]
    assert out.scf_strategy == "diis+stability+tda-fallback" and out.settings == dataclasses.replace(CHEAP, tda=True)
    tda = qchem.excitations(atoms, dataclasses.replace(CHEAP, tda=True), CPU)
    np.testing.assert_allclose(out.energies_ev, tda.energies_ev, atol=1e-6)

    seen.clear()

    def always_unsolvable(mf, s, options, **kw):
        seen.append(s.tda)
        raise RuntimeError("This error is often caused by a problematic SCF solution, such as a saddle-point solution.")

    monkeypatch.setattr(response, "run_tddft", always_unsolvable)
    with pytest.raises(RuntimeError, match="saddle-point"):  # Tamm-Dancoff asked for and failing: nothing left to try
        qchem.excitations(atoms, dataclasses.replace(CHEAP, tda=True), CPU)
    assert seen == [True, True]


@pytest.mark.tddft
def test_after_a_saddle_point_the_failed_solves_vectors_are_not_the_next_guess(monkeypatch, tmp_path, dimer_result):
    """The restart file of the solve that found the saddle point holds vectors of the old orbitals: discarded."""
    atoms, exc = dimer_result
    seen = []
    real_run_tddft = qchem.run_tddft

    def run_tddft(mf, settings, options, restart_file=None, guess=None):
        seen.append(os.path.isfile(restart_file))
        if len(seen) == 1:  # the solver wrote its restart point, then failed
            real_run_tddft(mf, settings, options, restart_file=restart_file)
            assert os.path.isfile(restart_file)
            raise RuntimeError("This error is often caused by a problematic SCF solution, such as a saddle-point solution.")
        return real_run_tddft(mf, settings, options, restart_file=restart_file, guess=guess)

    monkeypatch.setattr(response, "run_tddft", run_tddft)
    out = qchem.excitations(atoms, CHEAP, dataclasses.replace(CPU, checkpoint_dir=str(tmp_path)))
    assert seen == [False, False]  # the second solve starts from PySCF's own guess
    np.testing.assert_allclose(out.energies_ev, exc.energies_ev, atol=1e-6)


@pytest.mark.tddft
def test_when_a_minus_b_is_indefinite_tamm_dancoff_is_solved_without_another_full_tddft(monkeypatch, dimer_result):
    """A ground state stable to real rotations whose A - B is not positive definite: no real full-TDDFT solution."""
    atoms, _ = dimer_result
    assert qchem.complex_instability(qchem.run_scf(qchem.build_mol(atoms, CHEAP), CHEAP)) > 0  # the dimer's is
    seen = _saddle_on_solve(monkeypatch, {1}, lambda settings, guess: settings.tda)
    monkeypatch.setattr(response, "complex_instability", lambda mf: -0.01)
    out = qchem.excitations(atoms, CHEAP, CPU)
    assert seen == [False, "stability", True] and out.scf_strategy == "diis+stability+tda-fallback"
    np.testing.assert_allclose(out.energies_ev, qchem.excitations(atoms, dataclasses.replace(CHEAP, tda=True), CPU).energies_ev, atol=1e-6)


@pytest.mark.tddft
@pytest.mark.parametrize("lowest, fallback", [(-0.01, True), (0.05, False)])
def test_unconverged_full_tddft_falls_back_to_tamm_dancoff_only_when_a_minus_b_is_indefinite(monkeypatch, dimer_result, lowest, fallback):
    atoms, _ = dimer_result
    real_run_tddft = qchem.run_tddft

    def unconverged_full(mf, settings, options, **kw):
        td = real_run_tddft(mf, settings, options, **kw)
        if not settings.tda:
            td.converged = np.zeros(len(td.e), dtype=bool)  # as when the real solver keeps meeting singular subspaces
        return td

    monkeypatch.setattr(response, "run_tddft", unconverged_full)
    monkeypatch.setattr(response, "complex_instability", lambda mf: lowest)
    out = qchem.excitations(atoms, CHEAP, CPU)
    assert out.settings.tda is fallback and out.converged is fallback
    assert out.scf_strategy == ("diis+tda-fallback" if fallback else "diis")


@pytest.mark.tddft
def test_a_saddle_point_found_only_with_more_states_is_handled_while_growing(monkeypatch, dimer_result):
    """More states can reveal a saddle point the first few did not: the growth follows it, not fails."""
    atoms, _ = dimer_result
    expected = qchem.excitations(atoms, CHEAP, CPU, cover_nm=150.0)
    assert expected.settings.n_states > CHEAP.n_states  # the window needed more states than asked for
    # the first solve with more states fails from the carried vectors and again from PySCF's guess
    seen = _saddle_on_solve(monkeypatch, {2, 3}, lambda settings, guess: (settings.n_states, guess is not None))
    out = qchem.excitations(atoms, CHEAP, CPU, cover_nm=150.0)
    m = seen[1][0]  # the first larger state count
    assert m > CHEAP.n_states and seen[:5] == [(CHEAP.n_states, False), (m, True), (m, False), "stability", (m, False)]
    assert out.covers(150.0) and out.scf_strategy == "diis+stability" and out.settings == expected.settings
    np.testing.assert_allclose(out.energies_ev, expected.energies_ev, atol=1e-5)


@pytest.mark.tddft
def test_a_start_from_carried_vectors_that_fails_is_retried_from_pyscfs_guess_first(monkeypatch, dimer_result):
    """PySCF raises the saddle-point error for a singular first subspace too: no stability analysis is owed then."""
    atoms, _ = dimer_result
    expected = qchem.excitations(atoms, CHEAP, CPU, cover_nm=150.0)
    seen = _saddle_on_solve(monkeypatch, {2}, lambda settings, guess: guess is not None)
    out = qchem.excitations(atoms, CHEAP, CPU, cover_nm=150.0)
    assert seen[:3] == [False, True, False] and "stability" not in seen
    assert out.scf_strategy == "diis" and out.settings == expected.settings
    np.testing.assert_allclose(out.energies_ev, expected.energies_ev, atol=1e-5)


@pytest.mark.tddft
def test_other_tddft_errors_are_not_swallowed(monkeypatch, dimer_result):
    atoms, _ = dimer_result

    def broken(mf, settings, options, **kw):
        raise RuntimeError("something else")

    monkeypatch.setattr(response, "run_tddft", broken)
    with pytest.raises(RuntimeError, match="something else"):
        qchem.excitations(atoms, CHEAP, CPU)


@pytest.mark.tddft
def test_a_single_point_leaves_no_reference_cycle_holding_its_scf_object(tmp_path, monkeypatch):
    """With the cyclic collector off, the SCF object (and its integrals) must go when excitations() returns."""
    import gc
    import weakref

    real_run_scf, made = qchem.run_scf, []

    def recording_run_scf(*args, **kwargs):
        mf = real_run_scf(*args, **kwargs)
        made.append(weakref.ref(mf))
        return mf

    monkeypatch.setattr(engine, "run_scf", recording_run_scf)
    options = dataclasses.replace(CPU, checkpoint_dir=str(tmp_path))  # the solver's recording wrapper too
    gc.disable()
    try:
        qchem.excitations(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.55]]), CHEAP, options)
        assert len(made) == 1 and made[0]() is None
    finally:
        gc.enable()

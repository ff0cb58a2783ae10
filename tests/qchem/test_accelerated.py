"""qdlib.qchem.accelerated: stored integrals, cached AO values and the MO-space response, checked against PySCF."""

import dataclasses
import os
import sys

import numpy as np
import pytest
from ase import Atoms

from qdlib import qchem
from qdlib.qchem import EngineOptions, TDDFTSettings
from qdlib.qchem.accelerated import _DiskMOSpaceJK, _mo_space_response, _OVBasis  # checked against PySCF
from tests.fakes import CHEAP, CPU


@pytest.mark.tddft
def test_speedups_do_not_change_the_answer(dimer_result):
    """Stored long-range integrals and cached AO values give the plain PySCF answer."""
    atoms, ours = dimer_result
    off = EngineOptions(backend="cpu", threads=1, incore_eri=False, mo_space_jk=False, mo_space_xc=False, ao_cache_mb=0)
    plain = qchem.excitations(atoms, CHEAP, off)
    np.testing.assert_allclose(ours.energies_ev, plain.energies_ev, atol=1e-6)
    np.testing.assert_allclose(ours.osc_strengths, plain.osc_strengths, atol=1e-6)
    assert ours.e_tot_hartree == pytest.approx(plain.e_tot_hartree, abs=1e-8)


@pytest.mark.tddft
@pytest.mark.parametrize("xc", ["camb3lyp", "lda,vwn"])
def test_mo_space_kernels_match_pyscf_on_random_transition_densities(xc):
    """The ov-space J/K and XC kernel reproduce PySCF's AO contractions for arbitrary ov/vo densities."""
    from pyscf import dft

    atoms = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.55]])
    settings = TDDFTSettings(xc=xc, grid_level=0, scf_conv_tol=1e-8)
    mf = qchem.run_scf(qchem.build_mol(atoms, settings), settings, CPU)
    basis = _OVBasis(mf)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(2, 3, basis.nocc, basis.nvir))
    dms = basis.co @ x @ basis.cv.T + basis.cv @ y.transpose(0, 2, 1) @ basis.co.T  # 3 non-symmetric ov densities
    ni = mf._numint
    rho0, vxc, fxc = ni.cache_xc_kernel(mf.mol, mf.grids, mf.xc, mf.mo_coeff, mf.mo_occ, spin=1)
    fxc = fxc[0, :, 0] + fxc[0, :, 1]  # singlet kernel, as PySCF's response does
    reference = dft.numint.NumInt.nr_rks_fxc(ni, mf.mol, mf.grids, mf.xc, None, dms, 0, 0, rho0, vxc, fxc)
    with _mo_space_response(mf, CPU):
        assert "nr_rks_fxc" in vars(ni)  # the ov-space kernel is in place
        ours = ni.nr_rks_fxc(mf.mol, mf.grids, mf.xc, None, dms, hermi=0, fxc=fxc)
        vj, vk = mf.get_jk(mf.mol, dms, hermi=0)
    assert "nr_rks_fxc" not in vars(ni)
    ref_j, ref_k = mf.get_jk(mf.mol, dms, hermi=0)
    ov = lambda v: np.stack([basis.co.T @ m @ basis.cv for m in v] + [basis.co.T @ m.T @ basis.cv for m in v])  # noqa: E731
    np.testing.assert_allclose(ov(ours), ov(reference), atol=1e-10 * np.abs(reference).max())
    np.testing.assert_allclose(ov(vj), ov(ref_j), atol=1e-10 * np.abs(ref_j).max())
    np.testing.assert_allclose(ov(vk), ov(ref_k), atol=1e-10 * np.abs(ref_k).max())


@pytest.fixture(scope="module")
def camb3lyp_dimer():
    """A range-separated ground state and three random non-symmetric ov densities on it."""
    atoms = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.55]])
    settings = TDDFTSettings(grid_level=0, scf_conv_tol=1e-8)
    mf = qchem.run_scf(qchem.build_mol(atoms, settings), settings, CPU)
    basis = _OVBasis(mf)
    x, y = np.random.default_rng(1).normal(size=(2, 3, basis.nocc, basis.nvir))
    dms = basis.co @ x @ basis.cv.T + basis.cv @ y.transpose(0, 2, 1) @ basis.co.T
    return mf, basis, dms


def _ov_blocks(basis, v):
    return np.stack([basis.co.T @ m @ basis.cv for m in v] + [basis.co.T @ m.T @ basis.cv for m in v])


@pytest.mark.tddft
def test_disk_mo_space_jk_matches_pyscf_for_both_coulomb_ranges(tmp_path, monkeypatch, camb3lyp_dimer):
    mf, basis, dms = camb3lyp_dimer
    omega = mf._numint.rsh_and_hybrid_coeff(mf.xc)[0]
    assert omega > 0
    disk = _DiskMOSpaceJK(basis, mf.mol, [None, omega], 500, str(tmp_path))
    monkeypatch.setattr(disk, "row_block_mb", 1e-3)  # one occupied row, one orbital pair per step: every block path
    for om in (None, omega):
        vj, vk = disk.jk(om, *basis.blocks(dms), True, True, dms.shape)
        ref_j, ref_k = mf.get_jk(mf.mol, dms, hermi=0, omega=om)
        np.testing.assert_allclose(_ov_blocks(basis, vj), _ov_blocks(basis, ref_j), atol=1e-10 * np.abs(ref_j).max())
        np.testing.assert_allclose(_ov_blocks(basis, vk), _ov_blocks(basis, ref_k), atol=1e-10 * np.abs(ref_k).max())
    _, vk_only = disk.jk(omega, *basis.blocks(dms), False, True, dms.shape)
    np.testing.assert_allclose(vk_only, disk.jk(omega, *basis.blocks(dms), True, True, dms.shape)[1])
    disk.close()
    assert not os.path.exists(disk.path)


def test_scratch_files_of_stopped_processes_are_removed(tmp_path):
    import platform
    import subprocess

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    prefix = f"{_DiskMOSpaceJK.prefix}{platform.node()}_"
    stale = tmp_path / f"{prefix}{done.stdout.strip()}_x1.h5"  # its process has exited
    live = tmp_path / f"{prefix}{os.getpid()}_x2.h5"  # this process
    other_host = tmp_path / f"{_DiskMOSpaceJK.prefix}elsewhere_{done.stdout.strip()}_x3.h5"
    for f in (stale, live, other_host):
        f.write_bytes(b"")
    assert _DiskMOSpaceJK.remove_stale(str(tmp_path)) == [str(stale)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other_host.name])


@pytest.mark.tddft
def test_response_streams_mo_integrals_from_disk_when_ao_integrals_are_not_stored(tmp_path, monkeypatch, camb3lyp_dimer):
    from pyscf import lib

    mf, basis, dms = camb3lyp_dimer
    ref_j, ref_k = mf.get_jk(mf.mol, dms, hermi=0)
    monkeypatch.setattr(mf, "_eri", None)
    monkeypatch.setattr(mf, "_is_mem_enough", lambda: False)  # PySCF's direct algorithm from here on
    monkeypatch.setattr(lib.param, "TMPDIR", str(tmp_path))
    built = []
    monkeypatch.setattr(_DiskMOSpaceJK, "close", lambda self, real=_DiskMOSpaceJK.close: (built.append(
        os.path.isfile(self.path)), real(self)))  # fmt: skip
    with _mo_space_response(mf, CPU):
        vj, vk = mf.get_jk(mf.mol, dms, hermi=0)
    assert built == [True] and not list(tmp_path.iterdir())  # the scratch file existed and is gone
    np.testing.assert_allclose(_ov_blocks(basis, vk), _ov_blocks(basis, ref_k), atol=1e-10 * np.abs(ref_k).max())
    np.testing.assert_allclose(_ov_blocks(basis, vj), _ov_blocks(basis, ref_j), atol=1e-10 * np.abs(ref_j).max())
    original = mf.get_jk
    with _mo_space_response(mf, dataclasses.replace(CPU, mo_space_disk=False)):
        assert mf.get_jk == original  # switched off: PySCF's own J/K
    assert built == [True]  # and nothing built

"""qdlib.qchem.backends: backend selection, with the GPU stack mocked."""

import sys
import types

import pytest

from qdlib import qchem
from qdlib.qchem import EngineOptions, TDDFTSettings


def _fake_gpu_stack(monkeypatch, n_devices):
    cupy = types.ModuleType("cupy")
    cupy.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: n_devices))
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setitem(sys.modules, "gpu4pyscf", types.ModuleType("gpu4pyscf"))


def test_auto_picks_gpu_when_gpu4pyscf_and_a_device_are_present(monkeypatch):
    _fake_gpu_stack(monkeypatch, 1)
    assert qchem.gpu_available()
    assert qchem.select_backend("auto") == "gpu"
    assert qchem.select_backend("gpu") == "gpu"
    assert qchem.select_backend("cpu") == "cpu"


def test_auto_falls_back_to_cpu_without_a_device(monkeypatch):
    _fake_gpu_stack(monkeypatch, 0)
    assert qchem.select_backend("auto") == "cpu"
    with pytest.raises(qchem.BackendUnavailableError, match="CUDA device"):
        qchem.select_backend("gpu")


def test_auto_falls_back_to_cpu_without_gpu4pyscf(monkeypatch):
    monkeypatch.setitem(sys.modules, "gpu4pyscf", None)  # import raises ImportError
    assert not qchem.gpu_available()
    assert qchem.select_backend("auto") == "cpu"
    with pytest.raises(qchem.BackendUnavailableError, match="gpu4pyscf"):
        qchem.select_backend("gpu")


def test_cuda_driver_error_means_no_gpu(monkeypatch):
    _fake_gpu_stack(monkeypatch, 1)

    def broken():
        raise RuntimeError("cudaErrorNoDevice")

    sys.modules["cupy"].cuda.runtime.getDeviceCount = broken
    assert qchem.select_backend("auto") == "cpu"


def test_unknown_backend():
    with pytest.raises(ValueError, match="backend"):
        qchem.select_backend("tpu")


def test_gpu_path_builds_gpu4pyscf_objects(monkeypatch):
    """With backend 'gpu', gpu4pyscf's RKS (gpu4pyscf.dft.rks) solves the ground state at the settings' xc and grid."""
    _fake_gpu_stack(monkeypatch, 1)
    made = {}

    class FakeRKS:
        def __init__(self, mol, xc):
            made.update(mol=mol, xc=xc)
            self.grids = types.SimpleNamespace(level=None)

        def kernel(self, dm0=None):
            made["kernel"] = made.get("kernel", 0) + 1
            self.converged, self.e_tot = True, -1.0

    dft = types.ModuleType("gpu4pyscf.dft")
    rks = types.ModuleType("gpu4pyscf.dft.rks")
    rks.RKS = FakeRKS
    dft.rks = rks
    monkeypatch.setitem(sys.modules, "gpu4pyscf.dft", dft)
    monkeypatch.setitem(sys.modules, "gpu4pyscf.dft.rks", rks)
    mf = qchem.run_scf("MOL", TDDFTSettings(), EngineOptions(backend="gpu"))
    assert isinstance(mf, FakeRKS) and made == {"mol": "MOL", "xc": "camb3lyp", "kernel": 1}
    assert mf.grids.level == 3 and mf.conv_tol == 1e-9 and mf.qdlib_strategy == "diis"

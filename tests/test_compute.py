import numpy as np
import pytest
from ase import Atoms

from qdlib.compute import compute_many, local_executor
from qdlib.qchem import TDDFTSettings
from qdlib.store import ResultStore, result_key
from tests.fakes import fake_excitations


def _structures(n):
    out = [Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.5 + 0.1 * i]]) for i in range(n)]
    out.append(Atoms("Te", positions=[[0, 0, 0]]))  # fails in the fake calculator
    return out


def _check(report, n):
    assert set(report.results) == set(range(n))
    assert list(report.failures) == [n] and "lone Te" in report.failures[n]
    for i in range(n):
        np.testing.assert_allclose(report.results[i].energies_ev[0], 2.0 + 0.1 * (2.5 + 0.1 * i))


def test_serial_with_store_and_failure(store_url):
    store = ResultStore(store_url)
    report = compute_many(_structures(4), store=store, compute=fake_excitations, labels=lambda i, a: {"index": i})
    _check(report, 4)
    assert report.n_computed == 4 and len(store) == 4
    again = compute_many(_structures(4), store=store, compute=fake_excitations)
    assert again.n_cached == 4 and again.n_computed == 0
    assert "failed before (not retried)" in again.failures[4] and "lone Te" in again.failures[4]  # remembered, not rerun
    calls = []

    def counting(atoms, settings, options):
        calls.append(atoms.get_chemical_formula())
        return fake_excitations(atoms, settings, options)

    retried = compute_many(_structures(4), store=store, compute=counting, retry_failed=True)
    assert calls == ["Te"] and "not retried" not in retried.failures[4]
    assert len(store) == 4 and [a.get_chemical_formula() for a, _, _ in store.select()] == ["CdSe"] * 4


def test_a_lost_worker_is_not_remembered_as_a_failure(tmp_path):
    from concurrent.futures.process import BrokenProcessPool

    def lost(atoms, settings, options):
        raise BrokenProcessPool("worker killed")

    store = ResultStore(tmp_path / "r.db")
    dimer = _structures(1)[0]
    report = compute_many([dimer], store=store, compute=lost)
    assert "worker killed" in report.failures[0] and store.failure(result_key(dimer, TDDFTSettings())) is None


def test_process_pool(tmp_path):
    with local_executor(2) as pool:
        report = compute_many(_structures(3), executor=pool, compute=fake_excitations, progress=False)
    _check(report, 3)


def test_dask_local_cluster(store_url):
    distributed = pytest.importorskip("distributed")
    store = ResultStore(store_url)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            report = compute_many(_structures(5), store=store, executor=client, compute=fake_excitations, progress=False)
    _check(report, 5)
    assert len(store) == 5

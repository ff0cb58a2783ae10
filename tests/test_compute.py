import numpy as np
import pytest
from ase import Atoms

from qdlib.compute import compute_many, local_executor
from qdlib.store import ResultStore
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

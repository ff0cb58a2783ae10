"""The results store, on an SQLite file and (with ``QDLIB_TEST_POSTGRES`` set) on a PostgreSQL server.

Tests taking ``store_url`` run once per backend, each on a new, empty store (tests/conftest.py).
"""

import contextlib
import functools
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from ase import Atoms

from qdlib.qchem import TDDFTSettings
from qdlib.store import ResultStore, result_key
from tests.fakes import fake_excitations, write_in_worker

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@contextlib.contextmanager
def deadline(seconds: float):
    """Raise TimeoutError in the main thread if the block runs longer than ``seconds``."""

    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _dot(shift=0.0):
    return Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6 + shift]])


def test_key_depends_on_geometry_and_settings_only():
    s = TDDFTSettings()
    k = result_key(_dot(), s)
    assert k == result_key(_dot(), TDDFTSettings())
    assert k == result_key(_dot(1e-7), s)  # below the 1e-5 Å rounding
    assert k != result_key(_dot(1e-3), s)
    assert k != result_key(_dot(), TDDFTSettings(n_states=5))
    assert k != result_key(_dot(), TDDFTSettings(tda=True))
    swapped = Atoms("SeCd", positions=[[0, 0, 0], [0, 0, 2.6]])
    assert k != result_key(swapped, s)
    neg_zero = Atoms("CdSe", positions=[[-0.0, 0, 0], [0, 0, 2.6]])
    assert k == result_key(neg_zero, s)
    assert len(k) == 24 and int(k, 16) >= 0


def test_put_get_once(store_url):
    store = ResultStore(store_url)
    atoms = _dot()
    assert store.get(atoms, TDDFTSettings()) is None
    exc = fake_excitations(atoms, TDDFTSettings(), None)
    key = store.put(atoms, exc, dataset="test")
    assert key in store and len(store) == 1
    store.put(atoms, exc)
    assert len(store) == 1  # written once
    back = store.get(atoms, TDDFTSettings())
    np.testing.assert_array_equal(back.energies_ev, exc.energies_ev)
    (_, _, pairs), = store.select(dataset="test")
    assert pairs["result_key"] == key and pairs["xc"] == "camb3lyp"


def test_get_or_compute_computes_once(store_url):
    store = ResultStore(store_url)
    calls = []

    def compute(atoms, settings, options):
        calls.append(1)
        return fake_excitations(atoms, settings, options)

    a = store.get_or_compute(_dot(), compute=compute)
    b = store.get_or_compute(_dot(), compute=compute)
    assert len(calls) == 1
    np.testing.assert_array_equal(a.energies_ev, b.energies_ev)


def test_a_failed_write_leaves_nothing_behind(store_url):
    """An error inside the write's transaction rolls it back; the store stays usable."""
    store = ResultStore(store_url)
    atoms = _dot()
    exc = fake_excitations(atoms, TDDFTSettings(), None)
    with pytest.raises(ValueError, match="Bad key"):  # ASE refuses the key after the row's look-up
        store.put(atoms, exc, **{"not a key": 1})
    assert len(store) == 0
    store.put(atoms, exc)
    assert len(store) == 1


BATCH = textwrap.dedent(
    """
    import sys
    from ase import Atoms
    from qdlib.compute import compute_many
    from qdlib.store import ResultStore
    from tests.fakes import slow_fake_excitations
    structures = [Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.5 + 0.01 * i]]) for i in range(12)]
    report = compute_many(structures, store=ResultStore(sys.argv[1]), compute=slow_fake_excitations, progress=False)
    print("computed", report.n_computed, "cached", report.n_cached)
    """
)


def test_batch_survives_sigkill(store_url, tmp_path):
    """A batch killed with SIGKILL keeps what it finished; the rerun adds only the rest."""
    db = store_url
    script = tmp_path / "batch.py"
    script.write_text(BATCH)
    env = {**os.environ, "PYTHONPATH": ROOT, "QDLIB_FAKE_DELAY_S": "0.25"}
    proc = subprocess.Popen([sys.executable, str(script), db], env=env, cwd=ROOT)
    stop = time.time() + 60
    while time.time() < stop:  # wait until some, not all, are stored
        if (db.startswith("postgresql") or os.path.exists(db)) and 3 <= len(ResultStore(db)) < 12:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    done = len(ResultStore(db))
    assert 3 <= done < 12
    out = subprocess.run([sys.executable, str(script), db], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    n_computed, n_cached = int(out.stdout.split()[1]), int(out.stdout.split()[3])
    assert n_cached == done and n_computed == 12 - done
    store = ResultStore(db)
    keys = [pairs["result_key"] for _, _, pairs in store.select()]
    assert len(keys) == 12 and len(set(keys)) == 12


def test_a_fallback_answer_is_found_under_the_request(store_url):
    import dataclasses

    from qdlib.store import result_key

    atoms = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
    asked = TDDFTSettings()
    answered = fake_excitations(atoms, dataclasses.replace(asked, tda=True))
    store = ResultStore(store_url)
    key = store.put(atoms, answered, key=result_key(atoms, asked))
    assert key == result_key(atoms, asked) != result_key(atoms, answered.settings)
    found = store.get(atoms, asked)
    assert found is not None and found.settings.tda


@pytest.mark.parametrize("store_class", ["ResultStore", "GeometryStore"])
def test_two_openers_of_a_new_store_do_not_race(store_url, monkeypatch, store_class):
    """Two connections opening one new store at once both get a working store.

    ASE looks for its tables and then creates them; a slow first statement
    widens the gap between the look and the creation to ~0.3 s, so that,
    unlocked, both openers look before either creates and one fails.
    """
    import threading

    from qdlib import store as store_module

    if store_url.startswith("postgresql"):
        from qdlib import _postgresql

        backend = sys.modules[_postgresql._ASEPostgreSQLDatabase.__module__]
        slow = "SELECT pg_sleep(0.3)"
    else:
        import ase.db.sqlite as backend

        slow = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) "
                "SELECT COUNT(*) FROM c")
    monkeypatch.setattr(backend, "init_statements", [slow, *backend.init_statements])
    path = store_url
    barrier, errors = threading.Barrier(2), []

    def open_and_write(i):
        barrier.wait()
        try:
            store = getattr(store_module, store_class)(path)
            if store_class == "ResultStore":
                store.put(_dot(0.1 * i), fake_excitations(_dot(0.1 * i), TDDFTSettings(), None))
            else:
                store.put(f"k{i}", _dot(0.1 * i))
        except Exception as err:  # collected: an exception in a thread does not fail the test
            errors.append(err)

    threads = [threading.Thread(target=open_and_write, args=(i,)) for i in range(2)]
    [t.start() for t in threads]
    [t.join(timeout=60) for t in threads]
    assert errors == []
    assert len(getattr(store_module, store_class)(path)) == 2


WRITER = textwrap.dedent(
    """
    import sys, time
    from ase import Atoms
    from qdlib.store import ResultStore
    from tests.fakes import fake_excitations
    url, writer, n, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    shared = sys.argv[5] == "shared"
    store = ResultStore(url)
    time.sleep(max(0.0, start - time.time()))  # both writers begin together
    for i in range(n):
        own = 0.0 if shared and i % 2 == 0 else 1.0 + writer  # shared, even i: a key both writers write
        atoms = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.5 + 0.01 * i + own]])
        store.put(atoms, fake_excitations(atoms), index=i, writer=writer)
    """
)


def _write_at_once(url, n, tmp_path, *, shared_keys):
    """Two processes put ``n`` rows each into the store at ``url``, starting together (half shared keys or none)."""
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "PYTHONPATH": ROOT}
    start, kind = time.time() + 3.0, "shared" if shared_keys else "own"
    writers = [
        subprocess.Popen([sys.executable, str(script), url, str(w), str(n), str(start), kind], env=env, cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for w in range(2)
    ]
    for proc in writers:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err


def test_concurrent_writers_keep_each_row_whole(store_url, tmp_path):
    """Two processes writing at once: no key twice, and each row's key index points at that row.

    ASE's PostgreSQL backend took a new row's id from the sequence's last value (any session's),
    so one writer's keys landed on the other's row or failed its foreign key.
    """
    n = 30
    _write_at_once(store_url, n, tmp_path, shared_keys=True)
    store = ResultStore(store_url)
    expected = n // 2 + 2 * (n - n // 2)  # shared keys once, each writer's own keys
    keys = [pairs["result_key"] for _, _, pairs in store.select()]
    assert len(keys) == expected and len(set(keys)) == expected
    db = store._db
    assert db.count("result_key") == expected  # ASE's key table: one entry per row, on that row
    by_index = [row.index for row in db.select(sort="index")]  # joins the number key-value table
    assert by_index == sorted(by_index) and len(by_index) == expected
    for atoms, exc, _ in store.select():
        np.testing.assert_allclose(exc.energies_ev, fake_excitations(atoms).energies_ev)


def test_dask_workers_write_at_once_and_a_killed_worker_loses_nothing(store_url, tmp_path):
    """Workers of a dask cluster write the store; one is SIGKILLed mid-write; the rerun completes it.

    Every structure is asked for twice, side by side, so that the two workers write the same key
    at once; the one chosen to die is killed with its row written but not committed (its lock
    held). The scheduler gives up on the tasks of the dead worker (no retries), the batch reports
    them failed, and the same batch run again stores what is missing. At the end each result is
    stored exactly once.
    """
    distributed = pytest.importorskip("distributed")
    import dask

    from qdlib.compute import compute_many

    n, victim = 8, 3
    geometry = [[[0, 0, 0], [0, 0, 2.5 + 0.01 * i]] for i in range(n)]
    structures = []
    for i in range(n):
        structures += [Atoms("CdSe", positions=geometry[i]) for _ in range(1 if i == victim else 2)]
    structures[2 * victim].info["kill"] = True
    structures.append(Atoms("CdSe", positions=geometry[victim]))  # its twin, late: the victim writes first
    marker = tmp_path / "killed"
    task = functools.partial(write_in_worker, url=store_url, delay_s=0.2, kill_marker=str(marker))

    config = {"distributed.scheduler.allowed-failures": 0, "distributed.comm.timeouts.connect": "30s"}
    with deadline(120), dask.config.set(config):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        with cluster, distributed.Client(cluster, timeout="30s") as client:
            first = compute_many(structures, executor=client, compute=task, progress=False)
            again = compute_many(structures, executor=client, compute=task, progress=False)

    assert marker.exists()  # a worker was killed
    assert first.failures and all(err.startswith("KilledWorker") for err in first.failures.values()), first.failures
    assert len(first.results) + len(first.failures) == len(structures) and len(first.results) > 0
    assert again.failures == {} and set(again.results) == set(range(len(structures)))
    store = ResultStore(store_url)
    keys = [pairs["result_key"] for _, _, pairs in store.select()]
    assert sorted(keys) == sorted({result_key(atoms, TDDFTSettings()) for atoms in structures})  # each once
    assert store._db.count("result_key") == n
    for i, atoms in enumerate(structures):
        np.testing.assert_allclose(again.results[i].energies_ev, fake_excitations(atoms).energies_ev)
        np.testing.assert_allclose(store.get(atoms, TDDFTSettings()).energies_ev, fake_excitations(atoms).energies_ev)


def test_a_json_store_is_never_seen_half_written(tmp_path, monkeypatch):
    """A reader during a JSON store's write, or after a writer died in it, finds the previous file whole.

    ASE rewrites its JSON database in place; another process reading it at that moment (two campaign
    workers sharing a store) failed with "Expecting property name enclosed in double quotes".
    """
    import ase.db.jsondb

    path = tmp_path / "r.json"
    store = ResultStore(path)
    store.put(_dot(), fake_excitations(_dot()))
    before = path.read_text()
    seen = []
    encode = ase.db.jsondb.encode

    def encode_then_look(obj):  # called row by row while the new text is being written
        seen.append(ResultStore(path).get(_dot(), TDDFTSettings()))  # a second reader, mid-write
        if len(seen) == 3:
            raise KeyboardInterrupt  # the writer dies with its text half written
        return encode(obj)

    monkeypatch.setattr(ase.db.jsondb, "encode", encode_then_look)
    with pytest.raises(KeyboardInterrupt):
        store.put(_dot(0.1), fake_excitations(_dot(0.1)))
    monkeypatch.undo()
    assert len(seen) == 3 and all(exc is not None for exc in seen)
    assert path.read_text() == before
    assert not list(tmp_path.glob("*.tmp"))  # no half-written text left behind
    store = ResultStore(path)
    store.put(_dot(0.1), fake_excitations(_dot(0.1)))
    assert len(store) == 2


def test_json_store_writers_take_turns(tmp_path):
    """Two processes writing a JSON store at once: every row of both is kept (each write reads, adds, rewrites)."""
    url = str(tmp_path / "r.json")
    ResultStore(url).put(_dot(-0.5), fake_excitations(_dot(-0.5)))  # the file exists before they start
    n = 25
    _write_at_once(url, n, tmp_path, shared_keys=False)  # a JSON store does not make look-and-write one step
    rows = [pairs for _, _, pairs in ResultStore(url).select()]
    assert len(rows) == 1 + 2 * n
    written = sorted((p["writer"], p["index"]) for p in rows if "writer" in p)
    assert written == [(w, i) for w in range(2) for i in range(n)]


def test_a_json_store_writer_killed_holding_the_lock_does_not_stop_the_next(tmp_path):
    """The lock is the operating system's: released when its holder dies, whatever file it leaves."""
    url = str(tmp_path / "r.json")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from qdlib.store import ResultStore; "
         "db = ResultStore(sys.argv[1])._db; db.lock.acquire(); print('held', flush=True); time.sleep(600)", url],
        env={**os.environ, "PYTHONPATH": ROOT}, cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait(timeout=30)
    with deadline(30):
        ResultStore(url).put(_dot(), fake_excitations(_dot()))
    assert len(ResultStore(url)) == 1

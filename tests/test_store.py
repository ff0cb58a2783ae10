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
from tests.fakes import fake_excitations


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


def test_put_get_once(tmp_path):
    store = ResultStore(tmp_path / "r.db")
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


def test_get_or_compute_computes_once(tmp_path):
    store = ResultStore(tmp_path / "r.db")
    calls = []

    def compute(atoms, settings, options):
        calls.append(1)
        return fake_excitations(atoms, settings, options)

    a = store.get_or_compute(_dot(), compute=compute)
    b = store.get_or_compute(_dot(), compute=compute)
    assert len(calls) == 1
    np.testing.assert_array_equal(a.energies_ev, b.energies_ev)


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


def test_batch_survives_sigkill(tmp_path):
    """A batch killed with SIGKILL keeps what it finished; the rerun adds only the rest."""
    db = tmp_path / "r.db"
    script = tmp_path / "batch.py"
    script.write_text(BATCH)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root, "QDLIB_FAKE_DELAY_S": "0.25"}
    proc = subprocess.Popen([sys.executable, str(script), str(db)], env=env, cwd=root)
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until some, not all, are stored
        if db.exists() and 3 <= len(ResultStore(db)) < 12:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    done = len(ResultStore(db))
    assert 3 <= done < 12
    out = subprocess.run([sys.executable, str(script), str(db)], env=env, cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    n_computed, n_cached = int(out.stdout.split()[1]), int(out.stdout.split()[3])
    assert n_cached == done and n_computed == 12 - done
    store = ResultStore(db)
    keys = [pairs["result_key"] for _, _, pairs in store.select()]
    assert len(keys) == 12 and len(set(keys)) == 12


def test_a_fallback_answer_is_found_under_the_request(tmp_path):
    import dataclasses

    from qdlib.store import result_key

    atoms = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
    asked = TDDFTSettings()
    answered = fake_excitations(atoms, dataclasses.replace(asked, tda=True))
    store = ResultStore(tmp_path / "r.db")
    key = store.put(atoms, answered, key=result_key(atoms, asked))
    assert key == result_key(atoms, asked) != result_key(atoms, answered.settings)
    found = store.get(atoms, asked)
    assert found is not None and found.settings.tda


@pytest.mark.parametrize("store_class", ["ResultStore", "GeometryStore"])
def test_two_openers_of_a_new_store_do_not_race(tmp_path, monkeypatch, store_class):
    """Two connections opening one new file at once both get a working store.

    ASE looks for its tables and then creates them; a slow first statement
    widens the gap between the look and the creation to ~0.3 s, so that,
    unlocked, both openers look before either creates and one fails.
    """
    import threading

    import ase.db.sqlite

    from qdlib import store as store_module

    slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) SELECT COUNT(*) FROM c"
    monkeypatch.setattr(ase.db.sqlite, "init_statements", [slow, *ase.db.sqlite.init_statements])
    path = tmp_path / "new.db"
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

"""qdlib.library.search: compositions, the resumable global search and its GA operators."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from ase import Atoms

from qdlib import library
from qdlib.library import search as search_mod
from qdlib.structures import composition


def test_the_compositions_are_the_26_of_cd4_to_cd7():
    comps = library.compositions()
    assert len(comps) == len(set(comps)) == 26
    for c in comps:
        counts = library.parse_composition(c)
        assert counts["Cd"] == counts["Se"] + counts["Te"] and 4 <= counts["Cd"] <= 7
        assert c == composition(Atoms("".join(e * n for e, n in counts.items())))  # the package's own naming
    assert library.SearchConfig("Cd4Se4").name == library.SearchConfig("Cd4Se4Te0").name == "Cd4Se4Te0_ga_s0"
    with pytest.raises(ValueError, match="Cd–Se–Te"):
        library.SearchConfig("Cd4S4")
    with pytest.raises(ValueError, match="method"):
        library.SearchConfig("Cd4Se4Te0", method="annealing")


_RUN = """
import sys
from qdlib.library import ClusterSearch, SearchConfig
ClusterSearch(SearchConfig("Cd3Se2Te1", method="ga", budget=14, population_size=4, seed=3), sys.argv[1]).run()
"""


def _energies(result):
    return [round(m.info["e_xtb_ev"], 6) for m in result.minima]


def test_a_killed_search_resumes_without_redoing_relaxations(tmp_path):
    config = library.SearchConfig("Cd3Se2Te1", method="ga", budget=14, population_size=4, seed=3)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # both runs in processes of one kind: the same floating point
    subprocess.run([sys.executable, "-c", _RUN, str(tmp_path / "through")], env=env, check=True)
    through = library.ClusterSearch(config, tmp_path / "through").result()
    assert through.n_relaxations == 14 and len(through.minima) == 14 - through.n_failed

    proc = subprocess.Popen([sys.executable, "-c", _RUN, str(tmp_path / "killed")], env=env)
    search = library.ClusterSearch(config, tmp_path / "killed")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:  # kill once some GA offspring are relaxed
        if search.path.exists() and len(search.result().minima) >= 6:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = search.result()
    assert 6 <= len(before.minima) < 14
    subprocess.run([sys.executable, "-c", _RUN, str(tmp_path / "killed")], env=env, check=True)
    resumed = library.ClusterSearch(config, tmp_path / "killed").result()
    assert resumed.n_relaxations == 14
    import ase.db

    relaxed_rows = [r.gaid for r in ase.db.connect(search.path).select(relaxed=1)]
    assert len(relaxed_rows) == len(set(relaxed_rows)) == len(resumed.minima)  # no candidate relaxed twice
    assert _energies(resumed) == _energies(through)  # candidate k's random numbers depend on (seed, k) only
    assert np.isfinite(resumed.best_energy_trace()[-1])


def test_ga_operators_keep_the_atom_order(two_minima):
    a = two_minima[0].copy()
    se = np.flatnonzero(a.numbers == 34)
    a.numbers[se[:2]] = 52  # Cd4Se2Te2, in its own order
    a.info.update(confid=1, data={}, key_value_pairs={})
    swap = search_mod.AnionSwap(len(a), rng=np.random.RandomState(0))
    child = swap.mutate(a)
    np.testing.assert_array_equal(child.numbers, a.numbers)
    moved = np.flatnonzero(np.any(child.positions != a.positions, axis=1))
    assert len(moved) == 2 and set(a.numbers[moved]) == {34, 52}


def test_a_finished_search_is_kept_as_text_and_not_run_again(tmp_path):
    config = library.SearchConfig("Cd2Se1Te1", method="random", budget=4, seed=1)
    done = library.ClusterSearch(config, tmp_path).run()
    search = library.ClusterSearch(config, tmp_path)
    assert search.record_path.is_file()
    search.path.unlink()  # a fresh machine: the database is not in the repository, the record is
    again = library.ClusterSearch(config, tmp_path).run()
    assert not search.path.exists() and again.n_new == 0 and again.n_relaxations == 4
    np.testing.assert_allclose(again.best_energy_trace(), done.best_energy_trace(), atol=1e-5)
    lowest = min(m.info["e_xtb_ev"] for m in done.minima)
    assert min(m.info["e_xtb_ev"] for m in again.minima) == pytest.approx(lowest, abs=1e-5)
    assert sum(m.info["n_found"] for m in again.minima) <= len(done.minima)


def test_a_failed_relaxation_is_counted_and_the_ga_goes_on(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = search_mod.relax

    def flaky(atoms, settings):
        calls["n"] += 1
        if calls["n"] in (2, 6):  # a random start, then a pairing child (population of 4)
            raise RuntimeError("SCF not converged")
        return real(atoms, settings)

    monkeypatch.setattr(search_mod, "relax", flaky)
    config = library.SearchConfig("Cd2Se1Te1", method="ga", budget=9, population_size=4, seed=0)
    result = library.ClusterSearch(config, tmp_path).run()
    assert result.n_relaxations == 9 and result.n_failed >= 2 and len(result.minima) == 9 - result.n_failed

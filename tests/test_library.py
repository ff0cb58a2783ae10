"""The stable-cluster library: compositions, identity of minima, the minimum check, a resumable search."""

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
from qdlib.structures import composition, random_cluster


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


@pytest.fixture(scope="module")
def two_minima():
    """Relaxed Cd4Se4: two random starts that reach one minimum, and a puckered ring (xTB, seconds)."""
    angle = np.arange(8) * np.pi / 4
    ring = Atoms("CdSe" * 4, positions=np.c_[3.53 * np.cos(angle), 3.53 * np.sin(angle), 0.3 * (-1) ** np.arange(8)])
    starts = [random_cluster(8, rng=1, n_se=4), ring, random_cluster(8, rng=2, n_se=4)]
    return [library.relax(s)[0] for s in starts]


def test_a_permuted_turned_copy_is_one_minimum_and_another_isomer_two(two_minima):
    a, b, again = two_minima
    order = np.arange(len(a))
    for z in set(a.numbers):  # like atoms reordered
        like = np.flatnonzero(a.numbers == z)
        order[like] = like[::-1]
    copy = a[order]
    copy.rotate(123, (1, 2, 3))
    copy.translate([5.0, -2.0, 1.0])
    copy.info["e_xtb_ev"] = a.info["e_xtb_ev"]
    assert library.aligned_rmsd(a, copy) < 1e-6
    assert library.same_minimum(a, copy)
    mirrored = a.copy()
    mirrored.positions[:, 0] *= -1
    assert library.same_minimum(a, mirrored)  # an enantiomer: the same spectrum, one member
    assert abs(a.info["e_xtb_ev"] - b.info["e_xtb_ev"]) > 0.01, "the two starts should reach different minima"
    assert not library.same_minimum(a, b)
    assert library.same_minimum(a, again) and library.aligned_rmsd(a, again) > 0  # relaxed apart, one minimum
    groups = library.unique_minima([b, a, copy, again])
    assert sorted(map(sorted, groups)) == [[0], [1, 2, 3]] and groups[0][0] in (1, 2, 3)  # lowest first
    nudged = a.copy()
    nudged.positions[0] += [0.4, 0, 0]  # same energy label, different structure: the geometry decides
    assert not library.same_minimum(a, nudged)


def test_a_saddle_is_rejected_and_followed_to_a_minimum():
    angle = np.arange(8) * np.pi / 4
    ring = Atoms("CdSe" * 4, positions=3.53 * np.c_[np.cos(angle), np.sin(angle), np.zeros(8)])
    settings = library.RelaxSettings()
    planar, _ = library.relax(ring, settings)
    assert np.ptp(planar.positions[:, 2]) < 1e-6  # the relaxation kept the plane: a stationary point
    assert library.lowest_frequency(planar, settings) < -settings.imaginary_tol_cm1
    with pytest.raises(RuntimeError, match="saddle"):
        library.relax_to_minimum(ring, library.RelaxSettings(max_pushes=0))
    minimum, _ = library.relax_to_minimum(ring, settings)
    assert minimum.info["pushes"] >= 1 and minimum.info["e_xtb_ev"] < planar.info["e_xtb_ev"]
    assert library.lowest_frequency(minimum, settings) >= -settings.imaginary_tol_cm1


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


def test_cli_searches_and_reports(tmp_path, capsys):
    from qdlib.cli import main

    assert main(["library-search", "--compositions", "Cd2Se1Te1", "--method", "random", "--budget", "2",
                 "--out", str(tmp_path)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "Cd2Se1Te1_random_s0: 2 relaxations (2 new" in out
    assert main(["library-search", "--compositions", "Cd2Se1Te1", "--method", "random", "--budget", "2",
                 "--out", str(tmp_path)]) == 0  # fmt: skip
    assert "(0 new" in capsys.readouterr().out
    assert main(["library-search", "--compositions", "CdS", "--out", str(tmp_path)]) == 2


def test_members_are_checked_ranked_and_released_through_the_registry(tmp_path, monkeypatch):
    from qdlib.datasets import DataFileError
    from qdlib.library.members import load_members, select_members, write_members
    from qdlib.release import update_registry

    result = library.ClusterSearch(library.SearchConfig("Cd2Se1Te1", method="random", budget=6), tmp_path / "s").run()
    members = select_members(result.minima, "Cd2Se1Te1", window_ev=1.0)
    assert members and [m.info["isomer"] for m in members] == [f"Cd2Se1Te1-{i:02d}" for i in range(len(members))]
    e = [m.info["e_above_ev"] for m in members]
    assert e[0] == 0.0 and e == sorted(e) and e[-1] <= 1.0
    assert sum(m.info["n_found"] for m in members) <= len(result.minima)
    assert all(m.info["lowest_freq_cm1"] >= -library.RelaxSettings().imaginary_tol_cm1 for m in members)
    assert len(library.unique_minima(members)) == len(members)  # distinct
    monkeypatch.setenv("QDLIB_RELEASE_DIR", str(tmp_path / "data"))
    write_members(members, tmp_path / "data" / "library")
    update_registry(tmp_path / "data")
    loaded = load_members()
    assert [m.info["isomer"] for m in loaded] == [m.info["isomer"] for m in members]
    path = tmp_path / "data" / "library" / "Cd2Se1Te1.extxyz"
    path.write_text(path.read_text().replace("Cd2Se1Te1-00", "Cd2Se1Te1-99"))
    with pytest.raises(DataFileError, match="registry"):
        load_members()


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
    assert result.n_relaxations == 9 and result.n_failed == 2 and len(result.minima) == 7

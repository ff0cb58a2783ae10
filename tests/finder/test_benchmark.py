"""qdlib.finder.benchmark: the replay benchmark on a toy library, computing nothing."""

import pytest

from qdlib.finder import StoreOracle
from qdlib.finder.benchmark import replay_targets, run_replay, summarise
from qdlib.store import ResultStore

from ..fakes import toy_library, toy_member_excitations


def test_the_replay_benchmark_fixes_its_targets_by_rule_reads_the_store_and_summarises(tmp_path, monkeypatch):
    from qdlib.library import tddft

    monkeypatch.setattr(tddft, "excitations", toy_member_excitations)
    pool = toy_library(n=30)
    StoreOracle(ResultStore(tmp_path / "s.json"))(pool.members)
    monkeypatch.setattr(tddft, "excitations", lambda *a, **k: pytest.fail("a replay computed"))
    oracle = StoreOracle(ResultStore(tmp_path / "s.json"), replay=True)
    pool = pool.computed(oracle)
    targets = replay_targets(pool, oracle, n_members=2, bands_nm=(360.0, 450.0, 790.0), seed=0)
    names = [n for n, _ in targets]
    assert names[:2] == sorted(names[:2]) and names[2:] == ["band 360 nm", "band 450 nm", "band 790 nm"]
    assert isinstance(dict(targets)["band 360 nm"], str)  # refused: its band lies where no library spectrum is complete
    rows = run_replay(pool, oracle, targets, ["random", "stable-first"], seeds=[0, 1], budget=24)
    assert len(rows) == 4 * 2 * 2 and all(r["calls"] <= 24 for r in rows)
    reach = {r["target"]: (r["reachable"], r["members_meeting"], r["members"]) for r in rows}
    n = int((pool.e_above_ev <= 0.5).sum())
    assert reach["band 450 nm"] == (True, 1, n) and reach["band 790 nm"] == (False, 0, n)  # one member at 450, none at 790
    assert not any(r["first"] for r in rows if r["target"] == "band 790 nm")
    s = summarise(rows, budget=24, n_boot=100)
    assert set(s) == {"random", "stable-first"} and s["random"]["n"] == 3 * 2 and len(s["random"]["survival"]) == 24
    acc = s["stable-first"]["acceleration"]["random"]
    assert acc["low"] <= acc["ratio"] <= acc["high"] and acc["n_targets"] == 3


def test_the_authors_larger_dots_are_outside_targets_judged_where_their_six_states_are_complete():
    from qdlib.finder.benchmark import authors_outside, replay_targets

    outside = authors_outside()
    assert len(outside) >= 15
    assert all(y.shape == (500,) and 250.0 < cover < 400.0 for _, y, cover in outside)
    targets = dict(replay_targets(toy_library(n=4), None, n_members=0, bands_nm=(), outside=outside))
    judged = {n: t for n, t in targets.items() if not isinstance(t, str)}
    refused = {n: t for n, t in targets.items() if isinstance(t, str)}
    # six states reach about 330 nm, and most of these spectra rise into the UV with no band to the red of it
    assert judged and all("the target has no band between" in why for why in refused.values())
    for name, target in judged.items():
        cover = {n: c for n, _, c in outside}[name]
        assert target.window.cover_nm >= max(cover, 330.0) - 1.7  # complete where both are (to one bin)

"""qdlib.campaign.loop: the campaign loop, its budget, its log, its resumption and rejudging; the methods' seeds."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from qdlib import campaign
from qdlib.campaign import Campaign, CampaignConfig, Criterion, read_log
from tests.fakes import toy_campaign as _toy_campaign


def test_campaign_spends_its_budget_records_every_call_and_resumes(tmp_path, monkeypatch):
    counter = tmp_path / "calls.txt"
    monkeypatch.setenv("QDLIB_TOY_COUNTER", str(counter))
    c = _toy_campaign(tmp_path, monkeypatch)
    history = c.run()
    assert [r.call for r in history] == [0, 1, 2, 3] and [r.round for r in history] == [0, 0, 1, 1]
    assert all(r.status == "valid" and r.strain_ev <= 2 * 0.75 + 1e-9 for r in history)  # 2 eV/Å², within 0.87 Å
    for r in history:  # the toy's peak moves 40 nm per Å² of displacement: the record says the same
        assert r.peak_error_nm == pytest.approx(40 * r.displacement_angstrom**2, abs=1.0)
        assert r.confirmed == (abs(r.peak_error_nm) <= 5 and r.strain_ev <= 0.5)
    assert read_log(c.log_path) == history
    n_calls = len(counter.read_text().splitlines())  # the reference and four designs
    assert n_calls == 5
    more = _toy_campaign(tmp_path, monkeypatch, budget=6)
    assert more.run()[:4] == history and len(more.history) == 6
    assert len(counter.read_text().splitlines()) == n_calls + 2  # only the two new designs were computed
    s = more.summary()
    assert s["calls"] == 6 and s["confirmed"] == sum(r.confirmed for r in more.history)


def test_random_campaigns_of_every_target_share_their_calls(tmp_path, monkeypatch):
    counter = tmp_path / "calls.txt"
    monkeypatch.setenv("QDLIB_TOY_COUNTER", str(counter))
    t0 = _toy_campaign(tmp_path, monkeypatch).run()
    plus = _toy_campaign(tmp_path, monkeypatch, target_shift_nm=10.0).run()
    assert [r.key for r in t0] == [r.key for r in plus]
    assert len(counter.read_text().splitlines()) == 5
    assert all(p.peak_error_nm == pytest.approx(r.peak_error_nm - 10.0, abs=0.6) for r, p in zip(t0, plus))


def test_rejudging_a_blind_campaign_applies_a_new_criterion_without_computing(tmp_path, monkeypatch):
    counter = tmp_path / "calls.txt"
    monkeypatch.setenv("QDLIB_TOY_COUNTER", str(counter))
    loose = _toy_campaign(tmp_path, monkeypatch, criterion=Criterion(peak_tolerance_nm=50.0), budget=6).run()
    n_calls = len(counter.read_text().splitlines())
    assert sum(r.confirmed for r in loose) > sum(abs(r.peak_error_nm) <= 5 for r in loose)  # the loose one says yes more often
    strict = _toy_campaign(tmp_path, monkeypatch, budget=6)
    again = strict.rejudge()
    assert len(counter.read_text().splitlines()) == n_calls  # read from the store, nothing computed
    assert [r.key for r in again] == [r.key for r in loose] and read_log(strict.log_path) == again
    assert [r.confirmed for r in again] == [abs(r.peak_error_nm) <= 5 and r.strain_ev <= 0.5 for r in loose]
    assert all(1.0 < r.intensity_ratio < 1.25 and "intensity" not in r.failures for r in again)  # the band moved, as bright


def test_a_model_based_campaign_judged_again_keeps_its_designs_and_resumes_under_the_new_criterion(tmp_path, monkeypatch, caplog):
    loose = Criterion(peak_tolerance_nm=200.0, min_similarity=0.0, max_intensity_ratio=np.inf, max_strain_ev=10.0)
    first = _toy_campaign(tmp_path, monkeypatch, criterion=loose, method="bo", budget=8, stop_at_first=True).run()
    assert len(first) == 2 and first[0].confirmed  # any design passes: it stops after its first round
    never = Criterion(peak_tolerance_nm=1e-9, shape_shift_nm=5.0)  # no design has its peak this close
    strict = _toy_campaign(tmp_path, monkeypatch, criterion=never, method="bo", budget=8, stop_at_first=True)
    with caplog.at_level("WARNING"):
        again = strict.rejudge()
    assert "chosen under the criterion of its log" in caplog.text
    assert [r.key for r in again] == [r.key for r in first] and not any(r.confirmed for r in again)
    assert all(r.margin < 0 < f.margin for r, f in zip(again, first))
    resumed = strict.run()
    assert resumed[:2] == again and len(resumed) == 8  # no confirmed design under the new criterion: the budget is spent


def test_stop_at_first_confirmed_design(tmp_path, monkeypatch):
    c = _toy_campaign(tmp_path, monkeypatch, edge_angstrom=0.4, budget=10, stop_at_first=True)
    history = c.run()
    assert history[-1].confirmed or len(history) == 10
    assert sum(r.confirmed for r in history[:-2]) == 0  # it stopped in the round that found one
    assert c.summary()["first_confirmed_call"] == next(r.call for r in history if r.confirmed) + 1


def test_campaign_rejects_a_bad_configuration(tmp_path):
    with pytest.raises(ValueError, match="unknown method"):
        Campaign(CampaignConfig(method="magic"), tmp_path / "s.json", tmp_path)
    with pytest.raises(ValueError, match="positive"):
        Campaign(CampaignConfig(budget=0), tmp_path / "s.json", tmp_path)


def test_a_killed_campaign_resumes_without_recomputing(tmp_path):
    """SIGKILL in the middle of a round; the rerun finds the finished calls in the store and its log."""
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from qdlib import qchem
        from qdlib.campaign import Campaign, CampaignConfig
        from tests import fakes
        qchem.excitations = fakes.toy_oracle
        cfg = CampaignConfig(dot="Cd4Se4", edge_angstrom=1.0, budget=6, seed=5, batch_size=3)
        Campaign(cfg, {str(tmp_path / 'store.json')!r}, {str(tmp_path / 'logs')!r}, warm_start=False).run()
    """))
    counter = tmp_path / "calls.txt"
    env = os.environ | {"QDLIB_TOY_COUNTER": str(counter), "QDLIB_FAKE_DELAY_S": "0.5"}
    proc = subprocess.Popen([sys.executable, str(script)], env=env)
    log = tmp_path / "logs" / "Cd4Se4_1A_1_T0_random_s5.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (log.is_file() and counter.is_file() and len(counter.read_text().splitlines()) >= 6):
        time.sleep(0.05)  # the reference, round 0's three designs, and two of round 1's: kill in the middle of round 1
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(read_log(log))
    assert done == 3, "killed before the first round was logged or after the second"
    from qdlib.store import ResultStore

    stored = sum(kv["set"] == "campaign" for _, _, kv in ResultStore(tmp_path / "store.json").select())
    assert stored == 4  # round 0's three and the first of round 1; the second died computing
    before = len(counter.read_text().splitlines())
    assert subprocess.run([sys.executable, str(script)], env=env | {"QDLIB_FAKE_DELAY_S": "0"}).returncode == 0
    history = read_log(log)
    assert [r.call for r in history] == list(range(6))
    recomputed = len(counter.read_text().splitlines()) - before
    assert recomputed == 6 - stored  # only the designs whose results were not stored when it died
    assert len({r.key for r in history}) == 6


@pytest.mark.parametrize("method", ["al", "bo"])
def test_two_seeds_give_different_pools_and_first_designs(tmp_path, monkeypatch, method):
    from qdlib.campaign.loop import METHODS

    first = {}
    for seed in (0, 1):
        c = _toy_campaign(tmp_path, monkeypatch, method=method, seed=seed)
        m = METHODS[method](c)
        assert m.pool_seed == seed  # the campaign's seed, not one pool for every seed
        m.pool_size = 8
        first[seed] = (m.pool, m.propose([], 2, np.random.default_rng([seed, 0])))
    assert not np.allclose(first[0][0], first[1][0])
    assert not np.allclose(first[0][1], first[1][1])
    assert all(any(np.allclose(x, p) for p in pool) for pool, u in first.values() for x in u)  # drawn from its own pool


def test_the_unmoved_dot_meets_t0_by_construction_and_not_a_shifted_target(tmp_path, monkeypatch):
    t0 = _toy_campaign(tmp_path, monkeypatch, method="unmoved", budget=1).run()
    plus = _toy_campaign(tmp_path, monkeypatch, method="unmoved", budget=1, target_shift_nm=10.0).run()
    assert len(t0) == len(plus) == 1 and t0[0].displacement_angstrom == 0.0 and t0[0].key == plus[0].key
    assert t0[0].confirmed and abs(t0[0].peak_error_nm) < 0.5
    assert not plus[0].confirmed and "peak" in plus[0].failures
    assert campaign.config_from_name("Cd4Se4_4A_1_T+10_unmoved_s0").budget == 1

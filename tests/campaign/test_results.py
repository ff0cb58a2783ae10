"""qdlib.campaign.results: what the campaigns found, read back from their logs."""

import numpy as np
import pytest

from qdlib import campaign
from qdlib import campaign as campaign_module
from qdlib.campaign import CallRecord
from tests.fakes import toy_campaign as _toy_campaign


def test_campaign_logs_summarise_per_case_target_and_method(tmp_path, monkeypatch):
    for seed in (0, 1):
        _toy_campaign(tmp_path, monkeypatch, edge_angstrom=0.6, budget=6, seed=seed).run()
    logs = campaign_module.read_campaigns(tmp_path / "logs")
    assert [g.config.name for g in logs] == ["Cd4Se4_0.6A_1_T0_random_s0", "Cd4Se4_0.6A_1_T0_random_s1"]
    (row,) = campaign_module.summary_rows(logs)
    firsts = [next((r.call + 1 for r in g.history if r.confirmed), None) for g in logs]
    assert row["case"] == "Cd4Se4 0.6 Å 1 at." and row["target"] == "T0" and row["method"] == "random"
    assert row["calls"] == [6, 6] and row["first"] == firsts and row["found"] == sum(f is not None for f in firsts)
    k = sum(r.confirmed for g in logs for r in g.history)
    assert row["confirmed"] == k and row["per_call"] == pytest.approx(k / 12) and row["low"] <= k / 12 <= row["high"]
    assert campaign_module.confirmed_by_call(logs[0])[-1] == sum(r.confirmed for r in logs[0].history)
    rate = campaign_module.pass_rate([r for g in logs for r in g.history] + logs[0].history)  # repeats count once
    assert rate["n"] == len({r.key for g in logs for r in g.history})


def test_strain_agreement_counts_distinct_designs_and_the_filter_leak():
    def record(key, xtb, dft):
        return CallRecord(call=0, round=0, u=[0.5] * 3, key=key, status="valid", n_states=18, peak_nm=400.0,
                          peak_error_nm=0.0, similarity=1.0, loss=0.0, strain_ev=dft, xtb_strain_ev=xtb,
                          min_distance_angstrom=2.6, displacement_angstrom=0.1, confirmed=False, failures=[],
                          margin=0.0, wall_time_s=1.0)  # fmt: skip

    xtb = np.linspace(0.0, 0.3, 12)
    dft = 2 * xtb + 0.01 * np.sin(np.arange(12))  # monotone but for the wiggle of the last pairs
    records = [record(str(i), a, b) for i, (a, b) in enumerate(zip(xtb, dft))]
    records += records[:3] + [record("nan", 0.1, float("nan"))]  # repeats count once, a failed call not at all
    agreement = campaign_module.strain_agreement(records)
    assert agreement["n"] == 12 and agreement["k_over"] == int((dft > 0.5).sum()) == 2
    assert agreement["low"] < agreement["rho"] <= 1.0 and agreement["rho"] > 0.95
    assert agreement["over_low"] < 2 / 12 < agreement["over_high"]


def test_a_campaign_still_running_is_neither_beyond_its_budget_nor_released(tmp_path, capsys):
    from qdlib.cli import main

    def record(call, confirmed):
        return CallRecord(call=call, round=call // 2, u=[0.5] * 3, key=str(call), status="valid", n_states=18, peak_nm=400.0,
                          peak_error_nm=0.0, similarity=1.0, loss=0.0, strain_ev=0.1, xtb_strain_ev=0.05,
                          min_distance_angstrom=2.6, displacement_angstrom=0.1, confirmed=confirmed, failures=[],
                          margin=0.0, wall_time_s=60.0)  # fmt: skip

    def log(seed, confirmed_at, calls):
        cfg = campaign_module.config_from_name(f"Cd4Se4_4A_1_T0_al_s{seed}")
        return campaign_module.CampaignLog(cfg, [record(i, i == confirmed_at) for i in range(calls)])

    spent, stopped, running = log(0, None, 24), log(1, 6, 7), log(2, None, 6)  # budget 24 for one atom
    assert spent.config.budget == 24 and [g.finished for g in (spent, stopped, running)] == [True, True, False]
    (row,) = campaign_module.summary_rows([spent, stopped, running])
    assert row["running"] == [2] and row["first"] == [None, 7, None]
    assert row["first_median"] is None  # over the two finished seeds: 7 and beyond the budget
    (row,) = campaign_module.summary_rows([stopped, running])
    assert row["first_median"] == 7.0  # the running seed is not counted as beyond the budget
    assert "7, …" in campaign_module.format_summary([row])

    stores = tmp_path / "stores"
    (stores / "campaigns").mkdir(parents=True)
    for g in (spent, stopped, running):
        with open(stores / "campaigns" / f"{g.config.name}.jsonl", "w") as fh:
            fh.writelines(r.to_json() + "\n" for r in g.history)
    (stores / "campaign_forces.jsonl").write_text('{"key": "reference Cd4Se4"}\n')  # qdlib campaign-forces' results
    assert main(["export-dataset", "--stores", str(stores), "--out", str(tmp_path / "out"),
                 "--campaigns-out", str(tmp_path / "released")]) == 0  # fmt: skip
    assert sorted(p.stem for p in (tmp_path / "released").glob("*.jsonl")) == ["Cd4Se4_4A_1_T0_al_s0", "Cd4Se4_4A_1_T0_al_s1"]
    assert "held back (still running: 6 of 24 calls, none confirmed): Cd4Se4_4A_1_T0_al_s2" in capsys.readouterr().out
    assert [len(g.history) for g in campaign_module.read_campaigns(tmp_path / "released")] == [24, 7]
    assert (tmp_path / "released" / "forces" / "design_forces.jsonl").read_text() == '{"key": "reference Cd4Se4"}\n'


def _log(name, first, budget=24, stopped=True):
    """A campaign log whose first confirmed design is at call ``first`` (None: none; it then spends ``budget``)."""
    from qdlib.campaign.results import CampaignLog, _toy_call

    n = budget if first is None else (first if stopped else budget)
    return CampaignLog(campaign.config_from_name(name), [_toy_call(i, first is not None and i + 1 == first) for i in range(n)])


def test_survival_curves_count_seeds_from_their_first_confirmed_design_without_padding():
    from qdlib.campaign import survival

    logs = [_log("D_4A_1_T0_al_s0", 3), _log("D_4A_1_T0_al_s1", None), _log("D_4A_1_T0_al_s2", 10),
            _log("D_4A_1_T0_random_s0", 5, stopped=False), _log("D_4A_1_T0_random_s1", 20, stopped=False),
            _log("D_4A_1_T0_random_s2", None), _log("D_4A_1_T0_random_s3", 7)]
    logs.append(campaign.CampaignLog(campaign.config_from_name("D_4A_1_T0_bo_s0"), logs[0].history[:2]))  # still running
    s = survival(logs)
    al, rnd = s["D 4 Å 1 at.", "T0", "al"], s["D 4 Å 1 at.", "T0", "random"]
    assert al["n_seeds"] == 3 and al["found"][2] == 0 and al["found"][3] == pytest.approx(1 / 3)
    assert al["found"][24] == pytest.approx(2 / 3) and list(al["calls"]) == list(range(25))
    assert rnd["first"] == [5, 20, None, 7] and rnd["found"][6] == pytest.approx(0.25) and rnd["found"][24] == pytest.approx(0.75)
    assert s["D 4 Å 1 at.", "T0", "bo"]["n_seeds"] == 0  # a running seed without a confirmed design is not counted
    rates = campaign.first_rate(logs)
    assert (rates["D 4 Å 1 at.", "T0", "al"]["k"], rates["D 4 Å 1 at.", "T0", "al"]["n"]) == (2, 3 + 24 + 10)
    assert (rates["D 4 Å 1 at.", "T0", "random"]["k"], rates["D 4 Å 1 at.", "T0", "random"]["n"]) == (3, 5 + 20 + 24 + 7)


def test_the_stream_test_pairs_cases_and_seeds_and_sums_their_targets():
    from qdlib.campaign import stream_test

    logs = []
    for seed, (a, b) in enumerate([(2, 9), (3, None), (5, 4), (1, 12), (4, 8)]):
        for target, extra in (("T0", 0), ("T+10", 1)):
            logs.append(_log(f"D_4A_1_{target}_al_s{seed}", a + extra))
            logs.append(_log(f"D_4A_1_{target}_random_s{seed}", None if b is None else b + extra, stopped=False))
    t = stream_test(logs, "al", "random")
    assert t["n_streams"] == 5 and t["method"][1] == 3 + 4 and t["other"][1] == 25 + 25  # none: the budget + 1
    assert (t["wins"], t["ties"], t["losses"]) == (8, 0, 2)
    d = np.array(t["method"]) - np.array(t["other"])
    signs = np.array(np.meshgrid(*[[-1, 1]] * 5)).reshape(5, -1).T
    means = (signs * np.abs(d)).mean(axis=1)
    assert t["p_less"] == pytest.approx(np.mean(means <= d.mean() + 1e-12))  # exact: all 32 sign flips
    assert t["p_two_sided"] == pytest.approx(np.mean(np.abs(means) >= abs(d.mean()) - 1e-12))
    assert stream_test(logs, "al", "bo")["n_streams"] == 0


def test_the_stream_test_agrees_with_scipys_exact_permutation_test():
    from scipy.stats import permutation_test

    from qdlib.campaign import stream_test

    logs = []
    for seed, (a, b) in enumerate([(2, 9), (7, 3), (5, 5), (1, 12), (4, 8), (3, None)]):
        logs.append(_log(f"D_4A_1_T0_al_s{seed}", a))
        logs.append(_log(f"D_4A_1_T0_random_s{seed}", b, stopped=False))
    t = stream_test(logs, "al", "random")
    x, y = np.array(t["method"]), np.array(t["other"])
    for alternative, key in (("two-sided", "p_two_sided"), ("less", "p_less")):
        ref = permutation_test((x, y), lambda u, v, axis=-1: np.mean(u - v, axis=axis), permutation_type="samples",
                               n_resamples=np.inf, alternative=alternative).pvalue
        assert t[key] == pytest.approx(ref)
    one = stream_test(logs[:2], "al", "random")
    assert one["n_streams"] == 1 and one["p_two_sided"] == 1.0 and one["p_less"] == 0.5  # one stream: two sign flips

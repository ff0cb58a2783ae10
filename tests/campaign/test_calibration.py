"""qdlib.campaign.calibration: the criterion read on the random control and on the sensitivity sweep."""

import pytest

from tests.fakes import toy_campaign as _toy_campaign


def test_the_calibration_report_gives_each_random_seed_against_the_bar(tmp_path, monkeypatch):
    from qdlib.campaign import read_campaigns
    from qdlib.campaign.calibration import calibration_report

    for seed in (3, 4):
        _toy_campaign(tmp_path, monkeypatch, seed=seed, budget=4).run()
    logs = read_campaigns(tmp_path / "logs")
    report = calibration_report(logs, tmp_path / "store.json", tmp_path / "logs")
    lines = report.splitlines()
    assert lines[0].startswith("Cd4Se4 1 Å 1 at., T0: cosine threshold") and "calibrated shift" in lines[0]
    for seed, g in zip((3, 4), logs):
        k = sum(r.confirmed for r in {r.key: r for r in g.history}.values())
        bar = "above" if k / 4 > 0.1 else "within"
        assert any(line.strip().startswith(f"seed {seed}: {k}/4") and f"{bar} the one-in-10 bar" in line for line in lines)
    assert "first version" in lines[-1]


def test_too_few_random_designs_are_counted_not_scored(tmp_path, monkeypatch):
    from qdlib.campaign import read_campaigns
    from qdlib.campaign.calibration import forward_models_on_random

    _toy_campaign(tmp_path, monkeypatch, seed=3, budget=4).run()
    logs = read_campaigns(tmp_path / "logs")
    assert forward_models_on_random(logs, logs[0].case, tmp_path / "store.json", tmp_path / "logs") == {"n_designs": 4}


def test_the_sweep_needs_the_dots_reference_spectrum(tmp_path):
    from qdlib.campaign.calibration import criterion_on_sweep
    from qdlib.store import ResultStore

    with pytest.raises(LookupError):
        criterion_on_sweep("Cd6Se6", [0.1], source=ResultStore(tmp_path / "empty.db"))

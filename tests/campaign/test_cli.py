"""``qdlib campaign`` and ``qdlib campaigns``: the command line in front of qdlib.campaign."""

import pytest

from qdlib import campaign as campaign_module
from qdlib.campaign import read_log
from qdlib.stats import format_rate
from tests import fakes
from tests.fakes import toy_campaign as _toy_campaign


def test_design_cli_runs_a_campaign_and_reports_it(tmp_path, monkeypatch, capsys):
    from qdlib import cli, qchem

    monkeypatch.setattr(qchem, "excitations", fakes.toy_oracle)
    args = ["campaign", "--dot", "Cd4Se4", "--edge", "1", "--budget", "2", "--seed", "1", "--cold",
            "--store", str(tmp_path / "c.json"), "--log-dir", str(tmp_path / "logs")]  # fmt: skip
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "Cd4Se4_1A_1_T0_random_s1: 2 TD-DFT calls" in out and "confirmed designs" in out
    assert len(read_log(tmp_path / "logs" / "Cd4Se4_1A_1_T0_random_s1.jsonl")) == 2
    with pytest.raises(SystemExit):  # argparse refuses a target that is not one of the three
        cli.main(["campaign", "--target-shift", "7"])
    assert cli.main(["campaign", "--budget", "-1", "--store", str(tmp_path / "c.json"), "--log-dir", str(tmp_path)]) == 2
    assert "budget and batch_size must be positive" in capsys.readouterr().err


def test_cli_campaigns_prints_the_table_of_a_folder_of_logs(tmp_path, monkeypatch, capsys):
    from qdlib.cli import main

    for seed in (0, 1):
        _toy_campaign(tmp_path, monkeypatch, edge_angstrom=0.6, budget=4, seed=seed).run()
    capsys.readouterr()
    assert main(["campaigns", "--log-dir", str(tmp_path / "logs")]) == 0
    out = capsys.readouterr().out.splitlines()
    (row,) = campaign_module.summary_rows(campaign_module.read_campaigns(tmp_path / "logs"))
    assert out[0].startswith("case") and out[1].split()[:8] == ["Cd4Se4", "0.6", "Å", "1", "at.", "T0", "random", "2"]
    assert "4/4" in out[1].split()
    assert out[1].endswith(format_rate(row["confirmed"], 8))
    assert any(line.startswith("Cd4Se4 0.6 Å 1 at.: GFN2-xTB against DFT strain over") for line in out)
    assert main(["campaigns", "--log-dir", str(tmp_path / "empty")]) == 1

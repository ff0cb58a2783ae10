"""``qdlib tddft``: the command line in front of qdlib.qchem."""

import numpy as np
import pytest


@pytest.mark.tddft
def test_cli_tddft_writes_spectrum(tmp_path, capsys):
    from qdlib import cli

    xyz = tmp_path / "dimer.xyz"
    xyz.write_text("2\n\nCd 0 0 0\nSe 0 0 2.55\n")
    store = tmp_path / "r.db"
    args = ["tddft", str(xyz), "--n-states", "2", "--grid-level", "0", "--threads", "1", "--backend", "cpu", "--store", str(store)]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "λ (nm)" in out and "dimer_absorption.csv" in out
    data = np.loadtxt(tmp_path / "dimer_absorption.csv", delimiter=",", skiprows=1)
    assert data.shape == (500, 2) and data[:, 1].max() > 0
    assert (tmp_path / "dimer_absorption.png").stat().st_size > 1000
    from qdlib.store import ResultStore

    assert len(ResultStore(store)) == 1
    assert cli.main(args + ["--force"]) == 0  # the second run is served by the store
    assert len(ResultStore(store)) == 1
    assert "from the store" in capsys.readouterr().out


def test_cli_tddft_bad_file(tmp_path, capsys):
    from qdlib import cli

    bad = tmp_path / "bad.xyz"
    bad.write_text("2\n\nCd 0 0 0\nSe 0 0 0.3\n")
    assert cli.main(["tddft", str(bad)]) == 2
    assert "overlap" in capsys.readouterr().err

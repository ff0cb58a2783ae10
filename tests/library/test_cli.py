"""``qdlib library-search``: the command line in front of qdlib.library."""


def test_cli_searches_and_reports(tmp_path, capsys):
    from qdlib.cli import main

    assert main(["library-search", "--compositions", "Cd2Se1Te1", "--method", "random", "--budget", "2",
                 "--out", str(tmp_path)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "Cd2Se1Te1_random_s0: 2 relaxations (" in out and "new, " in out
    assert main(["library-search", "--compositions", "Cd2Se1Te1", "--method", "random", "--budget", "2",
                 "--out", str(tmp_path)]) == 0  # fmt: skip
    assert "(0 new" in capsys.readouterr().out
    assert main(["library-search", "--compositions", "CdS", "--out", str(tmp_path)]) == 2

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


def test_library_tddft_computes_the_selection_into_a_store_and_a_rerun_reads_it(tmp_path, capsys, monkeypatch):
    from qdlib import cli
    from qdlib.library import tddft
    from qdlib.library.members import write_members
    from tests.fakes import toy_library, toy_member_excitations

    monkeypatch.setattr(tddft, "excitations", toy_member_excitations)
    write_members(toy_library(n=6).members, tmp_path / "library")
    args = ["library-tddft", "--library", str(tmp_path / "library"), "--store", str(tmp_path / "library.json"), "--limit", "2"]
    assert cli.main(args) == 0
    first = capsys.readouterr().out
    assert cli.main(args) == 0
    again = capsys.readouterr().out
    assert first.count("(computed): 2 states to 250 nm") == 2 and again.count("(stored)") == 2

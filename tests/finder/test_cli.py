"""``qdlib design``: design for a user's target from the command line, on a toy library."""

import csv

import pytest

from qdlib import cli

from ..fakes import toy_library, toy_member_excitations


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """A toy library folder, the stand-in TD-DFT, and the arguments every call shares."""
    from qdlib.library import tddft
    from qdlib.library.members import write_members

    monkeypatch.setattr(tddft, "excitations", toy_member_excitations)
    write_members(toy_library(n=30).members, tmp_path / "library")
    return ["--library", str(tmp_path / "library"), "--store", str(tmp_path / "store.json"), "--threads", "1"]


def test_a_band_is_designed_for_with_one_line_per_call_and_a_report(tmp_path, toy, capsys):
    out = tmp_path / "out"
    assert cli.main(["design", "--peak-nm", "450", "--method", "random", "--seed", "2", "--output", str(out), *toy]) == 0
    text = capsys.readouterr().out
    n = int((toy_library(n=30).e_above_ev <= 0.5).sum())  # the members that can pass the stability bound
    assert "criterion: central peak within 5 nm" in text and f"library: {n} members, 0 with TD-DFT in the store" in text
    assert "call 1/24: Cd1Se1Te0-" in text and "→ confirmed" in text and "confirmed: Cd1Se1Te0-07 after" in text
    with open(out / "ranked.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["isomer"] == "Cd1Se1Te0-07" and rows[0]["confirmed"] == "True"
    assert (out / "Cd1Se1Te0-07.xyz").is_file() and (out / "best.png").is_file() and (out / "calls.jsonl").is_file()
    # a second target: every member computed so far is judged from the store first, at no cost
    assert cli.main(["design", "--peak-nm", "450", "--method", "random", "--seed", "5", "--output", str(tmp_path / "o2"),
                     *toy]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "stored: Cd1Se1Te0-07" in text and "confirmed: Cd1Se1Te0-07 after 0 TD-DFT call(s) (already in the store)" in text


def test_a_spectrum_file_target_and_a_dry_run_that_computes_nothing(tmp_path, toy, capsys, monkeypatch):
    from qdlib.library import tddft

    path = tmp_path / "target.csv"
    path.write_text("nm,A\n" + "".join(f"{lam},{1.0 if lam == 500 else 0.5 if lam in (490, 510) else 0.0}\n"
                                       for lam in range(400, 601, 10)))  # fmt: skip
    monkeypatch.setattr(tddft, "excitations", lambda *a, **k: pytest.fail("a dry run computed"))
    assert cli.main(["design", "--target", str(path), "--dry-run", *toy]) == 0
    text = capsys.readouterr().out
    assert "target: target.csv (arbitrary units" in text
    assert "first members al would compute (drawn at random: no model before two members are computed):" in text
    assert "no stored calculation to estimate the time from" in text


def test_bad_targets_are_refused_with_one_line(tmp_path, toy, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("400,0.1\n450,-0.2\n500,0.1\n")
    assert cli.main(["design", "--target", str(bad), *toy]) == 2
    assert "intensity -0.2 at row 2 is negative" in capsys.readouterr().err
    assert cli.main(["design", "--peak-nm", "340", *toy]) == 2
    assert "band at 340 nm: the target has no band between 366.4 and 798.4 nm" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["design", "--peak-nm", "480", "--target", str(bad), *toy])  # one target at a time


def test_a_replay_runs_over_the_stored_members_only(tmp_path, toy, capsys):
    assert cli.main(["design", "--peak-nm", "600", "--method", "stable-first", "--budget", "3", "--output",
                     str(tmp_path / "a"), *toy]) == 0  # fmt: skip
    capsys.readouterr()
    assert cli.main(["design", "--peak-nm", "450", "--replay", "--method", "random", "--output", str(tmp_path / "b"), *toy]) == 0
    text = capsys.readouterr().out
    assert "library: 3 members with TD-DFT in the store (a replay: only those)" in text
    assert "no member met the target in 3 TD-DFT call(s); every member was judged: none meets it. Closest:" in text


def test_a_structure_target_finds_other_members_than_itself(tmp_path, toy, capsys, monkeypatch):
    import ase.io

    from qdlib import qchem

    monkeypatch.setattr(qchem, "excitations", toy_member_excitations)  # the target's TD-DFT, as the members'

    member = toy_library(n=30).members[7]  # its band at 450 nm
    ase.io.write(tmp_path / "dot.xyz", member)
    assert cli.main(["design", "--target-structure", str(tmp_path / "dot.xyz"), "--method", "stable-first", "--budget", "30",
                     "--output", str(tmp_path / "o"), *toy]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "Cd1Se1Te0-07" not in text.split("library:")[1] and "no member met the target" in text
    assert cli.main(["design", "--target-structure", str(tmp_path / "missing.xyz"), "--dry-run", *toy]) == 2

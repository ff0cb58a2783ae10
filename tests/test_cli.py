"""The command line as a newcomer meets it: warnings, the store, outputs, plain xyz, global flags."""

import logging

import numpy as np
import pytest

from qdlib import cli, qchem, spectra
from qdlib.qchem import Excitations, TDDFTSettings

RING = "4\nCd2Se2 rhombus, relaxed by hand\nCd 0 0 0\nSe 2.6 0 0\nCd 2.6 2.6 0.3\nSe 0 2.6 0\n"


def _sticks(wavelengths_nm, f):
    lam = np.asarray(wavelengths_nm, dtype=float)
    n = lam.size
    return Excitations(spectra.nm_to_ev(lam), np.asarray(f, dtype=float), -10.0, np.ones(n, bool), "diis",
                       TDDFTSettings(n_states=n), "cpu", 9.6, {"pyscf": "test"})  # fmt: skip


@pytest.fixture
def ring(tmp_path):
    path = tmp_path / "ring.xyz"
    path.write_text(RING)
    return path


@pytest.fixture
def fake_tddft(monkeypatch):
    """TD-DFT replaced by given sticks (no quantum chemistry); returns the list of calls."""
    calls = []

    def use(wavelengths_nm, f):
        def fake(atoms, settings=TDDFTSettings(), options=None, **kwargs):
            calls.append(atoms)
            return _sticks(wavelengths_nm, f)

        monkeypatch.setattr(qchem, "excitations", fake)
        return calls

    return use


def test_sticks_beyond_the_grid_are_warned_and_plotted(ring, fake_tddft, capsys):
    fake_tddft([849.0, 700.0, 650.0], [0.2, 0.01, 0.05])
    assert cli.main(["tddft", str(ring)]) == 0
    out = capsys.readouterr().out
    assert "1 of 3 transition(s) lie outside the paper's absorption grid" in out and "849.0 nm" in out
    data = np.loadtxt(ring.with_name("ring_absorption.csv"), delimiter=",", skiprows=1)
    assert data.shape == (500, 2)  # the CSV stays on the paper grid


def test_a_dark_s1_emission_is_warned(ring, fake_tddft, capsys):
    fake_tddft([900.0, 700.0], [0.0, 0.3])
    assert cli.main(["tddft", str(ring), "--emission", "--vertical"]) == 0
    assert "S1 is dark (f = 0.0000)" in capsys.readouterr().out


def test_a_result_from_the_store_says_so_and_is_not_computed_again(ring, fake_tddft, capsys, tmp_path):
    calls = fake_tddft([500.0, 450.0], [0.1, 0.2])
    store = str(tmp_path / "r.db")
    assert cli.main(["tddft", str(ring), "--store", store]) == 0
    assert "computed in 9.6 s, stored in" in capsys.readouterr().out
    assert cli.main(["tddft", str(ring), "--store", store, "--output", str(tmp_path / "again")]) == 0
    out = capsys.readouterr().out
    assert f"from the store {store} (computed there in 9.6 s" in out and len(calls) == 1


def test_outputs_are_never_overwritten_silently(ring, fake_tddft, capsys, tmp_path):
    calls = fake_tddft([500.0, 450.0], [0.1, 0.2])
    assert cli.main(["tddft", str(ring)]) == 0
    first = ring.with_name("ring_absorption.csv").read_bytes()
    assert cli.main(["tddft", str(ring), "--tda"]) == 2
    assert "would overwrite" in capsys.readouterr().err and len(calls) == 1  # refused before any work
    assert ring.with_name("ring_absorption.csv").read_bytes() == first
    assert cli.main(["tddft", str(ring), "--output", str(tmp_path / "tda")]) == 0
    assert (tmp_path / "tda" / "ring_absorption.png").is_file()
    assert cli.main(["tddft", str(ring), "--force"]) == 0


def test_a_plain_xyz_comment_stays_a_comment(ring):
    from qdlib.structures import read

    atoms = read(ring)
    assert atoms.info == {"comment": "Cd2Se2 rhombus, relaxed by hand"}
    extended = ring.with_name("ext.xyz")
    extended.write_text("2\nname=dimer Properties=species:S:1:pos:R:3\nCd 0 0 0\nSe 0 0 2.55\n")
    assert read(extended).info == {"name": "dimer"}


@pytest.mark.parametrize("argv", [["-v", "tddft"], ["tddft", "-v"], ["tddft", "--verbose"]])
def test_verbose_before_or_after_the_subcommand(argv, ring, fake_tddft, monkeypatch):
    fake_tddft([500.0], [0.1])
    seen = {}
    monkeypatch.setattr(logging, "basicConfig", lambda **kw: seen.update(kw))
    args = argv[:1] + [str(ring)] + argv[1:] if argv[0] == "tddft" else argv + [str(ring)]
    assert cli.main(args) == 0
    assert seen["level"] == logging.INFO


def test_progress_lines_go_to_the_stream_only_inside_the_block(capsys):
    import io

    import qdlib

    stream, root_stream = io.StringIO(), io.StringIO()
    root = logging.StreamHandler(root_stream)  # what a notebook's logging.basicConfig puts on stderr
    logging.getLogger().addHandler(root)
    log = logging.getLogger("qdlib.compute")
    try:
        with qdlib.progress_lines(stream):
            log.info("TD-DFT: %d of %d done", 1, 2)
        log.info("not shown")
    finally:
        logging.getLogger().removeHandler(root)
    assert stream.getvalue() == "TD-DFT: 1 of 2 done\n"
    assert root_stream.getvalue() == ""  # not also on stderr

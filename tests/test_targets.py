"""qdlib.targets: a user's target from a file, a band or a structure; bad input refused with one clear line."""

import numpy as np
import pytest

from qdlib import spectra
from qdlib.targets import ARBITRARY_MAX, TargetError, band_target, read_spectrum, spectrum_target, structure_target
from qdlib.verdict import window_peak

GRID = spectra.wavelength_grid("absorption")


def _band(peak_nm=480.0, scale=1.0, lam=None):
    lam = np.arange(350.0, 700.0, 0.5) if lam is None else lam
    return lam, scale * np.exp(-(((1e7 / lam - 1e7 / peak_nm) / 967.0) ** 2))


@pytest.mark.parametrize("sep,header", [(",", "wavelength_nm,absorbance\n"), ("\t", "nm\tA\n"), ("  ", ""), (";", "# a comment\nλ;A\n")])
def test_a_spectrum_file_is_read_whatever_its_separator_and_header(tmp_path, sep, header):
    lam, y = _band()
    path = tmp_path / "target.txt"
    path.write_text(header + "".join(f"{a}{sep}{b}\n" for a, b in zip(lam, y)) + "\n")
    got_lam, got_y = read_spectrum(path)
    assert np.allclose(got_lam, lam) and np.allclose(got_y, y)


def test_any_grid_is_interpolated_to_the_papers_and_either_direction_gives_one_target():
    lam, y = _band(480.0, scale=2.0e4)
    up = spectrum_target(lam, y, units="epsilon", name="measured")
    down = spectrum_target(lam[::-1], y[::-1], units="epsilon")
    coarse = spectrum_target(*_band(480.0, 2.0e4, np.arange(350.0, 700.0, 7.0)))
    assert np.allclose(up.spectrum, down.spectrum) and up.absolute and up.name == "measured (ε, L mol⁻¹ cm⁻¹)"
    assert up.window.red_nm == pytest.approx(699.2)  # the window ends where the measurement does
    assert up.spectrum.shape == GRID.shape and up.spectrum[GRID < 350].max() == 0.0  # zero outside the measured range
    assert abs(window_peak(up.spectrum, up.window) - 480.0) < 0.5 and abs(coarse.peak_nm - 480.0) < 3.5  # half a 7-nm step


def test_units_are_arbitrary_unless_given_or_named_by_the_header_and_arbitrary_units_drop_the_intensity_test(tmp_path):
    from qdlib.campaign import Criterion
    from qdlib.targets import units_from_header

    lam, y = _band(480.0)
    plain = spectrum_target(lam, 3e4 * y)  # counts, not ε
    assert not plain.absolute and plain.name == "spectrum (arbitrary units)"
    assert plain.spectrum.max() == pytest.approx(ARBITRARY_MAX)
    assert spectrum_target(lam, 100 * y, units="epsilon").absolute
    assert Criterion().for_target(plain).max_intensity_ratio == np.inf
    assert Criterion().for_target(spectrum_target(lam, 5e4 * y, units="epsilon")).max_intensity_ratio == 1.25
    for header, units in [("nm,epsilon\n", "epsilon"), ("# ε in L mol^-1 cm^-1\nnm,e\n", "epsilon"),
                          ("nm;eps (M-1 cm-1)\n", "epsilon"), ("nm,absorbance\n", "arbitrary"), ("", "arbitrary")]:  # fmt: skip
        path = tmp_path / "t.csv"
        path.write_text(header + "400,1\n450,2\n")
        assert units_from_header(path) == units, header


def test_a_semicolon_file_reads_decimal_commas(tmp_path):
    path = tmp_path / "de.csv"
    path.write_text("Wellenlänge;Absorption\n400,5;0,12\n401,5;0,25\n")
    lam, y = read_spectrum(path)
    assert list(lam) == [400.5, 401.5] and list(y) == [0.12, 0.25]


def test_a_band_is_the_papers_broadening_or_a_given_width():
    paper, broad = band_target(480.0), band_target(480.0, fwhm_nm=60.0)
    for target, fwhm in ((paper, 37.0), (broad, 60.0)):  # the paper's σ = 967 cm⁻¹ at 1/e: a FWHM of 37 nm at 480 nm
        half = GRID[target.spectrum >= target.spectrum.max() / 2]
        assert half[-1] - half[0] == pytest.approx(fwhm, abs=1.6)  # to one 1.6-nm bin
    assert paper.peak_nm == pytest.approx(480.0, abs=0.2) and not paper.absolute
    assert broad.window.blue_nm < paper.window.blue_nm
    with pytest.raises(TargetError, match="FWHM 20 nm at 480 nm is narrower than the library's spectra can be"):
        band_target(480.0, fwhm_nm=20.0)


@pytest.mark.parametrize("text,message", [
    ("", "no data rows"),
    ("# only a comment\n", "no data rows"),
    ("wavelength,A\n400,0.1\n450,abc\n", "line 3: 'abc' is not a number"),
    ("400\n450\n500\n", "line 1 has 1 column\\(s\\)"),
])  # fmt: skip
def test_a_bad_file_is_refused_with_its_line(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(TargetError, match=message):
        read_spectrum(path)
    with pytest.raises(TargetError, match="no such file"):
        read_spectrum(tmp_path / "missing.csv")


@pytest.mark.parametrize("lam,y,message", [
    ([400.0, 450.0, 500.0], [0.1, np.nan, 0.2], "intensity at row 2 is nan"),
    ([400.0, np.inf, 500.0], [0.1, 0.5, 0.2], "wavelength at row 2 is inf"),
    ([400.0, 450.0, 500.0], [0.1, -0.5, 0.2], "intensity -0.5 at row 2 is negative"),
    ([400.0, 450.0, 430.0, 500.0], [0.1, 0.5, 0.2, 0.1], "450 nm is followed by 430 nm at row 3"),
    ([400.0, 450.0, 500.0], [0.0, 0.0, 0.0], "every intensity is zero"),
    ([400.0, 450.0], [0.1, 0.2], "2 point\\(s\\)"),
    ([900.0, 950.0, 1000.0], [0.1, 0.5, 0.2], "must overlap the paper's grid"),
    ([300.0, 340.0, 380.0, 420.0], [0.0, 1.0, 0.5, 0.0], "no band between 366.4 and 798.4 nm"),
])  # fmt: skip
def test_bad_values_are_refused_with_what_is_accepted(lam, y, message):
    with pytest.raises(TargetError, match=message):
        spectrum_target(lam, y)


def test_bands_the_library_cannot_judge_are_refused_and_a_blue_band_is_judged_where_spectra_are_complete():
    with pytest.raises(TargetError, match="band at 360 nm: the target has no band between 366.4 and 798.4 nm"):
        band_target(360.0)
    blue = band_target(370.0)
    assert blue.window.blue_nm == pytest.approx(366.4) and blue.window.cover_nm >= 330.0 and blue.peak_nm == pytest.approx(370, abs=0.5)
    with pytest.raises(TargetError, match="inside the paper's grid"):
        band_target(900.0)
    with pytest.raises(TargetError, match="FWHM -5"):
        band_target(480.0, fwhm_nm=-5.0)


def test_a_structures_target_is_its_covering_tddft_spectrum_and_a_second_call_reads_the_store(tmp_path, monkeypatch):
    from qdlib import qchem
    from qdlib.store import ResultStore

    from .fakes import TOY_STICKS_NM, TOY_STRENGTHS, cdse_dimer

    calls = []

    def sticks(atoms, settings=None, options=None, cover_nm=None, max_states=40):
        calls.append(cover_nm)
        return qchem.Excitations(spectra.nm_to_ev(TOY_STICKS_NM), TOY_STRENGTHS.copy(), -100.0, np.ones(10, bool), "diis",
                                 qchem.TDDFTSettings(n_states=10), "cpu", 0.01, versions={"pyscf": "toy"})  # fmt: skip

    monkeypatch.setattr(qchem, "excitations", sticks)
    store = ResultStore(tmp_path / "store.db")
    t = structure_target(cdse_dimer(), store=store)
    again = structure_target(cdse_dimer(), store=store)
    assert t.absolute and t.name.startswith("TD-DFT spectrum of CdSe") and calls == [330.0]
    assert np.array_equal(t.spectrum, again.spectrum) and t.window.cover_nm >= 330.0
    with pytest.raises(TargetError, match="target structure: .*overlap"):
        from ase import Atoms

        structure_target(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 1.0]]), store=store)

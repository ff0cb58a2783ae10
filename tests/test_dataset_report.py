"""Notebook 01's data: Fig. 1's spectrum panels and the released random set (its table and spectra)."""

import numpy as np
import pytest
from ase import Atoms

from qdlib.dataset_report import (
    authors_s1_energies,
    fig1_panel,
    format_random_set,
    random_set,
    random_set_rows,
    random_set_spectra,
    relaxation_steps,
)
from qdlib.qchem import TDDFTSettings
from qdlib.spectra import broaden, peak_wavelength, wavelength_grid
from qdlib.tddft_data import load_tddft_dataset
from tests.fakes import fake_excitations


@pytest.fixture(scope="module")
def released():
    return load_tddft_dataset(parts=["reproduction"])


def test_fig1_panel_broadens_ours_and_draws_one_stick_for_the_emission():
    exc = fake_excitations(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]]), TDDFTSettings(n_states=6))
    grid = wavelength_grid("emission")
    theirs = broaden([1200.0], [0.01], grid)
    panel = fig1_panel("emission", exc, theirs, grid)
    assert panel.authors_peak_nm == pytest.approx(1200.0, abs=1.0)
    np.testing.assert_allclose(panel.ours, exc.spectrum("emission", grid))
    assert panel.ours_peak_nm == pytest.approx(peak_wavelength(panel.ours, grid))
    assert panel.sticks_nm.tolist() == exc.wavelengths_nm[:1].tolist() and panel.sticks_f.size == 1
    absorption = fig1_panel("absorption", exc, theirs, grid)
    assert absorption.sticks_nm.size == 6 and absorption.grid_nm[-1] == wavelength_grid("absorption")[-1]
    assert fig1_panel("absorption", None, theirs, grid).ours is None


def test_the_released_random_set_table_holds_what_notebook_01_prints(released):
    rs = random_set(released)
    assert (len(rs.absorption), len(rs.distinct), len(rs.emission), rs.largest_emission_atoms) == (12, 8, 2, 8)
    rows = random_set_rows(rs, relaxation_steps())
    assert [r["index"] for r in rows] == list(range(12))
    assert [r["same_minimum_as"] for r in rows if r["same_minimum_as"] is not None] == [1, 1, 9, 9]
    with_s1 = [r for r in rows if r["stokes_ev"] is not None]
    assert [(r["index"], round(r["stokes_ev"], 2), round(r["emission_peak_nm"])) for r in with_s1] == [(8, 1.76, 1211), (9, 1.97, 1596)]
    assert rows[0]["s0_steps"] == 47 and rows[8]["s1_steps"] == 23
    lines = format_random_set(rows).splitlines()
    assert len(lines) == 13 and lines[4].endswith("same as 1") and lines[1].endswith("distinct")
    unknown = format_random_set(random_set_rows(rs)).splitlines()[1]  # without the working store: steps unknown
    assert unknown.split()[3] == "?"


def test_random_set_spectra_pair_each_s1_relaxed_cluster_with_its_ground_state(released):
    rs = random_set(released)
    data = random_set_spectra(rs)
    assert len(data.absorption) == 8 and data.absorption[0][0] == "0: Cd6Se4Te2"
    assert [label for label, _, _ in data.pairs] == ["8: Cd4Se3Te1", "9: Cd4Se2Te2"]
    assert sorted(round(p) for p in data.emission_peaks_nm) == [1211, 1596]
    assert all(a.shape == e.shape == (500,) for _, a, e in data.pairs)
    energies = authors_s1_energies(released, rs.largest_emission_atoms)
    assert [(c, round(e, 2)) for c, e in energies] == [("Cd4Se1Te3", 0.77), ("Cd4Se2Te2", 0.78), ("Cd4Se0Te4", 0.74),
                                                       ("Cd4Se4Te0", 0.94)]  # fmt: skip

"""The released-dataset format: frames from stores, extxyz + spectra CSV, and back."""

import numpy as np
import pytest
from ase import Atoms

from qdlib import spectra, tddft_data
from qdlib.cli import main
from qdlib.datasets import DataFileError
from qdlib.qchem import TDDFTSettings
from qdlib.store import ResultStore
from tests.fakes import fake_excitations


def _dimer(d):
    return Atoms("CdSe", positions=[[0, 0, 0], [0, 0, d]])


def _stores(root):
    root.mkdir()
    settings = TDDFTSettings(response_grid_level=None)
    authors = ResultStore(root / "authors_emission.json")
    authors.put(_dimer(2.6), fake_excitations(_dimer(2.6), settings), group=7)
    design = ResultStore(root / "design_region.json")
    for k, d in enumerate((2.5, 2.7)):
        design.put(_dimer(d), fake_excitations(_dimer(d)), set="design-region", dot="CdSe", edge_angstrom=4.0, n_movable=1)
    rand = ResultStore(root / "random.json")
    rand.put(_dimer(2.8), fake_excitations(_dimer(2.8)), set="random", geometry="S0", seed=0, index=3)
    return root


def test_roles_follow_the_geometry():
    assert tddft_data.role_of({"set": "design-region"}) == "absorption+emission"
    assert tddft_data.role_of({"set": "authors", "geometry": "S1"}) == "emission"
    assert tddft_data.role_of({"set": "random", "geometry": "S0"}) == "absorption"
    with pytest.raises(ValueError, match="role"):
        tddft_data.make_entry(_dimer(2.6), fake_excitations(_dimer(2.6)), "fluorescence")


def test_write_and_load_round_trip(tmp_path):
    entries = tddft_data.collect_entries(_stores(tmp_path / "stores"))
    assert sorted(e.info["set"] for e in entries) == ["authors", "design-region", "design-region", "random"]
    counts = tddft_data.write_tddft_dataset(entries, tmp_path / "out")
    assert counts == {"reproduction/structures.extxyz": 4, "reproduction/spectra_absorption.csv": 3,
                      "reproduction/spectra_emission.csv": 3}
    ds = tddft_data.load_tddft_dataset(tmp_path / "out")
    assert len(ds.entries) == 4
    authors = ds.select(set="authors")[0]
    assert authors.info["group"] == 7 and authors.info["role"] == "emission"
    assert authors.info["response_grid_level"] == authors.info["grid_level"] == 3  # None is written as "the SCF grid"
    for e in ds.entries:  # provenance on every frame
        for key in ("id", "composition", "xc", "basis", "n_states", "backend", "wall_time_s", "version_pyscf"):
            assert key in e.info, key
    for kind in ("absorption", "emission"):  # every stored spectrum re-broadens from the stored excitations
        ids, Y = ds.spectra[kind]
        assert Y.shape == (len(ids), 500)
        np.testing.assert_array_equal(ds.wavelength_nm[kind], spectra.wavelength_grid(kind))
        by_id = {e.info["id"]: e for e in ds.entries}
        for i, y in zip(ids, Y):
            exc = tddft_data.entry_excitations(by_id[i])
            np.testing.assert_allclose(exc.spectrum(kind), y, rtol=1e-5, atol=1e-6 * y.max())
    original = {e.info["id"]: e for e in entries}
    for e in ds.entries:  # the frame restores the excitations and their settings exactly
        a, b = tddft_data.entry_excitations(e), tddft_data.entry_excitations(original[e.info["id"]])
        assert a.settings == b.settings and a.versions == b.versions and a.transitions == b.transitions and a.start == b.start
        np.testing.assert_array_equal(a.energies_ev, b.energies_ev)
        np.testing.assert_array_equal(e.positions, original[e.info["id"]].positions)
    assert sum(bool(tddft_data.entry_excitations(e).transitions) for e in ds.entries) == 3  # the 2.8 Å dimer has none
    assert sorted(tddft_data.entry_excitations(e).start for e in ds.entries) == ["", "default", "default", "default"]
    X, Y, frames = ds.training_set("emission")
    assert X.shape == (3, 900) and Y.shape == (3, 500) and {f.info["role"] for f in frames} <= {"emission", "absorption+emission"}


def test_duplicates_and_mismatched_files_are_refused(tmp_path):
    entries = tddft_data.collect_entries(_stores(tmp_path / "stores"))
    with pytest.raises(ValueError, match="duplicate"):
        tddft_data.write_tddft_dataset(entries + entries[:1], tmp_path / "dup")
    tddft_data.write_tddft_dataset(entries, tmp_path / "out")
    csv = tmp_path / "out" / "reproduction" / "spectra_emission.csv"
    csv.write_text(csv.read_text() + "ffffffffffffffffffffffff" + ",0" * 500 + "\n")
    with pytest.raises(DataFileError, match="not in structures.extxyz"):
        tddft_data.load_tddft_dataset(tmp_path / "out")
    (tmp_path / "out" / "reproduction" / "structures.extxyz").write_text("3\nnot an extxyz header\nCd 0 0\n")
    with pytest.raises(DataFileError, match="cannot read"):
        tddft_data.load_tddft_dataset(tmp_path / "out")


def test_cli_export(tmp_path, capsys):
    stores = _stores(tmp_path / "stores")
    assert main(["export-dataset", "--stores", str(stores), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "reproduction/structures.extxyz: 4 rows" in out
    assert "qdlib reproduce --only 01 02 03 04" in out  # the notebooks to execute again after a release
    assert len(tddft_data.load_tddft_dataset(tmp_path / "out").entries) == 4


def test_an_authors_structure_enters_once_preferring_the_paper_settings(tmp_path):
    root = tmp_path / "stores"
    root.mkdir()
    store = ResultStore(root / "authors_absorption.json")
    store.put(_dimer(2.6), fake_excitations(_dimer(2.6), TDDFTSettings(response_grid_level=1)), group=3)
    store.put(_dimer(2.6), fake_excitations(_dimer(2.6), TDDFTSettings()), group=3)
    store.put(_dimer(2.7), fake_excitations(_dimer(2.7), TDDFTSettings(response_grid_level=1)), group=4)
    entries = tddft_data.collect_entries(root)
    assert sorted((e.info["group"], e.info["response_grid_level"]) for e in entries) == [(3, 0), (4, 1)]


def test_authors_job_skips_structures_done_on_another_response_grid_only(tmp_path):
    from qdlib.tddft_data import stored_authors_groups

    path = tmp_path / "authors_absorption.json"
    assert stored_authors_groups(str(path), "absorption") == set()
    store = ResultStore(path)
    store.put(_dimer(2.6), fake_excitations(_dimer(2.6), TDDFTSettings(response_grid_level=1)), group=3)
    store.put(_dimer(2.7), fake_excitations(_dimer(2.7), TDDFTSettings(xc="b3lyp")), group=4)
    store.put(_dimer(2.8), fake_excitations(_dimer(2.8), TDDFTSettings()), group=5)
    assert stored_authors_groups(str(path), "absorption") == {3, 5}


def test_transitions_text_round_trip():
    states = [[(0, 0, 0.9213), (1, 0, 0.0512)], [(0, 1, 0.88)]]
    text = tddft_data.encode_transitions(states)
    assert text == "0,0,0.9213;1,0,0.0512|0,1,0.8800" and text.isascii()
    assert tddft_data.decode_transitions(text) == states
    assert tddft_data.decode_transitions(tddft_data.encode_transitions([])) == []


def test_random_frames_that_reached_one_minimum_are_marked(tmp_path):
    """Two random starts relaxed to one minimum (turned and moved): the later frame points at the earlier."""
    rand = ResultStore(tmp_path / "random.json")
    same = Atoms("CdSe", positions=[[1.0, 1.0, 1.0], [1.0, 3.8, 1.0]])  # the 2.8 Å dimer, turned and moved
    for seed, index, atoms in ((0, 3, _dimer(2.8)), (1, 0, same), (0, 7, _dimer(2.9))):  # a later seed repeats too
        rand.put(atoms, fake_excitations(atoms), set="random", geometry="S0", seed=seed, index=index)
    entries = {e.info["index"]: e for e in tddft_data.collect_entries(tmp_path)}
    assert entries[0].info["same_minimum_as"] == entries[3].info["id"]
    assert "same_minimum_as" not in entries[3].info and "same_minimum_as" not in entries[7].info
    tddft_data.write_tddft_dataset(list(entries.values()), tmp_path / "out")
    back = {e.info["index"]: e for e in tddft_data.load_tddft_dataset(tmp_path / "out", verify=False).entries}
    assert back[0].info["same_minimum_as"] == entries[3].info["id"]


def test_cli_export_releases_the_finished_campaign_logs_and_drops_stale_ones(tmp_path, capsys):
    from qdlib.campaign.results import _toy_call

    stores = _stores(tmp_path / "stores")
    work, out = stores / "campaigns", tmp_path / "released"
    work.mkdir()
    done = [_toy_call(0, False), _toy_call(1, True)]
    (work / "D_4A_1_T0_al_s0.jsonl").write_text("".join(r.to_json() + "\n" for r in done))
    (work / "D_4A_1_T0_al_s1.jsonl").write_text(_toy_call(0, False).to_json() + "\n")  # still running
    out.mkdir()
    (out / "D_4A_1_T0_al_s1.jsonl").write_text("an earlier run, since restarted\n")
    (out / "D_4A_1_T0_al_s2.jsonl").write_text("a campaign whose working log was removed\n")
    args = ["export-dataset", "--stores", str(stores), "--out", str(tmp_path / "out"), "--campaigns-out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert sorted(p.name for p in out.glob("*.jsonl")) == ["D_4A_1_T0_al_s0.jsonl"]
    assert "held back (still running" in printed and "removed from the release" in printed


def test_parts_are_written_apart_and_read_together(tmp_path):
    entries = tddft_data.collect_entries(_stores(tmp_path / "stores"))
    entries[0].info["set"] = "campaign"  # a design campaign's call goes to a part of its own
    counts = tddft_data.write_tddft_dataset(entries, tmp_path / "out")
    assert counts["campaign/structures.extxyz"] == 1 and counts["reproduction/structures.extxyz"] == 3
    assert len(tddft_data.load_tddft_dataset(tmp_path / "out").entries) == 4
    only = tddft_data.load_tddft_dataset(tmp_path / "out", parts=["campaign"])
    assert [e.info["set"] for e in only.entries] == ["campaign"]
    with pytest.raises(DataFileError, match="no part"):
        tddft_data.load_tddft_dataset(tmp_path / "out", parts=["library"])

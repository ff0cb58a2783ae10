"""qdlib.library.members: the library's members checked, ranked and released through the registry."""

import pytest

from qdlib import library


def test_members_are_checked_ranked_and_released_through_the_registry(tmp_path, monkeypatch):
    from qdlib.datasets import DataFileError
    from qdlib.library.members import load_members, select_members, write_members
    from qdlib.release import update_registry

    result = library.ClusterSearch(library.SearchConfig("Cd2Se1Te1", method="random", budget=6), tmp_path / "s").run()
    members = select_members(result.minima, "Cd2Se1Te1", window_ev=1.0)
    assert members and [m.info["isomer"] for m in members] == [f"Cd2Se1Te1-{i:02d}" for i in range(len(members))]
    e = [m.info["e_above_ev"] for m in members]
    assert e[0] == 0.0 and e == sorted(e) and e[-1] <= 1.0
    assert sum(m.info["n_found"] for m in members) <= len(result.minima)
    assert all(m.info["lowest_freq_cm1"] >= -library.RelaxSettings().imaginary_tol_cm1 for m in members)
    assert len(library.unique_minima(members)) == len(members)  # distinct
    monkeypatch.setenv("QDLIB_RELEASE_DIR", str(tmp_path / "data"))
    write_members(members, tmp_path / "data" / "library")
    update_registry(tmp_path / "data")
    loaded = load_members()
    assert [m.info["isomer"] for m in loaded] == [m.info["isomer"] for m in members]
    path = tmp_path / "data" / "library" / "Cd2Se1Te1.extxyz"
    path.write_text(path.read_text().replace("Cd2Se1Te1-00", "Cd2Se1Te1-99"))
    with pytest.raises(DataFileError, match="registry"):
        load_members()

"""Every released file in data/ is listed in data/registry.txt with its SHA-256, and vice versa.

Result stores (``data/stores/*.db``, working SQLite databases that grow as background runs finish)
are not released files and are not listed.
"""

import hashlib

from qdlib.paths import data_dir
import pytest

from qdlib.datasets import DataFileError
from qdlib.release import read_registry, released_files, update_registry, verified_path


def test_registry_matches_files():
    entries = read_registry()
    files = {str(p.relative_to(data_dir())) for p in released_files()}
    assert set(entries) == files
    for name, digest in entries.items():
        assert hashlib.sha256((data_dir() / name).read_bytes()).hexdigest() == digest, name


def test_update_registry(tmp_path):
    (tmp_path / "registry.txt").write_text("")
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    (tmp_path / "stores").mkdir()
    (tmp_path / "stores" / "work.db").write_bytes(b"x")
    entries = update_registry(tmp_path)
    assert entries == {"table.csv": hashlib.sha256(b"a,b\n1,2\n").hexdigest()}
    assert read_registry(tmp_path) == entries


def test_verified_path_catches_missing_unlisted_and_corrupt(tmp_path):
    (tmp_path / "registry.txt").write_text("")
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataFileError, match="not a released file"):
        verified_path("table.csv", tmp_path)
    update_registry(tmp_path)
    assert verified_path("table.csv", tmp_path) == tmp_path / "table.csv"
    (tmp_path / "table.csv").write_text("a,b\n1,3\n")
    with pytest.raises(DataFileError, match="does not match the registry"):
        verified_path("table.csv", tmp_path)
    (tmp_path / "table.csv").unlink()
    with pytest.raises(DataFileError, match="missing"):
        verified_path("table.csv", tmp_path)


def test_released_tddft_dataset_is_complete_and_consistent():
    """The committed data/tddft: counts agree across files, provenance on every frame, spectra re-broaden."""
    import numpy as np

    from qdlib import generate, tddft_data

    ds = tddft_data.load_tddft_dataset()  # hash-checked against the registry
    assert len(ds.entries) > 0
    ids = [e.info["id"] for e in ds.entries]
    assert len(set(ids)) == len(ids)
    for kind in ("absorption", "emission"):
        expected = {e.info["id"] for e in ds.entries if kind in tddft_data.ROLES[e.info["role"]]}
        assert set(ds.spectra[kind][0]) == expected
        assert ds.spectra[kind][1].shape == (len(expected), 500)
    for e in ds.entries:
        for key in ("set", "role", "composition", "energies_ev", "osc_strengths", "xc", "basis", "ecp", "n_states",
                    "grid_level", "response_grid_level", "tda", "backend", "wall_time_s", "version_pyscf", "version_qdlib"):
            assert key in e.info, (e.info["id"], key)
        assert e.info["xc"] == "camb3lyp" and e.info["basis"] == "lanl2dz"
        fallback = "tda-fallback" in e.info["scf_strategy"]  # full TDDFT asked, Tamm-Dancoff computed
        covering = "cover_nm" in e.info  # states solved for until a window was covered: asked under a key of its own
        assert bool(e.info["tda"]) == fallback and ("store_key" in e.info) == (fallback or covering), e.info["id"]
        if covering:
            assert ":cover" in e.info["store_key"]
            assert bool(e.info["covered"]) == (np.min(1239.841984 / np.atleast_1d(e.info["energies_ev"])) <= e.info["cover_nm"])
        assert np.atleast_1d(e.info["energies_ev"]).shape == (e.info["n_states"],)
    authors = ds.select(set="authors")
    known = {(a.info["geometry"], a.info["group"]) for k in ("absorption", "emission") for a in generate.authors_structures(k)}
    assert all((e.info["geometry"], e.info["group"]) in known for e in authors)
    rng = np.random.default_rng(0)
    by_id = dict(zip(ids, ds.entries))
    for kind in ("absorption", "emission"):
        kind_ids, Y = ds.spectra[kind]
        for k in rng.choice(len(kind_ids), size=min(5, len(kind_ids)), replace=False):
            again = tddft_data.entry_excitations(by_id[kind_ids[k]]).spectrum(kind)
            np.testing.assert_allclose(again, Y[k], rtol=1e-5, atol=1e-6 * Y[k].max())

import functools
import hashlib
import http.server
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from qdlib import authors_files, datasets
from qdlib.datasets import DataFileError
from qdlib.features import coulomb_matrix


def test_absorption_set():
    ds = datasets.fetch_paper_dataset("absorption")
    assert ds.X.shape == (240, 900) and ds.Y.shape == (240, 500)
    assert len(ds.structures) == 42 and ds.rejected == {}
    sizes = np.bincount(ds.row_group)
    assert sorted(set(sizes.tolist())) == [4, 8]
    # binary dots have 4 permutation twins, ternary ones 4 or 8
    for s in ds.structures:
        if len(set(s.get_chemical_symbols())) == 2:
            assert sizes[s.info["group"]] == 4
        assert s.info["embedding_error_angstrom"] < 1e-10
    assert np.sum(sizes == 8) == 18
    np.testing.assert_array_equal(ds.Y, ds.spectra[ds.row_group])
    peaks = ds.wavelength_nm[np.argmax(ds.spectra, axis=1)]
    assert 320 < peaks.min() and peaks.max() < 580


def test_emission_set_drops_the_detached_atom_dot():
    ds = datasets.fetch_paper_dataset("emission")
    assert sorted(ds.rejected) == list(range(80, 88))
    assert all("no neighbour" in why for why in ds.rejected.values())
    assert ds.X.shape == (200, 900) and len(ds.structures) == 35
    assert 80 not in ds.row_index
    comps = {s.info["composition"] for s in ds.structures}
    assert "Cd9Se7Te2" not in comps and "Cd6Se6Te0" in comps


def test_structures_are_physical():
    for kind in ("absorption", "emission"):
        for s in datasets.fetch_paper_dataset(kind).structures:
            d = np.linalg.norm(s.positions[:, None] - s.positions[None], axis=-1)
            np.fill_diagonal(d, np.inf)
            assert 2.2 < d.min() and d.min(axis=1).max() < 3.5, s.info["composition"]


@pytest.mark.parametrize("name", list(datasets.BENCHMARK_DOTS))
def test_benchmark_dots(name):
    dot = datasets.fetch_benchmark_dot(name, n_movable=3)
    assert dot.info["name"] == name
    symbols = dot.get_chemical_symbols()
    assert all(symbols[i] == "Cd" for i in dot.info["movable"])
    last_cd = max(i for i, s in enumerate(symbols) if s == "Cd")
    assert dot.info["movable"][0] == last_cd
    assert dot.info["spectrum_absorption"].shape == (500,)
    # the geometry is the one behind the authors' absorption row of that composition
    ds = datasets.fetch_paper_dataset("absorption")
    ref = ds.structure(name)
    ev = lambda a: np.sort(np.linalg.eigvalsh(coulomb_matrix(a.numbers, a.positions)))  # noqa: E731
    np.testing.assert_allclose(ev(dot), ev(ref), atol=1e-4)
    np.testing.assert_allclose(dot.info["spectrum_absorption"], ds.spectra[ref.info["group"]], atol=1e-6)


def test_cd6se6_is_the_authors_design_file():
    dot = datasets.fetch_benchmark_dot("Cd6Se6")
    assert dot.get_chemical_symbols() == ["Se"] * 6 + ["Cd"] * 6
    assert dot.info["movable"] == [11]
    np.testing.assert_allclose(dot.positions[11], [-0.754143, 2.108214, 3.345371])
    peak = dot.info["spectrum_absorption"].argmax()
    assert datasets.fetch_wavelength_grid("absorption")[peak] == pytest.approx(374.4)


def test_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        datasets.fetch_paper_dataset("raman")
    with pytest.raises(ValueError, match="unknown benchmark"):
        datasets.fetch_benchmark_dot("Cd7Se7")
    with pytest.raises(ValueError, match="n_movable"):
        datasets.fetch_benchmark_dot("Cd4Se4", n_movable=5)
    with pytest.raises(KeyError):
        datasets.fetch_paper_dataset("absorption").structure("Cd2Se2")
    with pytest.raises(DataFileError, match="not in the registry"):
        datasets.fetch_file("README.md")


# --- the download path, served from 127.0.0.1 -------------------------------------------


@pytest.fixture
def http_mirror(tmp_path):
    """A copy of the authors' files served over HTTP on 127.0.0.1; yields (base_url, folder)."""
    src = Path(datasets.PAPER_DATA.abspath)
    root = tmp_path / "served"
    for name in datasets.PAPER_DATA.registry:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src / name, root / name)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests_seen: list[str] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        _QuietHandler.requests_seen.append(self.path)
        super().do_GET()


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setattr(datasets.PAPER_DATA, "path", cache)
    return cache


def test_download_through_the_registry(http_mirror, empty_cache, monkeypatch):
    base_url, _ = http_mirror
    monkeypatch.setattr(datasets.PAPER_DATA, "base_url", base_url)
    _QuietHandler.requests_seen.clear()
    ds = datasets.fetch_paper_dataset("absorption")
    assert len(ds.structures) == 42
    name = "Machine_learning/dataset/RCM_input_data.csv"
    assert f"/{name}" in _QuietHandler.requests_seen
    local = empty_cache / name
    digest = hashlib.sha256(local.read_bytes()).hexdigest()
    assert datasets.PAPER_DATA.registry[name] == f"sha256:{digest}"
    # a second fetch is served from the cache
    _QuietHandler.requests_seen.clear()
    datasets.fetch_paper_dataset("absorption")
    assert _QuietHandler.requests_seen == []


def test_corrupt_download_is_a_clear_error(http_mirror, empty_cache, monkeypatch):
    base_url, root = http_mirror
    monkeypatch.setattr(datasets.PAPER_DATA, "base_url", base_url)
    name = "Machine_learning/dataset/RCM_label_data.csv"
    data = bytearray((root / name).read_bytes())
    data[100:105] = b"99999"
    (root / name).write_bytes(bytes(data))
    with pytest.raises(DataFileError, match="RCM_label_data.csv") as err:
        datasets.fetch_paper_dataset("absorption")
    assert "SHA256" in str(err.value) or "hash" in str(err.value).lower()
    assert not (empty_cache / name).exists()  # nothing unverified is kept


def test_corrupt_cached_copy_without_network(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    name = "Reinforcement_learning/Cd6Se6/Cd6Se6_abs.csv"
    (cache / name).parent.mkdir(parents=True)
    (cache / name).write_text("atom,atomnum,X,Y,Z,label\nSe,34,0,0,0,0\n")
    monkeypatch.setattr(datasets.PAPER_DATA, "path", cache)
    monkeypatch.setattr(datasets.PAPER_DATA, "base_url", "http://127.0.0.1:9/")  # discard port: refused
    monkeypatch.setattr(datasets.PAPER_DATA, "retry_if_failed", 0)
    with pytest.raises(DataFileError, match="QDLIB_DATA_DIR"):
        datasets.fetch_benchmark_dot("Cd6Se6")


def test_mismatched_file_shape(tmp_path, monkeypatch):
    """A file that passes its hash but has the wrong shape (a registry edited by hand) is refused."""
    cache = tmp_path / "cache"
    name = "Machine_learning/dataset/RCM_label_data.csv"
    path = cache / name
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(",".join(["1.0"] * 499) for _ in range(3)))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setattr(datasets.PAPER_DATA, "path", cache)
    monkeypatch.setitem(datasets.PAPER_DATA.registry, name, f"sha256:{digest}")
    with pytest.raises(DataFileError, match="499 columns, expected 500"):
        authors_files._load_matrix(name, 500)

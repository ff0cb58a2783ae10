"""Validation of designers (notebook 04) and the sensitivity curve (notebook 05)."""

import numpy as np
import pytest
import torch

from qdlib.agents import Case, run_cases
from qdlib.ddpg import DDPGConfig
from qdlib.design import benchmark_target
from qdlib.spectra import broaden, wavelength_grid
from qdlib.store import ResultStore
from qdlib.validation import (
    SensitivityCurve,
    design_frames,
    equivalent_distance,
    sensitivity_curve,
    spectrum_peak,
    tddft_peaks,
    validate_case,
)
from tests.fakes import fake_excitations


def test_spectrum_peak_finds_the_line_and_calls_dark_spectra_nan():
    grid = wavelength_grid("absorption")
    y = broaden(np.array([455.0]), np.array([0.3]), grid)
    assert spectrum_peak(y, "absorption") == pytest.approx(455.0, abs=0.5)
    both = spectrum_peak(np.stack([y, np.zeros_like(y)]), "absorption")
    assert both[0] == pytest.approx(455.0, abs=0.5) and np.isnan(both[1])


def test_sensitivity_curve_means_and_max_per_distance():
    d = [0.0, 0.2, 0.2, 0.4, 0.4, 1.0, 1.0]
    dev = [0.0, -4.0, 6.0, 10.0, np.nan, -100.0, 300.0]
    c = sensitivity_curve(d, dev)
    np.testing.assert_allclose(c.distance_angstrom, [0, 0.2, 0.4, 1.0])
    np.testing.assert_allclose(c.mean_nm, [0, 5, 10, 200])
    np.testing.assert_allclose(c.max_nm, [0, 6, 10, 300])
    np.testing.assert_array_equal(c.n, [1, 2, 1, 2])


def test_equivalent_distance_inverts_the_curve_and_refuses_to_extrapolate():
    c = SensitivityCurve(np.array([0, 0.2, 0.4, 0.7, 1.0]), np.array([0, 5, 4, 60, 200.0]), np.zeros(5), np.ones(5, int))
    assert equivalent_distance(5.0, c) == pytest.approx(0.2)
    assert equivalent_distance(-32.5, c) == pytest.approx(0.2 + 0.5 * 0.5)  # a dip (4 nm at 0.4 Å) is not a second root
    np.testing.assert_allclose(equivalent_distance([0.0, 130.0], c), [0.0, 0.85])
    assert np.isnan(equivalent_distance(250.0, c))


@pytest.fixture(scope="module")
def tiny_agent(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("agents")
    case = Case("absorption", "Cd4Se4", 4.0, 2)
    cfg = DDPGConfig(n_envs=8, eval_every=64, eval_starts=10, max_env_steps=256, total_episodes=10**6, learning_starts=64, batch_size=32)
    run_cases([case], cfg, model="ML-NN", root=root, progress=False)
    return case, root


def test_validate_case_is_seeded_and_consistent(tiny_agent):
    case, root = tiny_agent
    v = validate_case(case, n_starts=12, seed=3, root=root)
    assert v.designs.shape == v.starts.shape == (12, 2, 3)
    atoms, target = benchmark_target("Cd4Se4", "absorption", 2)
    np.testing.assert_allclose(v.true_positions, atoms.positions[atoms.info["movable"]], atol=1e-5)
    assert v.target_peak_nm == pytest.approx(spectrum_peak(target, "absorption"))
    assert np.all(np.abs(v.starts - v.true_positions) <= 2.0 + 1e-5)
    expected = np.linalg.norm(v.designs - v.true_positions, axis=-1).mean(axis=-1)
    np.testing.assert_allclose(v.position_error_angstrom, expected)
    assert (v.loss[v.success] < 0.122).all()  # successes are below the threshold
    s = v.summary()
    assert s["n"] == 12 and s["success_rate"] == v.success.mean()
    again = validate_case(case, n_starts=12, seed=3, root=root)
    np.testing.assert_array_equal(again.designs, v.designs)
    other = validate_case(case, n_starts=12, seed=4, root=root)
    assert not np.array_equal(other.starts, v.starts)


def test_design_frames_put_designs_into_the_dot_and_tddft_peaks_read_the_store(tiny_agent, tmp_path):
    case, root = tiny_agent
    v = validate_case(case, n_starts=4, seed=0, root=root)
    frames = design_frames(v, [1, 3])
    atoms, _ = benchmark_target("Cd4Se4", "absorption", 2)
    mov = atoms.info["movable"]
    for f, i in zip(frames, [1, 3]):
        np.testing.assert_allclose(f.positions[mov], v.designs[i])
        assert np.allclose(np.delete(f.positions, mov, axis=0), np.delete(atoms.positions, mov, axis=0))
        assert f.info == dict(set="validation", kind="absorption", dot="Cd4Se4", edge_angstrom=4.0, n_movable=2, start_index=i)
    store = ResultStore(tmp_path / "v.db")
    exc = fake_excitations(frames[0])
    store.put(frames[0], exc, **frames[0].info)
    peaks = tddft_peaks(frames, store, "absorption")
    assert peaks[0] == pytest.approx(spectrum_peak(exc.spectrum("absorption"), "absorption")) and np.isnan(peaks[1])


def test_tddft_peaks_read_the_released_dataset_like_a_store():
    from qdlib.tddft_data import entry_excitations, load_tddft_dataset

    ds = load_tddft_dataset()
    frames = ds.select(set="design-region")
    peaks = tddft_peaks(frames, ds, "absorption")
    expected = [spectrum_peak(entry_excitations(f).spectrum("absorption"), "absorption") for f in frames]
    np.testing.assert_allclose(peaks, expected, equal_nan=True)
    assert np.isfinite(peaks).sum() >= 1
    moved = frames[0].copy()
    moved.positions[0] += 0.01
    assert ds.get(moved) is None

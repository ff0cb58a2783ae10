"""Deploying designers (notebook 04), TD-DFT lookups of their designs, and the sensitivity curve (notebook 05)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from qdlib.agents import Case, run_cases, validate_case
from qdlib.ddpg import DDPGConfig
from qdlib.design import benchmark_target
from qdlib.qchem import TDDFTSettings
from qdlib.references import recompute_stored, tddft_peaks, tddft_spectra
from qdlib.sensitivity import SensitivityCurve, equivalent_distance, sensitivity_curve, sweep_deviations
from qdlib.spectra import broaden, spectrum_peak, wavelength_grid
from qdlib.store import ResultStore
from qdlib.verification import design_frames, recheck
from tests import fakes
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


def test_a_start_the_forward_model_accepts_is_returned_unmoved(tiny_agent):
    case, root = tiny_agent
    v = validate_case(case, n_starts=12, seed=3, root=root)
    changed = np.abs(v.designs - v.starts).reshape(12, -1).max(axis=1) > 1e-9
    np.testing.assert_array_equal(v.moved, changed)
    assert not v.moved[v.start_success].any()  # an accepted start ends its episode before the first step
    v.designs[0] = v.starts[0]
    assert not v.moved[0]


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


def test_sweep_deviations_are_relative_to_the_reference_and_need_it(tmp_path):
    from qdlib.generate import sensitivity_set
    frames = sensitivity_set("Cd6Se6", (0.2, 1.0), (1,), n_directions=1)
    store = ResultStore(tmp_path / "s.db")
    for f in frames[1:]:
        store.put(f, fake_excitations(f))
    with pytest.raises(ValueError, match="reference"):
        sweep_deviations(frames, store)
    store.put(frames[0], fake_excitations(frames[0]))
    d, dev, n = sweep_deviations(frames, store)
    peaks = tddft_peaks(frames, store, "absorption")
    np.testing.assert_array_equal(d, [0.2, 1.0])
    np.testing.assert_allclose(dev, peaks[1:] - peaks[0])
    np.testing.assert_array_equal(n, [1, 1])
    assert np.all(np.abs(dev) > 0)  # the fake's lines move with the geometry


def test_recompute_stored_compares_a_rerun_with_the_store(tmp_path, monkeypatch):
    import qdlib.qchem
    atoms, _ = benchmark_target("Cd4Se4", "absorption", 1)
    store = ResultStore(tmp_path / "r.db")
    with pytest.raises(KeyError, match="no stored result"):
        recompute_stored(atoms, store)
    store.put(atoms, fake_excitations(atoms))
    monkeypatch.setattr(qdlib.qchem, "excitations", fake_excitations)
    same = recompute_stored(atoms, store)
    assert same["max_abs_energy_ev"] == 0 and same["peak_nm"] == 0
    stretched = atoms.copy()
    stretched.positions *= 1.01
    monkeypatch.setattr(qdlib.qchem, "excitations", lambda a, s=None, o=None: fake_excitations(stretched))
    assert recompute_stored(atoms, store)["max_abs_energy_ev"] > 0
    spec = tddft_spectra([atoms, stretched], tmp_path / "r.db", "absorption")
    assert spec.shape == (2, 500) and np.isfinite(spec[0]).all() and np.isnan(spec[1]).all()


def test_recheck_judges_designs_by_their_stored_tddft_spectra(tiny_agent, tmp_path):
    from qdlib.qchem import TDDFTSettings
    from qdlib.verdict import Target, Window

    case, root = tiny_agent
    v = validate_case(case, n_starts=6, seed=1, root=root)
    window = Window("absorption", 400.0, 798.4)
    reference = fake_excitations(benchmark_target(case.dot, case.kind, case.n_movable)[0], TDDFTSettings(n_states=10))
    target = Target("absorption", reference.spectrum("absorption"), window, reference.e_tot_hartree)
    frames = design_frames(v, range(4), window)
    assert all(f.info["cover_nm"] == round(window.cover_nm, 2) for f in frames)
    store = ResultStore(tmp_path / "v.db")
    for f in frames[:2]:
        store.put(f, fake_excitations(f, TDDFTSettings(n_states=10)), **f.info)
    elsewhere = frames[3].copy()  # start 2 labelled, but designed somewhere else (another seed or agent)
    elsewhere.info = {**frames[2].info}
    elsewhere.positions[benchmark_target(case.dot, case.kind, case.n_movable)[0].info["movable"]] += 0.01
    store.put(elsewhere, fake_excitations(elsewhere, TDDFTSettings(n_states=10)), **elsewhere.info)
    six_states = design_frames(v, [3])[0]  # a six-state result without the window's label is not looked at
    store.put(six_states, fake_excitations(six_states), **six_states.info)
    r = recheck(v, store, target, n=4)
    assert list(r.status) == ["valid", "valid", "missing", "missing"]
    assert r.frames[2] is None and np.allclose(r.frames[1].positions, frames[1].positions, atol=1e-5)
    assert np.isnan(r.loss[2]) and not r.success[2]
    tight, loose = recheck(v, store, target, n=3, threshold=0.0), recheck(v, store, target, n=3, threshold=1e9)
    assert not tight.success.any() and loose.success.tolist() == [True, True, False]
    s = loose.summary()
    assert s["n"] == 2 and s["tddft_success"] == 2 and s["ci_high"] == 1.0 and 0.15 < s["ci_low"] < 0.5
    assert s["false_success"] == 0 and s["missed_success"] == int((~v.success[:2]).sum())
    assert s["unmoved"] == int((~v.moved[:2]).sum())
    v.starts[:2] = v.designs[:2] + np.array([0.0, 0.3])[:, None, None]  # design 0 left where it started, design 1 moved
    assert v.moved[:2].tolist() == [False, True]
    assert recheck(v, store, target, n=3, threshold=1e9).summary()["unmoved"] == 1
    # energies above the reference (fake: minus the first-to-last atom distance, in hartree)
    np.testing.assert_allclose(r.energy_above_reference_ev[:2], [(fake_excitations(f).e_tot_hartree - reference.e_tot_hartree)
                                                                 * 27.211386245988 for f in frames[:2]])  # fmt: skip


def _captured_compute_set(monkeypatch):
    from qdlib import cli
    from qdlib.cli import tddft

    seen = {}

    def capture(geoms, args, store, labels):
        seen.update(geoms=geoms, store=store, labels=[labels(g) for g in geoms])
        return 0

    monkeypatch.setattr(tddft, "_compute_set", capture)
    return cli, seen


def test_sensitivity_cli_labels_the_sweep(monkeypatch):
    cli, seen = _captured_compute_set(monkeypatch)
    assert cli.main(["sensitivity", "--distances", "0.3", "--atoms", "2", "--n-directions", "2"]) == 0
    from qdlib.paths import store_path

    assert seen["store"] == store_path("sensitivity") and len(seen["geoms"]) == 3
    assert [lab["distance_angstrom"] for lab in seen["labels"]] == [0.0, 0.3, 0.3]
    assert [lab["direction_index"] for lab in seen["labels"]] == [0, 0, 1]


def test_verify_cli_judges_designs_and_pso_designs_into_a_store(monkeypatch, tmp_path, capsys):
    import qdlib.pso
    from qdlib import cli, qchem, spectra
    from qdlib.pso import PSOResult
    from qdlib.qchem import Excitations, TDDFTSettings
    from qdlib.store import ResultStore

    def fake(atoms, settings=TDDFTSettings(), options=None, cover_nm=None, max_states=40):
        lam = np.array([560.0, 532.4, 450.0, 400.0, 360.0])  # covers Cd5Te5's window (to 364.8 nm)
        n = lam.size
        return Excitations(spectra.nm_to_ev(lam), np.array([0.0, 0.1, 0.0, 0.01, 0.01]), -10.0, np.ones(n, bool), "diis",
                           TDDFTSettings(n_states=n), "cpu", 1.0)  # fmt: skip

    monkeypatch.setattr(qchem, "excitations", fake)
    monkeypatch.setattr(qdlib.pso, "pso", lambda task, cfg: PSOResult(task.centre.numpy() + 0.1 * (cfg.seed + 1), 0.0, np.zeros(1), 0, 0, 0.0))
    store = tmp_path / "verdicts.json"
    args = ["verify", "--dots", "Cd5Te5", "--edges", "4", "--atoms", "1", "2", "--n-starts", "5", "--n-valid", "1",
            "--pso-designs", "1", "--store", str(store)]  # fmt: skip
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "absorption/Cd5Te5_4A_1" in out and "1/1 = 1.00" in out  # the fake is the target itself: a success
    rows = [kv for _, _, kv in ResultStore(store).select()]
    assert {kv["set"] for kv in rows} == {"reference", "validation", "pso"} and all(kv["covered"] for kv in rows)
    assert sum(kv["set"] == "validation" for kv in rows) == 2 and sum(kv["set"] == "pso" for kv in rows) == 2


def _movable_of(v):
    return benchmark_target(v.case.dot, v.case.kind, v.case.n_movable)[0].info["movable"]


def test_min_distance_of_designs_counts_overlaps(tiny_agent):
    case, root = tiny_agent
    v = validate_case(case, n_starts=6, seed=0, root=root)
    for i, f in enumerate(design_frames(v)):
        d = f.get_all_distances()
        mov = benchmark_target(case.dot, case.kind, case.n_movable)[0].info["movable"]
        d[np.arange(len(f)), np.arange(len(f))] = np.inf
        assert v.min_distance_angstrom[i] == pytest.approx(d[mov].min())
    v.designs[0, 0] = v.designs[0, 1] + [0.5, 0.0, 0.0]  # two designed atoms 0.5 Å apart
    assert v.min_distance_angstrom[0] == pytest.approx(0.5)
    assert v.summary()["overlapping"] >= 1 / 6


def test_the_covered_sensitivity_sweep_starts_warm_from_the_undisplaced_dot(tmp_path, monkeypatch):
    """``qdlib sensitivity --cover --warm``: the reference's point is computed once, every geometry starts from it."""
    from qdlib import cli, qchem

    calls = []

    def recorder(atoms, settings=TDDFTSettings(), options=None, cover_nm=None, max_states=40, save_warm_start_to=None):
        calls.append((atoms.info.get("distance_angstrom"), options.warm_start if options else None, save_warm_start_to))
        if save_warm_start_to:
            Path(save_warm_start_to).parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("", ".xy.npz"):
                Path(save_warm_start_to + suffix).write_text("point")
        return fakes.toy_oracle(atoms, settings, options, cover_nm, max_states)

    monkeypatch.setattr(qchem, "excitations", recorder)
    args = ["sensitivity", "--dot", "Cd4Se4", "--cover", "--warm", "--distances", "0.1", "--atoms", "1", "--n-directions", "2",
            "--store", str(tmp_path / "s.json"), "--checkpoint-dir", str(tmp_path / "chk")]  # fmt: skip
    assert cli.main(args) == 0
    point = str(tmp_path / "chk" / "warm" / "Cd4Se4_absorption_cover355.84nm_max40.chk")
    assert calls[0] == (None, None, point)  # the undisplaced dot, solved once to make the point
    assert sorted(calls[1:]) == [(0.0, point, None), (0.1, point, None), (0.1, point, None)]  # the sweep, all warm
    calls.clear()
    assert cli.main(args) == 0 and calls == []  # a rerun: the point and every result are found


def test_two_callers_asking_for_one_warm_start_point_compute_it_once(tmp_path, monkeypatch):
    """The second caller waits under the point's lock while the first computes it, then reads it."""
    import threading
    import time

    from ase import Atoms

    from qdlib import qchem, references
    from qdlib.qchem import EngineOptions

    computed = []

    def slow_point(atoms, settings=None, options=None, cover_nm=None, max_states=40, save_warm_start_to=None):
        computed.append(save_warm_start_to)
        time.sleep(0.5)  # long enough that the second caller arrives while the first computes
        for suffix in ("", ".xy.npz"):
            Path(save_warm_start_to + suffix).write_text("point")

    monkeypatch.setattr(qchem, "excitations", slow_point)
    options = EngineOptions(checkpoint_dir=str(tmp_path))
    dimer, paths = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.55]]), []

    def ask():
        paths.append(references.warm_start_point(dimer, "CdSe", 300.0, options=options))

    callers = [threading.Thread(target=ask) for _ in range(2)]
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    assert len(computed) == 1 and paths == computed * 2

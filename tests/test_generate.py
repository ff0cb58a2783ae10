import numpy as np
import pytest

from qdlib.datasets import fetch_benchmark_dot
from qdlib.generate import design_region_set, sensitivity_set
from qdlib.structures import distances


def test_design_region_set_cases_bounds_and_prefix_stability():
    geoms = design_region_set(["Cd6Se6", "Cd4Se4"], n_per_dot=12, seed=1)
    assert len(geoms) == 24 and [g.info["dot"] for g in geoms] == ["Cd6Se6"] * 12 + ["Cd4Se4"] * 12
    cases = {(g.info["edge_angstrom"], g.info["n_movable"]) for g in geoms[:6]}
    assert cases == {(e, n) for e in (4.0, 10.0) for n in (1, 2, 3)}  # any 6 consecutive cover every case
    for g in geoms:
        ref = fetch_benchmark_dot(g.info["dot"], g.info["n_movable"])
        moved = g.info["movable"]
        assert moved == ref.info["movable"]
        delta = g.positions - ref.positions
        assert np.all(np.abs(delta[moved]) <= g.info["edge_angstrom"] / 2 + 1e-12)
        assert np.allclose(np.delete(delta, moved, axis=0), 0.0)  # the other atoms stay
        d = distances(g)
        np.fill_diagonal(d, np.inf)
        assert d.min() >= 1.5
        np.testing.assert_allclose(g.info["displacement_angstrom"], np.linalg.norm(delta[moved], axis=1))
    longer = design_region_set(["Cd6Se6"], n_per_dot=18, seed=1)
    for a, b in zip(geoms[:12], longer):
        np.testing.assert_array_equal(a.positions, b.positions)
    other = design_region_set(["Cd6Se6"], n_per_dot=12, seed=2)
    assert not np.array_equal(other[0].positions, geoms[0].positions)


def test_sensitivity_set_reference_first_then_every_distance_per_direction():
    geoms = sensitivity_set("Cd6Se6", (0.2, 1.0), (1, 3), n_directions=2)
    assert len(geoms) == 1 + 2 * 2 * 2
    ref = geoms[0]
    assert ref.info["distance_angstrom"] == 0.0 and ref.info["n_movable"] == 0
    np.testing.assert_array_equal(ref.positions, fetch_benchmark_dot("Cd6Se6").positions)
    first = {(g.info["n_movable"], g.info["distance_angstrom"]) for g in geoms[1:5]}
    assert first == {(n, d) for n in (1, 3) for d in (0.2, 1.0)} and {g.info["direction_index"] for g in geoms[1:5]} == {0}
    for g in geoms[1:]:
        moved = g.info["movable"]
        assert len(moved) == g.info["n_movable"]
        delta = g.positions - ref.positions
        np.testing.assert_allclose(np.linalg.norm(delta[moved], axis=1), g.info["distance_angstrom"], atol=1e-12)
        assert np.allclose(np.delete(delta, moved, axis=0), 0.0)
    again = sensitivity_set("Cd6Se6", (0.2, 1.0), (1, 3), n_directions=3)
    for a, b in zip(geoms, again):
        np.testing.assert_array_equal(a.positions, b.positions)  # more directions keep the earlier ones


def test_design_region_set_rejects_unknown_dot():
    with pytest.raises(ValueError, match="unknown benchmark dot"):
        design_region_set(["Cd99Se1"], n_per_dot=1)


# --- the random-structure pipeline ------------------------------------------------------------

import functools  # noqa: E402

from qdlib import generate  # noqa: E402
from qdlib.compute import relax_many  # noqa: E402
from qdlib.store import GeometryStore, ResultStore  # noqa: E402
from qdlib.structures import composition  # noqa: E402
from tests.fakes import fake_excitations  # noqa: E402


def test_random_structures_sizes_compositions_and_prefix_stability():
    geoms = generate.random_structures(8, n_atoms=(8, 12), seed=3)
    assert {len(g) for g in geoms} <= {8, 10, 12}
    for g in geoms:
        n_cd = g.get_chemical_symbols().count("Cd")
        assert 2 * n_cd == len(g) and g.info["composition"] == composition(g) and g.info["set"] == "random"
    longer = generate.random_structures(10, n_atoms=(8, 12), seed=3)
    for a, b in zip(geoms, longer):
        np.testing.assert_array_equal(a.positions, b.positions)
    cdse = generate.random_structures(3, n_atoms=(10, 10), se_fraction=1.0)
    assert all(g.get_chemical_formula() == "Cd5Se5" for g in cdse)
    with pytest.raises(ValueError, match="even"):
        generate.random_structures(1, n_atoms=(9, 9))


def test_xtb_preoptimisation_relaxes_a_random_cluster():
    start = generate.random_structures(1, n_atoms=(8, 8), seed=0)[0]
    relaxed = generate.preoptimize_xtb(start)
    assert relaxed.info["xtb_converged"] and relaxed.info["xtb_steps"] > 0
    d = distances(relaxed)
    np.fill_diagonal(d, np.inf)
    assert 2.3 < d.min() < 3.2  # Cd–Se bonds of a relaxed cluster
    assert relaxed.get_chemical_formula() == start.get_chemical_formula()


def _fake_relax(atoms, settings, options, max_steps=100, stretch=1.02, converged=True):
    out = atoms.copy()
    out.positions *= stretch
    out.info.update(optimization_converged=converged and len(atoms) != 10, relaxed="S?")
    return out


def test_relax_many_stores_and_resumes(tmp_path):
    geoms = generate.random_structures(3, seed=1)
    store = GeometryStore(tmp_path / "g.db")
    first = relax_many(geoms, _fake_relax, "fake:1", store=store, progress=False)
    assert first.n_computed == 3 and len(store) == 3
    again = relax_many(geoms, _fake_relax, "fake:1", store=store, progress=False)
    assert again.n_cached == 3 and again.n_computed == 0
    for i, g in enumerate(geoms):
        np.testing.assert_allclose(again.results[i].positions, 1.02 * g.positions, atol=1e-9)
        assert again.results[i].info["index"] == i and again.results[i].info["step"] == "fake:1"
    other_step = relax_many(geoms, _fake_relax, "fake:2", store=store, progress=False)
    assert other_step.n_computed == 3


def test_generate_random_dataset_pipeline_with_fakes(tmp_path, monkeypatch):
    monkeypatch.setattr(generate, "relax_ground_state", _fake_relax)
    monkeypatch.setattr(generate, "relax_s1", functools.partial(_fake_relax, stretch=1.05))
    kw = dict(n=6, n_atoms=(8, 12), seed=3, n_emission=2, stores=tmp_path, compute=fake_excitations, progress=False)
    run = generate.generate_random_dataset(**kw)
    sizes = [len(a) for a in run.starts]
    assert run.skipped == [i for i, n in enumerate(sizes) if n == 10]  # "not converged" in the fake
    assert sorted(run.absorption) == [i for i, n in enumerate(sizes) if n != 10]
    smallest_first = sorted(run.absorption, key=lambda i: (sizes[i], i))
    assert sorted(smallest_first[:2]) != sorted(run.absorption)[:2]  # seed 3: choosing by size differs from by index
    assert sorted(run.emission) == sorted(smallest_first[:2]) == sorted(run.excited)
    rows = list(ResultStore(tmp_path / "random.json").select())
    assert sorted(kv["geometry"] for _, _, kv in rows) == ["S0"] * len(run.absorption) + ["S1"] * 2

    def recomputed(*args, **kwargs):
        raise AssertionError("a stored result was recomputed")

    monkeypatch.setattr(generate, "relax_ground_state", recomputed)  # a rerun finds everything stored
    monkeypatch.setattr(generate, "relax_s1", recomputed)
    again = generate.generate_random_dataset(**{**kw, "compute": recomputed})
    assert not any(again.failures.values())
    assert again.absorption.keys() == run.absorption.keys() and again.emission.keys() == run.emission.keys()


def test_a_minimum_reached_twice_is_recorded_and_not_chosen_for_emission(tmp_path, monkeypatch):
    """Starts of one composition that relax to one minimum (here: the first's, turned) count once for emission."""
    from scipy.spatial.transform import Rotation

    minima = {}

    def collapse(atoms, settings, options, max_steps=100):
        first = minima.setdefault(composition(atoms), atoms.positions.copy())
        out = atoms.copy()
        out.positions = Rotation.from_euler("xyz", [0.3, 1.1, -0.7]).apply(first) + [1.0, -2.0, 0.5]
        out.info.update(optimization_converged=True, relaxed="S0")
        return out

    monkeypatch.setattr(generate, "relax_ground_state", collapse)
    monkeypatch.setattr(generate, "relax_s1", _fake_relax)
    run = generate.generate_random_dataset(n=6, n_atoms=(8, 12), seed=3, n_emission=3, stores=tmp_path,
                                           compute=fake_excitations, progress=False)  # fmt: skip
    comps = [a.info["composition"] for a in run.starts]
    assert comps == ["Cd6Se0Te6", "Cd6Se1Te5", "Cd6Se0Te6", "Cd4Se0Te4", "Cd4Se4Te0", "Cd4Se0Te4"]
    assert run.same_minimum == {2: 0, 5: 3}
    assert sorted(run.absorption) == list(range(6))  # a repeat keeps its absorption
    assert sorted(run.emission) == [0, 3, 4]  # not 3, 4, 5: the smallest distinct minima, then the next size


def test_design_region_cli_skip_starts_each_dot_later(monkeypatch):
    from qdlib import cli
    from qdlib.cli import tddft

    seen = {}
    monkeypatch.setattr(tddft, "_compute_set", lambda geoms, args, store, labels: seen.setdefault("geoms", geoms) and 0)
    cli.main(["design-region", "--dots", "Cd4Se4", "Cd6Se6", "--n-per-dot", "8", "--skip", "6"])
    got = [(g.info["dot"], g.info["case_index"], g.info["n_movable"]) for g in seen["geoms"]]
    assert got == [("Cd4Se4", 1, 1), ("Cd4Se4", 1, 2), ("Cd6Se6", 1, 1), ("Cd6Se6", 1, 2)]

import numpy as np
import pytest

from qdlib.datasets import fetch_benchmark_dot
from qdlib.generate import design_region_set
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


def test_design_region_set_rejects_unknown_dot():
    with pytest.raises(ValueError, match="unknown benchmark dot"):
        design_region_set(["Cd99Se1"], n_per_dot=1)

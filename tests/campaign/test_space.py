"""qdlib.campaign.space: the design space and its physical filter."""

import numpy as np
import pytest

from qdlib import campaign
from qdlib.campaign import DesignSpace
from tests.fakes import cdse_dimer as _dimer


def test_design_space_round_trips_coordinates_and_finds_short_pairs():
    space = DesignSpace(_dimer(), [1], edge_angstrom=4.0)
    u = np.array([[0.5, 0.5, 0.5], [0.5, 0.5, 0.0]])
    assert np.allclose(space.unit(space.positions(u)), u)
    assert np.allclose(space.shortest_distance(u), [2.6, 0.6])
    assert np.allclose(space.displacement_angstrom(u), [0.0, 2.0])
    with pytest.raises(ValueError, match="distinct atom indices"):
        DesignSpace(_dimer(), [2])


def test_random_designs_pass_the_physical_filter_of_the_benchmark_dot():
    space = DesignSpace.benchmark("Cd4Se4", 1)
    u = campaign.RandomDesigns(space).propose([], 2, np.random.default_rng(0))
    assert u.shape == (2, 3) and ((u >= 0) & (u <= 1)).all()
    assert (space.shortest_distance(u) >= space.min_distance_angstrom).all()
    assert (space.xtb_strain_ev(u) <= space.bounds.xtb_max_strain_ev).all()
    again = campaign.RandomDesigns(space).propose([], 1, np.random.default_rng(0))
    assert np.array_equal(u[:1], again)  # the seed alone decides


def test_two_atom_designs_pass_the_filter_as_a_whole():
    space = DesignSpace.benchmark("Cd4Se4", 2, edge_angstrom=1.0)
    u, strain = space.sample(2, np.random.default_rng(1))
    assert u.shape == (2, 6)
    assert np.allclose(space.xtb_strain_ev(u), strain) and (strain <= 0.3).all()

import numpy as np
import pytest
from ase import Atoms

from qdlib import structures
from qdlib.structures import StructureError


def _pair(d=2.6):
    return Atoms("CdSe", positions=[[0, 0, 0], [0, 0, d]])


def test_validate_accepts_a_good_dot():
    atoms = _pair()
    assert structures.validate(atoms) is atoms


@pytest.mark.parametrize(
    "atoms, message",
    [
        (Atoms("CdAu", positions=[[0, 0, 0], [0, 0, 2.6]]), "unsupported element"),
        (Atoms("Cd31", positions=np.arange(93.0).reshape(31, 3) * 3), "at most 30"),
        (_pair(0.9), "overlap"),
        (Atoms("CdSe", positions=[[0, 0, 0], [np.nan, 0, 2.6]]), "non-finite"),
        (Atoms(), "no atoms"),
    ],
)
def test_validate_rejects(atoms, message):
    with pytest.raises(StructureError, match=message):
        structures.validate(atoms)


def test_validate_detached_atom_only_when_asked():
    atoms = Atoms("CdSeCd", positions=[[0, 0, 0], [0, 0, 2.6], [0, 0, 30.0]])
    structures.validate(atoms)
    with pytest.raises(StructureError, match="detached"):
        structures.validate(atoms, max_neighbour_distance_angstrom=6.0)


def test_validate_refuses_non_atoms():
    with pytest.raises(StructureError, match="ase.Atoms"):
        structures.validate([("Cd", (0, 0, 0))])


def test_extxyz_round_trip_keeps_metadata(tmp_path):
    atoms = structures.random_cluster(10, rng=3)
    atoms.info["energy_ev"] = -1.5
    path = tmp_path / "dot.extxyz"
    structures.write(path, [atoms, atoms])
    back = structures.read(path, index=":")
    assert len(back) == 2
    np.testing.assert_allclose(back[1].positions, atoms.positions, atol=1e-7)
    assert back[0].info["composition"] == atoms.info["composition"]
    assert back[0].info["energy_ev"] == -1.5


@pytest.mark.parametrize(
    "text, message",
    [
        ("2\n\nCd 0 0 0\nSe 0 0\n", "cannot parse"),  # a missing coordinate
        ("3\n\nCd 0 0 0\nSe 0 0 2.6\n", "cannot parse"),  # fewer atoms than announced
        ("2\n\nCd 0 0 0\nXx 0 0 2.6\n", "unknown element symbol 'Xx'"),
        ("two\n\nCd 0 0 0\n", "cannot parse"),
        ("2\n\nCd 0 0 0\nPb 0 0 2.6\n", "unsupported element"),
        ("2\n\nCd 0 0 0\nSe 0 0 0.5\n", "overlap"),
    ],
)
def test_read_bad_files(tmp_path, text, message):
    path = tmp_path / "bad.xyz"
    path.write_text(text)
    with pytest.raises(StructureError, match=message):
        structures.read(path)


def test_read_missing_file(tmp_path):
    with pytest.raises(StructureError, match="no such"):
        structures.read(tmp_path / "absent.xyz")


@pytest.mark.parametrize("n_atoms", range(8, 31, 2))
def test_random_clusters_are_sensible(n_atoms):
    atoms = structures.random_cluster(n_atoms, rng=n_atoms)
    structures.validate(atoms)
    symbols = atoms.get_chemical_symbols()
    n_cd = symbols.count("Cd")
    assert len(atoms) == n_atoms and n_cd == n_atoms // 2
    assert symbols.count("Se") + symbols.count("Te") == n_cd
    assert structures.is_connected(atoms, cutoff_angstrom=3.1)
    d = structures.distances(atoms)
    np.fill_diagonal(d, np.inf)
    assert d.min() >= 0.9 * 2.6 - 1e-9
    # every atom is bonded (a cation-anion distance within 15 % of the bond length)
    assert d.min(axis=1).max() <= 1.15 * 2.8
    np.testing.assert_allclose(atoms.positions.mean(axis=0), 0, atol=1e-12)


def test_random_cluster_is_seeded_and_composition_controllable():
    a = structures.random_cluster(16, rng=7)
    b = structures.random_cluster(16, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.positions, b.positions)
    assert a.get_chemical_symbols() == b.get_chemical_symbols()
    c = structures.random_cluster(16, rng=8)
    assert not np.array_equal(a.positions, c.positions)
    assert structures.composition(structures.random_cluster(12, rng=0, n_se=2)) == "Cd6Se2Te4"


@pytest.mark.parametrize("n_atoms, n_se", [(7, None), (32, None), (6, None), (12, 7)])
def test_random_cluster_bad_arguments(n_atoms, n_se):
    with pytest.raises(ValueError):
        structures.random_cluster(n_atoms, rng=0, n_se=n_se)


def test_displace_in_cuboid():
    ref = structures.random_cluster(12, rng=1)
    moved = [ref.get_chemical_symbols().index("Cd"), 5]
    rng = np.random.default_rng(0)
    for _ in range(50):
        new = structures.displace_in_cuboid(ref, moved, 4.0, rng)
        delta = new.positions - ref.positions
        assert np.all(np.abs(delta[moved]) <= 2.0)
        others = np.setdiff1d(np.arange(len(ref)), moved)
        assert np.all(delta[others] == 0)
        d = structures.distances(new)
        np.fill_diagonal(d, np.inf)
        assert d.min() >= structures.MIN_DISTANCE_ANGSTROM
        assert new.info["displaced"] == moved
    a = structures.displace_in_cuboid(ref, moved, [10, 10, 10], 5)
    b = structures.displace_in_cuboid(ref, moved, [10, 10, 10], 5)
    np.testing.assert_array_equal(a.positions, b.positions)


def test_displace_by_moves_each_atom_exactly_the_distance():
    ref = structures.random_cluster(12, rng=1)
    moved = [0, 3, 7]
    rng = np.random.default_rng(0)
    directions = []
    for dist in (0.0, 0.1, 0.7, 1.0):
        new = structures.displace_by(ref, moved, dist, rng)
        delta = new.positions - ref.positions
        np.testing.assert_allclose(np.linalg.norm(delta[moved], axis=1), dist, atol=1e-12)
        np.testing.assert_allclose(new.info["displacement_angstrom"], dist, atol=1e-12)
        assert np.all(np.delete(delta, moved, axis=0) == 0)
        if dist:
            directions.append(delta[moved] / dist)
    assert not np.allclose(directions[0], directions[1])  # fresh random directions per call
    np.testing.assert_array_equal(structures.displace_by(ref, moved, 0.5, 3).positions, structures.displace_by(ref, moved, 0.5, 3).positions)
    with pytest.raises(ValueError, match=">= 0"):
        structures.displace_by(ref, moved, -0.1)


def test_displace_impossible_constraint():
    ref = _pair()
    with pytest.raises(RuntimeError, match="no displacement"):
        structures.displace_in_cuboid(ref, [1], 0.1, 0, center_angstrom=[[0, 0, 0.2]], max_tries=5)
    with pytest.raises(RuntimeError, match="no displacement"):
        structures.displace_by(ref, [1], 5.0, 0, min_distance_angstrom=20.0, max_tries=5)


def test_same_structure_ignores_rotation_translation_and_atom_order():
    from scipy.spatial.transform import Rotation

    from qdlib.structures import distinct_structures, same_structure

    a = structures.random_cluster(10, np.random.default_rng(4), n_se=3)
    order = np.random.default_rng(5).permutation(len(a))
    b = Atoms(a.numbers[order], positions=Rotation.from_euler("zyx", [2.0, -0.4, 0.9]).apply(a.positions[order]) + 7.0)
    assert same_structure(a, b)
    b.positions[0] += [0.0, 0.0, 0.005]  # below the 0.02 Å tolerance
    assert same_structure(a, b)
    b.positions[0] += [0.0, 0.0, 0.1]
    assert not same_structure(a, b)
    assert same_structure(a, b, tol_angstrom=0.2)
    swapped = a.copy()
    se, te = np.flatnonzero(a.numbers == 34)[0], np.flatnonzero(a.numbers == 52)[0]
    swapped.numbers[[se, te]] = swapped.numbers[[te, se]]  # same composition, other arrangement
    assert not same_structure(a, swapped)
    other = structures.random_cluster(10, np.random.default_rng(4), n_se=4)
    assert not same_structure(a, other)  # other composition
    assert distinct_structures([a, other, b, a.copy()]) == {3: 0}  # b moved beyond the tolerance

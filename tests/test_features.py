import numpy as np
import pytest
from ase import Atoms

from qdlib import datasets
from qdlib.features import CoulombMatrix, augment_permutations, authors_order, coulomb_matrix, permute_within_elements


def test_coulomb_matrix_by_hand():
    atoms = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.5]])
    m = coulomb_matrix(atoms.numbers, atoms.positions)
    assert m[0, 0] == pytest.approx(0.5 * 48**2.4)
    assert m[1, 1] == pytest.approx(0.5 * 34**2.4)
    assert m[0, 1] == m[1, 0] == pytest.approx(48 * 34 / 2.5)


def test_batched_positions():
    rng = np.random.default_rng(0)
    z = np.array([48, 34, 52])
    pos = rng.normal(size=(4, 3, 3)) * 3
    batch = coulomb_matrix(z, pos)
    assert batch.shape == (4, 3, 3)
    np.testing.assert_allclose(batch[2], coulomb_matrix(z, pos[2]))


def test_authors_layout_is_centred_and_element_ordered():
    atoms = Atoms("CdTeSeCdSeCd", positions=np.arange(18.0).reshape(6, 3) * 1.3)
    m = CoulombMatrix(layout="authors").matrix(atoms)
    occupied = np.nonzero(np.diag(m))[0]
    assert occupied.tolist() == list(range(12, 18))  # (30 - 6) // 2 = 12
    z = np.rint((np.diag(m)[occupied] / 0.5) ** (1 / 2.4)).astype(int)
    assert z.tolist() == [34, 34, 48, 48, 48, 52]
    assert authors_order(atoms.get_chemical_symbols()).tolist() == [2, 4, 0, 3, 5, 1]


def test_sorted_layout_is_permutation_invariant():
    rng = np.random.default_rng(1)
    atoms = Atoms("Cd4Se3Te", positions=rng.normal(size=(8, 3)) * 3)
    perm = atoms[rng.permutation(8)]
    cm = CoulombMatrix(layout="sorted")
    np.testing.assert_allclose(cm.create(atoms), cm.create(perm))
    assert np.all(np.diag(cm.matrix(atoms))[:8] > 0) and np.all(np.diag(cm.matrix(atoms))[8:] == 0)


def test_random_layout_is_seeded():
    rng = np.random.default_rng(2)
    atoms = Atoms("Cd4Se4", positions=rng.normal(size=(8, 3)) * 3)
    a = CoulombMatrix(layout="random", noise=50.0, random_state=3).create([atoms] * 5)
    b = CoulombMatrix(layout="random", noise=50.0, random_state=3).create([atoms] * 5)
    np.testing.assert_array_equal(a, b)
    assert len({row.tobytes() for row in a}) > 1  # noise permutes rows
    # every draw is a symmetric permutation of the same matrix
    base = np.sort(np.linalg.eigvalsh(coulomb_matrix(atoms.numbers, atoms.positions)))
    for row in a:
        m = row.reshape(30, 30)[:8, :8]
        np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(m)), base)


def test_errors():
    with pytest.raises(ValueError, match="more than n_max"):
        CoulombMatrix(n_max=4).create(Atoms("Cd5"))
    with pytest.raises(ValueError, match="element order"):
        CoulombMatrix().create(Atoms("CdS", positions=[[0, 0, 0], [0, 0, 2.5]]))
    with pytest.raises(ValueError, match="layout"):
        CoulombMatrix(layout="eigen")


@pytest.mark.parametrize("kind", ["absorption", "emission"])
def test_recovered_geometries_rebuild_every_authors_row(kind):
    """Every kept row of the authors' file equals the Coulomb matrix of its recovered, permuted structure."""
    ds = datasets.fetch_paper_dataset(kind)
    cm = CoulombMatrix()
    for structure in ds.structures:
        rebuilt = cm.create(structure)
        rows = ds.X[ds.row_group == structure.info["group"]]
        # the structure's own row matches to 1e-8
        first = ds.X[np.searchsorted(ds.row_index, structure.info["rows"][0])]
        np.testing.assert_allclose(rebuilt, first, rtol=0, atol=1e-8)
        # its permutation twins have the same Coulomb-matrix spectrum
        n = len(structure)
        ev = np.linalg.eigvalsh(rebuilt.reshape(30, 30))
        for row in rows:
            np.testing.assert_allclose(np.linalg.eigvalsh(row.reshape(30, 30)), ev, atol=1e-8 * n)


def test_permute_within_elements_gives_a_renumbered_structure():
    rng = np.random.default_rng(3)
    atoms = Atoms("Cd3Se2Te", positions=rng.normal(size=(6, 3)) * 3)
    cm = CoulombMatrix()
    # every within-element renumbering of the atoms (3! * 2! * 1! = 12), in the authors' layout
    cd, se, te = [0, 1, 2], [3, 4], [5]
    import itertools

    renumbered = {
        cm.create(atoms[list(p) + list(q) + te]).round(9).tobytes()
        for p in itertools.permutations(cd)
        for q in itertools.permutations(se)
    }
    assert len(renumbered) == 12
    seen = {permute_within_elements(cm.create(atoms), rng).round(9).tobytes() for _ in range(300)}
    assert seen == renumbered  # only renumberings, and all of them


def test_augment_permutations_keeps_labels_and_originals():
    ds = datasets.fetch_paper_dataset("absorption")
    X, Y = ds.X[:10], ds.Y[:10]
    Xa, Ya, src = augment_permutations(X, Y, 3, random_state=0)
    assert Xa.shape == (40, 900) and Ya.shape == (40, 500)
    np.testing.assert_array_equal(Xa[:10], X)
    np.testing.assert_array_equal(Ya, Y[src])
    # copies are the same structures: equal diagonals and equal sorted eigenvalues
    eig = lambda x: np.linalg.eigvalsh(x.reshape(30, 30))  # noqa: E731
    for k in range(10, 40):
        np.testing.assert_allclose(eig(Xa[k]), eig(X[src[k]]), atol=1e-8)
    assert np.mean([not np.array_equal(Xa[k], X[src[k]]) for k in range(10, 40)]) > 0.9
    again = augment_permutations(X, Y, 3, random_state=0)[0]
    np.testing.assert_array_equal(Xa, again)
    assert augment_permutations(X, Y, 0)[0].shape == X.shape
    with pytest.raises(ValueError, match="n_copies"):
        augment_permutations(X, Y, -1)


def test_coulomb_matrix_is_one_definition_for_numpy_and_torch():
    import torch

    rng = np.random.default_rng(4)
    numbers = [48, 34, 52, 48]
    positions = rng.normal(0.0, 2.0, (3, 4, 3))  # a batch of three geometries
    ref = coulomb_matrix(numbers, positions)
    batched = coulomb_matrix(numbers, torch.as_tensor(positions))
    assert isinstance(batched, torch.Tensor) and batched.dtype == torch.float64
    np.testing.assert_allclose(batched.numpy(), ref, rtol=1e-12)
    single = coulomb_matrix(numbers, torch.as_tensor(positions[0], dtype=torch.float32))
    np.testing.assert_allclose(single.numpy(), ref[0], rtol=1e-5)


def test_authors_block_is_the_featurisers_layout():
    from ase import Atoms

    from qdlib.features import authors_block

    atoms = Atoms("CdSeTeCdSe", positions=np.random.default_rng(1).normal(0.0, 2.0, (5, 3)))
    order, columns = authors_block(atoms.get_chemical_symbols(), n_max=9)
    assert [atoms[i].symbol for i in order] == ["Se", "Se", "Cd", "Cd", "Te"]
    x = CoulombMatrix(n_max=9).create(atoms)
    block = coulomb_matrix(atoms.numbers[order], atoms.positions[order])
    np.testing.assert_array_equal(x[columns], block.reshape(-1))  # the block, centred: 2 empty slots before it
    assert np.all(np.delete(x, columns) == 0) and columns[0] == 2 * 9 + 2
    with pytest.raises(ValueError, match="do not fit"):
        authors_block(["Cd"] * 10, n_max=9)

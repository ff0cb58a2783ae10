"""Coulomb-matrix descriptors of quantum dots.

.. math::

    C_{ii} = a Z_i^{b}, \\qquad C_{ij} = \\frac{Z_i Z_j}{|\\mathbf R_i - \\mathbf R_j|}

with distances in Å, as in the authors' data (Rupp et al., PRL 108, 058301
(2012); a = 0.5, b = 2.4). Three layouts of the rows are offered:

``"authors"``
    Atoms grouped by element in the order Se, Cd, Te (file order kept within
    an element) and the block centred in the ``n_max`` slots, zero padding on
    both sides. This is the layout of the authors' CSV files.
``"sorted"``
    Rows and columns sorted by decreasing row norm, block at the top-left
    (Montavon et al., NIPS 2012): invariant to atom order.
``"random"``
    Randomly sorted: row norms perturbed by Gaussian noise of width
    ``noise`` before sorting (Montavon et al., NIPS 2012), a data
    augmentation.

A CdSe dimer (2.6 Å) in four slots, the authors' layout: Se first, block centred:

>>> from ase import Atoms
>>> cm = CoulombMatrix(n_max=4)
>>> x = cm.create(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]]))
>>> x.shape
(16,)
>>> x.reshape(4, 4).round(1)
array([[   0. ,    0. ,    0. ,    0. ],
       [   0. , 2368.8,  627.7,    0. ],
       [   0. ,  627.7, 5419.4,    0. ],
       [   0. ,    0. ,    0. ,    0. ]])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from ase import Atoms
from numpy.typing import ArrayLike, NDArray

from ._arrays import is_tensor

__all__ = ["CM_A", "CM_B", "N_SLOTS", "ELEMENT_ORDER", "coulomb_matrix", "authors_order", "authors_block", "CoulombMatrix",
           "permute_within_elements", "augment_permutations"]

#: The authors' Coulomb-matrix constants: diagonal ``CM_A·Z**CM_B``, and ``N_SLOTS`` slots (900 features).
CM_A, CM_B, N_SLOTS = 0.5, 2.4, 30
#: Element order of the authors' layout.
ELEMENT_ORDER: tuple[str, ...] = ("Se", "Cd", "Te")

Layout = Literal["authors", "sorted", "random"]


def coulomb_matrix(numbers: ArrayLike, positions_angstrom, a: float = CM_A, b: float = CM_B):
    """Coulomb matrix of one structure or a batch, in NumPy or (batched, on the tensors' device) in PyTorch.

    Parameters
    ----------
    numbers : array_like of int, shape (n_atoms,)
        Atomic numbers.
    positions_angstrom : array_like or torch.Tensor, shape (..., n_atoms, 3)
        Cartesian coordinates, Å; leading dimensions are a batch. A tensor gives a tensor of its
        dtype (the design environment's float32 geometries).
    a, b : float
        Diagonal ``a * Z**b`` (the paper: 0.5 and 2.4).

    Returns
    -------
    ndarray or torch.Tensor, shape (..., n_atoms, n_atoms)

    Examples
    --------
    Cd (Z = 48) and Se (Z = 34) 2.6 Å apart: ``0.5·48**2.4``, ``48·34/2.6`` and ``0.5·34**2.4``:

    >>> coulomb_matrix([48, 34], [[0, 0, 0], [0, 0, 2.6]]).round(1)
    array([[5419.4,  627.7],
           [ 627.7, 2368.8]])
    """
    if is_tensor(positions_angstrom):
        import torch

        r = positions_angstrom
        z = torch.as_tensor(numbers, dtype=r.dtype, device=r.device)
        eye = torch.eye(z.numel(), dtype=torch.bool, device=r.device)
        off = (z[:, None] * z[None, :]) / torch.where(eye, 1.0, torch.cdist(r, r))
        return torch.where(eye, (a * z**b).diag_embed(), off)
    z = np.asarray(numbers, dtype=float)
    r = np.asarray(positions_angstrom, dtype=float)
    dist = np.linalg.norm(r[..., :, None, :] - r[..., None, :, :], axis=-1)
    n = z.size
    eye = np.eye(n, dtype=bool)
    with np.errstate(divide="ignore"):
        off = np.outer(z, z) / np.where(eye, 1.0, dist)
    return np.where(eye, a * z**b, off)


def authors_order(symbols: Sequence[str], element_order: Sequence[str] = ELEMENT_ORDER) -> NDArray[np.intp]:
    """Atom indices grouped by element in ``element_order``, stable within an element.

    Raises
    ------
    ValueError
        If a symbol is not in ``element_order``.

    Examples
    --------
    >>> authors_order(["Cd", "Se", "Te", "Se"])
    array([1, 3, 0, 2])
    """
    rank = {el: k for k, el in enumerate(element_order)}
    unknown = sorted(set(symbols) - set(rank))
    if unknown:
        raise ValueError(f"elements {unknown} are not in the layout's element order {tuple(element_order)}")
    return np.array(sorted(range(len(symbols)), key=lambda i: rank[symbols[i]]), dtype=np.intp)


def authors_block(symbols: Sequence[str], n_max: int = N_SLOTS,
                  element_order: Sequence[str] = ELEMENT_ORDER) -> tuple[NDArray[np.intp], NDArray[np.intp]]:  # fmt: skip
    """Where the authors' layout puts a structure's Coulomb matrix in the padded ``n_max × n_max`` one.

    Returns
    -------
    order : ndarray of int, shape (n_atoms,)
        The atoms in the layout's row order (:func:`authors_order`).
    columns : ndarray of int, shape (n_atoms**2,)
        Indices, in the flattened padded matrix, of the block's entries in row-major order: the
        block is centred in the slots, ``(n_max − n_atoms) // 2`` empty slots before it.

    Raises
    ------
    ValueError
        If there are more atoms than slots.

    >>> order, columns = authors_block(["Cd", "Se"], n_max=4)
    >>> order.tolist(), columns.tolist()
    ([1, 0], [5, 6, 9, 10])
    """
    n = len(symbols)
    if n > n_max:
        raise ValueError(f"{n} atoms do not fit in n_max={n_max} slots")
    slots = np.arange(n) + (n_max - n) // 2
    return authors_order(symbols, element_order), (slots[:, None] * n_max + slots[None, :]).reshape(-1)


class CoulombMatrix:
    """Flattened, padded Coulomb matrix featuriser (DScribe-style ``create``).

    Parameters
    ----------
    n_max : int
        Number of slots (the paper: 30, giving 900 features).
    a, b : float
        Diagonal ``a * Z**b`` (the paper: 0.5, 2.4).
    layout : {"authors", "sorted", "random"}
        Row ordering and padding; see the module docstring.
    element_order : sequence of str
        Element order of the ``"authors"`` layout.
    noise : float
        Width of the row-norm noise of the ``"random"`` layout.
    random_state : int, numpy.random.Generator or None
        Seed of the ``"random"`` layout.

    Examples
    --------
    >>> from ase import Atoms
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
    >>> CoulombMatrix(n_max=3, layout="sorted").matrix(dimer).round(1)
    array([[5419.4,  627.7,    0. ],
           [ 627.7, 2368.8,    0. ],
           [   0. ,    0. ,    0. ]])
    >>> CoulombMatrix(n_max=3).create([dimer, dimer]).shape
    (2, 9)
    """

    def __init__(
        self,
        n_max: int = N_SLOTS,
        a: float = CM_A,
        b: float = CM_B,
        layout: Layout = "authors",
        element_order: Sequence[str] = ELEMENT_ORDER,
        noise: float = 1.0,
        random_state: int | np.random.Generator | None = None,
    ):
        if layout not in ("authors", "sorted", "random"):
            raise ValueError(f"layout must be 'authors', 'sorted' or 'random', got {layout!r}")
        self.n_max = n_max
        self.a = a
        self.b = b
        self.layout = layout
        self.element_order = tuple(element_order)
        self.noise = noise
        self.random_state = random_state
        self._rng = np.random.default_rng(random_state)

    @property
    def n_features(self) -> int:
        """Length of the flattened descriptor, ``n_max**2``."""
        return self.n_max * self.n_max

    def matrix(self, atoms: Atoms) -> NDArray[np.float64]:
        """The padded ``(n_max, n_max)`` matrix of one structure in this layout."""
        n = len(atoms)
        if n > self.n_max:
            raise ValueError(f"{atoms.get_chemical_formula()} has {n} atoms, more than n_max={self.n_max}")
        cm = coulomb_matrix(atoms.numbers, atoms.positions, self.a, self.b)
        if self.layout == "authors":
            order, columns = authors_block(atoms.get_chemical_symbols(), self.n_max, self.element_order)
        else:
            norms = np.linalg.norm(cm, axis=1)
            if self.layout == "random":
                norms = norms + self._rng.normal(0.0, self.noise, n)
            order = np.argsort(-norms, kind="stable")
            columns = (np.arange(n)[:, None] * self.n_max + np.arange(n)[None, :]).reshape(-1)
        out = np.zeros(self.n_max * self.n_max)
        out[columns] = cm[np.ix_(order, order)].reshape(-1)
        return out.reshape(self.n_max, self.n_max)

    def create(self, atoms: Atoms | Sequence[Atoms]) -> NDArray[np.float64]:
        """Flattened descriptor(s).

        Parameters
        ----------
        atoms : ase.Atoms or sequence of ase.Atoms

        Returns
        -------
        ndarray, shape (n_max**2,) for one structure, (n_structures, n_max**2) for several.
        """
        if isinstance(atoms, Atoms):
            return self.matrix(atoms).ravel()
        return np.stack([self.matrix(a).ravel() for a in atoms]) if len(atoms) else np.zeros((0, self.n_features))

    def __repr__(self) -> str:
        return f"CoulombMatrix(n_max={self.n_max}, a={self.a}, b={self.b}, layout={self.layout!r})"


def permute_within_elements(cm: ArrayLike, rng: np.random.Generator) -> NDArray[np.float64]:
    """The same structure with its atoms renumbered at random within each element.

    Works on a padded matrix in any layout whose slots of one element carry
    equal diagonals ``a Z**b``: those slots are shuffled among themselves
    (rows and columns together), so the layout, the padding and the
    spectrum are unchanged, as in the authors' permutation twins.

    Parameters
    ----------
    cm : array_like, shape (n_max, n_max) or (n_max**2,)
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of the input's shape

    Examples
    --------
    A CdSe₂ fragment: the two Se slots may swap, the Cd slot stays:

    >>> import numpy as np
    >>> from ase import Atoms
    >>> m = CoulombMatrix(n_max=3).matrix(Atoms("CdSe2", positions=[[0, 0, 0], [0, 0, 2.6], [0, 2.6, 0]]))
    >>> p = permute_within_elements(m, np.random.default_rng(1))
    >>> bool(np.allclose(np.diag(p), np.diag(m))), bool(np.allclose(np.sort(p, axis=None), np.sort(m, axis=None)))
    (True, True)
    """
    cm = np.asarray(cm, dtype=float)
    n_max = int(round(np.sqrt(cm.size)))
    m = cm.reshape(n_max, n_max)
    diag = np.diag(m)
    order = np.arange(n_max)
    for value in np.unique(diag[diag != 0]):
        slots = np.flatnonzero(diag == value)
        order[slots] = rng.permutation(slots)
    return m[np.ix_(order, order)].reshape(cm.shape)


def augment_permutations(
    X: ArrayLike, Y: ArrayLike, n_copies: int, random_state: int | np.random.Generator | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.intp]]:
    """Rows of ``X`` plus ``n_copies`` random within-element renumberings of each (the authors' augmentation).

    Apply it to a training fold only: a renumbered test structure is the same structure.

    Parameters
    ----------
    X : array_like, shape (n_rows, n_max**2)
        Flattened Coulomb matrices.
    Y : array_like, shape (n_rows, n_bins)
        Their spectra, repeated for the copies.
    n_copies : int
        Renumbered copies per row (0 returns the input).
    random_state : int, Generator or None

    Returns
    -------
    X_aug, Y_aug : ndarray
        ``(n_rows * (1 + n_copies), ...)``: the originals first, then the copies.
    source : ndarray of int
        Row of ``X`` each augmented row came from.

    Examples
    --------
    One row and its 3-bin spectrum, two renumbered copies added:

    >>> from ase import Atoms
    >>> X = CoulombMatrix(n_max=3).create([Atoms("CdSe2", positions=[[0, 0, 0], [0, 0, 2.6], [0, 2.6, 0]])])
    >>> X_aug, Y_aug, source = augment_permutations(X, [[1.0, 2.0, 3.0]], n_copies=2, random_state=0)
    >>> X_aug.shape, Y_aug.shape, source
    ((3, 9), (3, 3), array([0, 0, 0]))
    """
    X, Y = np.asarray(X, dtype=float), np.asarray(Y)
    if n_copies < 0:
        raise ValueError(f"n_copies must be >= 0, got {n_copies}")
    rng = np.random.default_rng(random_state)
    source = np.tile(np.arange(len(X)), 1 + n_copies)
    copies = [permute_within_elements(X[i], rng) for i in source[len(X):]]
    X_aug = np.concatenate([X, np.asarray(copies).reshape(-1, X.shape[1])]) if copies else X
    return X_aug, Y[source], source

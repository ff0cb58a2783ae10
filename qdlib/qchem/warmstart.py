"""Warm starts: a nearby geometry's converged ground state and excitations as the first guesses.

Every design of a campaign is the reference dot with one to three atoms moved a little, so
the reference's solution is a good first guess for each design's: its density for the SCF,
and its excitation vectors for the TDDFT solver. The guesses change where the solvers start,
not where they stop (the same convergence thresholds decide); ``benchmarks/warm_start.py``
measures both the speed-up and the agreement with cold starts.

A warm-start point is a pair of files, written by :func:`save_warm_start`:

``<path>`` (PySCF chkfile)
    The reference molecule and its orbitals. The SCF of a new geometry starts from the
    reference density (:func:`scf_guess`: PySCF's ``init_guess_by_chkfile``; the basis
    functions move with their atoms, so the same density matrix is a close guess).
``<path>.xy.npz``
    The reference's excitation vectors ``X``, ``Y`` (occupied × virtual). The new geometry's
    orbitals are not the reference's (they rotate, mix and change sign as atoms move), so the
    vectors are carried over through the overlap of the two sets of orbitals,
    ``O = C_refᵀ S(ref, new) C_new``: ``X_new = O_occᵀ X_ref O_vir`` (:func:`rotate_vectors`).
"""

from __future__ import annotations

import logging
import os

import numpy as np
from numpy.typing import NDArray

from .backends import _to_numpy

log = logging.getLogger(__name__)

__all__ = ["save_warm_start", "scf_guess", "rotate_vectors", "tddft_guess", "warm_state_count", "pad_guess"]


def save_warm_start(mf, td, path: str) -> None:
    """Write a converged ground state ``mf`` and its TDDFT/TDA solution ``td`` as a warm-start point.

    Parameters
    ----------
    mf : pyscf RKS object
    td : pyscf TDDFT or TDA object, solved
    path : str
        The chkfile; the vectors go to ``path + ".xy.npz"``.
    """
    from pyscf.scf import chkfile

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    mo_energy, mo_coeff, mo_occ = (np.asarray(_to_numpy(a)) for a in (mf.mo_energy, mf.mo_coeff, mf.mo_occ))
    # Each writer its own temporary files, renamed into place: a reader never meets half a file, and
    # two processes writing the same point never write into one file.
    tmp_chk, tmp_xy = f"{path}.{os.getpid()}.tmp", f"{path}.xy.{os.getpid()}.tmp.npz"
    chkfile.dump_scf(mf.mol, tmp_chk, float(mf.e_tot), mo_energy, mo_coeff, mo_occ, overwrite_mol=True)
    os.replace(tmp_chk, path)
    x = np.array([np.asarray(_to_numpy(xy[0])) for xy in td.xy])
    y = np.array([np.asarray(_to_numpy(xy[1])) if not np.isscalar(xy[1]) else np.zeros_like(x[0]) for xy in td.xy])
    np.savez(tmp_xy, x=x, y=y, e=np.asarray(_to_numpy(td.e)))
    os.replace(tmp_xy, path + ".xy.npz")


def scf_guess(mol, path: str) -> NDArray[np.float64] | None:
    """The density matrix of the warm-start point ``path``, as a first guess for ``mol`` (AO basis).

    ``None`` (with a warning) when the point belongs to another molecule: other elements or
    another order of them, or another basis.
    """
    from pyscf import gto
    from pyscf.scf import chkfile, hf

    mol_ref = chkfile.load_mol(path)
    if [mol_ref.atom_pure_symbol(i) for i in range(mol_ref.natm)] != [mol.atom_pure_symbol(i) for i in range(mol.natm)] \
            or not gto.same_basis_set(mol_ref, mol):  # fmt: skip
        log.warning("warm start %s belongs to another molecule; starting cold", path)
        return None
    return hf.init_guess_by_chkfile(mol, path, project=False)


def rotate_vectors(x: NDArray, mo_ref: NDArray, mol_ref, mo_new: NDArray, mol_new, nocc: int) -> NDArray:
    """Carry occupied × virtual amplitudes ``x`` ``(k, nocc, nvir)`` from one geometry's orbitals to another's.

    ``X_new = O_occᵀ X O_vir`` with ``O = C_refᵀ S(ref, new) C_new``, ``S(ref, new)`` the overlap of
    the two geometries' basis functions.

    Examples
    --------
    A geometry's own orbitals carry the amplitudes over unchanged; a sign flip of one orbital
    flips the sign of its amplitudes:

    >>> from pyscf import gto, scf
    >>> mol = gto.M(atom="H 0 0 0; H 0 0 0.74; H 0 0 2.5; H 0 0 3.24", basis="sto-3g", verbose=0)
    >>> mf = scf.RHF(mol).run()
    >>> x = np.random.default_rng(0).random((1, 2, 2))
    >>> np.allclose(rotate_vectors(x, mf.mo_coeff, mol, mf.mo_coeff, mol, 2), x)
    True
    >>> flipped = mf.mo_coeff.copy(); flipped[:, 0] *= -1
    >>> np.allclose(rotate_vectors(x, mf.mo_coeff, mol, flipped, mol, 2)[0, 0], -x[0, 0])
    True
    """
    from pyscf import gto

    s = gto.intor_cross("int1e_ovlp", mol_ref, mol_new)
    o = mo_ref.T @ s @ mo_new
    o_occ, o_vir = o[:nocc, :nocc], o[nocc:, nocc:]
    return np.einsum("ji,kjb,ba->kia", o_occ, x, o_vir)


def tddft_guess(mf, path: str, n_states: int, tda: bool) -> NDArray[np.float64] | None:
    """First vectors for ``n_states`` states of ``mf``'s TDDFT (``tda``: Tamm–Dancoff) from the point ``path``.

    Returns the reference's lowest ``n_states`` solutions carried to ``mf``'s orbitals
    (:func:`rotate_vectors`), one row each in PySCF's layout (``X``, or ``[X, Y]``), or ``None``
    when the point has fewer states or belongs to another molecule (other orbital counts).
    """
    from pyscf.scf import chkfile

    xy_path = path + ".xy.npz"
    if not os.path.isfile(xy_path):
        return None
    mol_ref, rec = chkfile.load_scf(path)
    with np.load(xy_path) as f:
        x, y = f["x"], f["y"]
    mo_new, occ = np.asarray(_to_numpy(mf.mo_coeff)), np.asarray(_to_numpy(mf.mo_occ))
    nocc = int(np.count_nonzero(occ > 0))
    if rec["mo_coeff"].shape != mo_new.shape or x.shape[1:] != (nocc, mo_new.shape[1] - nocc) or len(x) < n_states:
        log.info("warm start %s does not fit this calculation (%s states); starting cold", path, len(x))
        return None
    args = (rec["mo_coeff"], mol_ref, mo_new, mf.mol, nocc)
    xs = rotate_vectors(x[:n_states], *args).reshape(n_states, -1)
    if tda:
        return xs
    ys = rotate_vectors(y[:n_states], *args).reshape(n_states, -1)
    return np.hstack([xs, ys])


def warm_state_count(path: str) -> int:
    """How many states the warm-start point ``path`` holds (0 if it has no vectors)."""
    xy_path = path + ".xy.npz"
    if not os.path.isfile(xy_path):
        return 0
    with np.load(xy_path) as f:
        return int(f["x"].shape[0])


def pad_guess(known: NDArray[np.float64], default: NDArray[np.float64], n: int, paired: bool = False) -> NDArray[np.float64]:
    """Up to ``n`` first vectors: the rows of ``known``, then rows of ``default`` with the span so far projected out.

    A guess carried from another geometry can miss a low state altogether, and a solver started
    from it alone then converges to higher ones; the default rows (e.g. PySCF's lowest
    orbital-energy differences) are added, each kept only if it adds a direction of its own.

    With ``paired`` the rows are full-TDDFT vectors ``[X, Y]`` and the default rows have ``Y = 0``
    (PySCF's guess): only the ``X`` halves are projected, so an added row stays ``[x, 0]``. Projecting
    whole rows would leave, for a default row nearly in the span of the known ``X``, a remainder with
    ``|x| ≈ |y|``: a near-zero diagonal of the solver's metric ``X·X − Y·Y``, which PySCF's first
    subspace cannot factor (it raises its "saddle-point" error at a stable ground state).

    >>> known = np.array([[1.0, 1.0, 0.0, 0.0]]) / np.sqrt(2)
    >>> pad_guess(known, np.eye(4), 3).round(3)
    array([[ 0.707,  0.707,  0.   ,  0.   ],
           [ 0.707, -0.707,  0.   ,  0.   ],
           [ 0.   ,  0.   ,  1.   ,  0.   ]])
    >>> pad_guess(np.array([[0.9, 0.1, 0.3, 0.0]]), np.eye(4)[:2], 3, paired=True).round(3)
    array([[ 0.9  ,  0.1  ,  0.3  ,  0.   ],
           [ 0.11 , -0.994,  0.   ,  0.   ]])
    """
    width = known.shape[1] // 2 if paired else known.shape[1]
    q, _ = np.linalg.qr(known[:, :width].T)
    rows = [r for r in known[:n]]
    for d in default:
        if len(rows) >= n:
            break
        r = np.array(d, dtype=float)
        r[:width] -= q @ (q.T @ r[:width])
        if np.linalg.norm(r[:width]) > 1e-3 * np.linalg.norm(d[:width]):
            r /= np.linalg.norm(r)
            rows.append(r)
            q = np.hstack([q, r[:width, None] / np.linalg.norm(r[:width])])
    return np.array(rows)

"""Restart files: what a stopped calculation continues from.

A TD-DFT job on a 30-atom dot runs for hours; PySCF's solvers keep no restart point of their own.
With ``EngineOptions.checkpoint_dir`` every calculation keeps, named by :func:`result_key` of
its geometry and settings, the SCF orbitals (PySCF's chkfile, ``<key>.chk``), the response
solver's best vectors (:class:`ResponseCheckpoint`, ``<key>.td.npz``) and a relaxation's latest
geometry (:class:`OptimizationCheckpoint`, ``<key>.S<n>.opt.xyz``); each is removed once its
result exists.

>>> import tempfile
>>> from ase import Atoms
>>> tmp = tempfile.TemporaryDirectory()
>>> checkpoint = OptimizationCheckpoint.for_run(Atoms("Cd"), 1, TDDFTSettings(), tmp.name)
>>> os.path.basename(checkpoint.path) == result_key(Atoms("Cd"), TDDFTSettings()) + ".S1.opt.xyz"
True
>>> tmp.cleanup()
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from numpy.typing import NDArray

from .settings import TDDFTSettings, result_key

__all__ = ["ResponseCheckpoint", "OptimizationCheckpoint"]

log = logging.getLogger(__name__)


def _checkpoint_path(atoms: Atoms, settings: TDDFTSettings, directory: str | None, suffix: str) -> str | None:
    """``<directory>/<result key><suffix>``: a restart point of one calculation (``None`` without a directory)."""
    if directory is None:
        return None
    os.makedirs(directory, exist_ok=True)
    return os.path.join(directory, f"{result_key(atoms, settings)}{suffix}")


def _remove(path: str | None) -> None:
    """Delete a restart file if there is one."""
    if path is not None and os.path.isfile(path):
        os.remove(path)


class ResponseCheckpoint:
    """Keeps the TDDFT solver's best vectors on disk so an interrupted solve resumes.

    PySCF's Davidson solvers keep no restart point: an hour of iterations on a
    30-atom dot is lost when the process stops. This records every trial vector
    the solver sends to the response operator together with its product (the
    solver's own subspace), and after each iteration writes the ``n_keep``
    lowest Ritz vectors of that subspace to ``path`` (atomically, ``.npz``).
    :meth:`initial_guess` reads them back; the solver restarted from them
    continues from where it stopped (a thick restart: one operator application
    for the saved vectors, then the same convergence path). The guess changes
    only where the solver starts, not the converged answer.

    Parameters
    ----------
    path : str
        The ``.npz`` file.
    hermitian : bool
        The solver's problem: Hermitian (Tamm–Dancoff, or Casida's form for pure
        functionals; vectors of length ``n_ov``) or full TDDFT (vectors ``[X, Y]``).
    n_ov : int
        Occupied × virtual orbital pairs; with ``hermitian`` it identifies the problem a
        saved file belongs to.
    n_keep : int
        Ritz vectors saved (the lowest ones).

    Examples
    --------
    :func:`~qdlib.qchem.run_tddft` wraps PySCF's response operator with it (``restart_file``).
    By hand, on a 3×3 Hermitian problem whose solver has asked for two products so far:

    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> checkpoint = ResponseCheckpoint(os.path.join(tmp.name, "x.td.npz"), hermitian=True, n_ov=3, n_keep=1)
    >>> a = np.diag([0.5, 0.7, 0.9])  # the response matrix, Eh
    >>> vind = checkpoint.wrap(lambda zs: np.asarray(zs) @ a)
    >>> _ = vind(np.eye(3)[:2])
    >>> np.abs(checkpoint.initial_guess())  # the lowest Ritz vector of the subspace, saved
    array([[1., 0., 0.]])
    >>> tmp.cleanup()
    """

    def __init__(self, path: str, hermitian: bool, n_ov: int, n_keep: int):
        self.path, self.hermitian, self.n_ov, self.n_keep = path, bool(hermitian), int(n_ov), int(n_keep)
        self._reset(np.zeros((0, self.size)), np.zeros((0, self.size)))

    @property
    def size(self) -> int:
        """Length of one solver vector: ``n_ov`` (Hermitian) or ``2 n_ov`` (``[X, Y]``)."""
        return self.n_ov if self.hermitian else 2 * self.n_ov

    def initial_guess(self) -> NDArray[np.float64] | None:
        """Saved Ritz vectors, shape ``(n, size)``, or ``None`` when there are none for this problem."""
        if not os.path.isfile(self.path):
            return None
        try:
            with np.load(self.path) as f:
                z, hermitian = f["vectors"], bool(f["hermitian"])
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable TDDFT restart file %s (%s)", self.path, exc)
            return None
        if hermitian != self.hermitian or z.ndim != 2 or z.shape[1] != self.size or not np.isfinite(z).all():
            log.warning("ignoring TDDFT restart file %s: it belongs to another problem", self.path)
            return None
        log.info("TDDFT restarts from %d saved vectors (%s)", len(z), self.path)
        return z

    def wrap(self, vind):
        """The response operator ``vind`` recording what it is asked and saving the Ritz vectors.

        Parameters
        ----------
        vind : callable
            PySCF's response operator (``td.gen_vind()[0]``): trial vectors ``(n, size)`` to their
            products, Eh.

        Returns
        -------
        callable
            The same operator; after every call the ``n_keep`` lowest Ritz vectors of all the
            vectors it has seen are written to ``path``.
        """

        def recorded(zs):
            az = vind(zs)
            self._record(np.asarray(zs).reshape(-1, self.size), np.asarray(az).reshape(-1, self.size))
            return az

        return recorded

    # the subspace matrices are sums of these products of blocks of the recorded vectors;
    # each is extended by the new rows and columns only (O(m·k·n) per iteration, not O(m²·n))
    _products = {
        True: (("z", "az"), ("z", "z")),
        False: (("v", "u1"), ("w", "u2"), ("v", "u2"), ("w", "u1"), ("v", "v"), ("w", "w"), ("v", "w")),
    }

    def _blocks(self, z, az) -> dict:
        if self.hermitian:
            return {"z": z, "az": az}
        n = self.n_ov
        return {"v": z[:, :n], "w": z[:, n:], "u1": az[:, :n], "u2": -az[:, n:]}

    def _reset(self, z, az) -> None:
        self._z, self._az = z.copy(), az.copy()
        b = self._blocks(self._z, self._az)
        self._gram = {pq: b[pq[0]] @ b[pq[1]].T for pq in self._products[self.hermitian]}

    def _record(self, z, az) -> None:
        old, new = self._blocks(self._z, self._az), self._blocks(z, az)
        for p, q in self._products[self.hermitian]:  # [[g, old_p new_q^T], [new_p old_q^T, new_p new_q^T]]
            g = self._gram[p, q]
            self._gram[p, q] = np.block([[g, old[p] @ new[q].T], [new[p] @ old[q].T, new[p] @ new[q].T]])
        self._z, self._az = np.vstack([self._z, z]), np.vstack([self._az, az])
        try:
            ritz = self._ritz_vectors()
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            ritz = None
        if ritz is None:  # the solver restarted from vectors inside the old subspace: follow it
            self._reset(z, az)
            return
        tmp = f"{self.path}.tmp.npz"
        np.savez(tmp, vectors=ritz, hermitian=self.hermitian)
        os.replace(tmp, self.path)

    def _ritz_vectors(self) -> NDArray[np.float64] | None:
        k, g = min(self.n_keep, len(self._z)), self._gram
        sym = lambda m: (m + m.T) / 2  # noqa: E731
        with np.errstate(divide="raise", over="raise", invalid="raise"):
            if self.hermitian:  # A x = w x in the recorded subspace
                import scipy.linalg

                _, c = scipy.linalg.eigh(sym(g["z", "az"]), sym(g["z", "z"]))
                ritz = c[:, :k].T @ self._z
            else:  # [[A, B], [B, A]] [X, Y] = w [[1, 0], [0, -1]] [X, Y], PySCF's real_eig subspace
                from pyscf.tdscf._lr_eig import TDDFT_subspace_eigen_solver

                n = self.n_ov
                v, w_ = self._z[:, :n], self._z[:, n:]
                a, b = sym(g["v", "u1"] + g["w", "u2"]), sym(g["v", "u2"] + g["w", "u1"])
                sigma = sym(g["v", "v"] - g["w", "w"])
                pi = g["v", "w"] - g["v", "w"].T  # v w^T - w v^T
                omega, x, y = TDDFT_subspace_eigen_solver(a, b, sigma, pi, k)
                if len(omega) < k or np.any(omega <= 0):
                    return None
                ritz = np.hstack([x.T @ v + y.T @ w_, x.T @ w_ + y.T @ v])
        return ritz if np.isfinite(ritz).all() else None


@dataclass
class OptimizationCheckpoint:
    """The latest geometry of a relaxation in progress, so that a stopped one continues.

    Attributes
    ----------
    path : str
        The extended-xyz file (positions in Å; ``gradients`` done so far in its comment line).

    Examples
    --------
    :func:`~qdlib.qchem.optimize_excited_state` saves one after every gradient. By hand:

    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.55]])
    >>> checkpoint = OptimizationCheckpoint.for_run(dimer, 1, TDDFTSettings(), tmp.name)
    >>> checkpoint.save(dimer, [[0, 0, 0], [0, 0, 2.61]], gradients=3)
    >>> start, done = checkpoint.load(dimer)
    >>> round(float(start.get_distance(0, 1)), 2), done
    (2.61, 3)
    >>> checkpoint.remove()
    >>> checkpoint.load(dimer)[1]  # nothing saved: start from the given geometry
    0
    >>> tmp.cleanup()
    """

    path: str

    @classmethod
    def for_run(cls, atoms: Atoms, state: int, settings: TDDFTSettings, directory: str | None):
        """The checkpoint of relaxing ``state`` from ``atoms`` at ``settings``.

        Parameters
        ----------
        atoms : ase.Atoms
            The starting geometry, Å (with ``settings`` it names the file, :func:`result_key`).
        state : int
            0 for the ground state, n for Sn.
        settings : TDDFTSettings
        directory : str or None
            Where the file goes (created when missing).

        Returns
        -------
        OptimizationCheckpoint or None
            ``None`` without a directory.
        """
        path = _checkpoint_path(atoms, settings, directory, f".S{state}.opt.xyz")
        return None if path is None else cls(path)

    def load(self, atoms: Atoms) -> tuple[Atoms, int]:
        """The geometry to start from and the gradients already spent.

        Parameters
        ----------
        atoms : ase.Atoms
            The relaxation's starting geometry, Å.

        Returns
        -------
        start : ase.Atoms
            A copy of ``atoms`` at the saved positions, Å; ``atoms`` itself when nothing usable is
            saved (no file, a damaged one, or one of other atoms).
        gradients : int
            Energy-and-gradient evaluations already done (0 when nothing is saved).
        """
        import ase.io

        if not os.path.isfile(self.path):
            return atoms, 0
        try:
            saved = ase.io.read(self.path, format="extxyz")
        except Exception as exc:  # ASE raises several types for a damaged file
            log.warning("ignoring unreadable relaxation checkpoint %s (%s)", self.path, exc)
            return atoms, 0
        if saved.get_chemical_symbols() != atoms.get_chemical_symbols():
            log.warning("ignoring relaxation checkpoint %s: it belongs to other atoms", self.path)
            return atoms, 0
        done = int(saved.info.get("gradients", 0))
        log.info("relaxation continues from %s after %d gradients", self.path, done)
        start = atoms.copy()
        start.positions = saved.positions
        return start, done

    def save(self, atoms: Atoms, positions_angstrom, gradients: int) -> None:
        """Write the current geometry atomically.

        Parameters
        ----------
        atoms : ase.Atoms
            The atoms relaxed (their elements are written).
        positions_angstrom : array_like, shape (n_atoms, 3)
            The current positions, Å.
        gradients : int
            Energy-and-gradient evaluations done so far.
        """
        import ase.io

        current = Atoms(atoms.get_chemical_symbols(), positions=positions_angstrom)
        current.info["gradients"] = int(gradients)
        tmp = f"{self.path}.tmp"
        ase.io.write(tmp, current, format="extxyz")
        os.replace(tmp, self.path)

    def remove(self) -> None:
        """Delete the file (the relaxation has ended); no error when there is none."""
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path)

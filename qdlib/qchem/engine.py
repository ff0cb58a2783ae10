"""The single point: ground state and singlet excitations of one geometry.

:func:`excitations` is the TD-DFT call of the whole package. It validates the structure and
converges the ground state (:mod:`~qdlib.qchem.scf`: :func:`~qdlib.qchem.build_mol`,
:func:`~qdlib.qchem.run_scf`), solves the response with its fallbacks (:mod:`~qdlib.qchem.response`:
:func:`~qdlib.qchem.run_tddft`), solves for more states until a wavelength is reached when asked
(:mod:`~qdlib.qchem.coverage`), starts from a nearby geometry's solution when one is given
(:mod:`~qdlib.qchem.warmstart`) and keeps restart points while it runs (:mod:`~qdlib.qchem.restart`).

The steps one by one, on a cadmium atom (a tenth of a second):

>>> from ase import Atoms
>>> from qdlib.qchem import run_tddft
>>> settings = TDDFTSettings(n_states=2, grid_level=0)
>>> mf = run_scf(build_mol(Atoms("Cd"), settings), settings)
>>> td = run_tddft(mf, settings)
>>> (td.e * HARTREE_EV).round(2)  # eV
array([5.11, 5.11])
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time

import numpy as np
from ase import Atoms

from .backends import _threads, _to_numpy, select_backend, versions
from .coverage import _grow_until_covered
from .response import _solve_tddft, _states_converged
from .restart import _checkpoint_path, _remove
from .scf import build_mol, run_scf
from .settings import HARTREE_EV, EngineOptions, Excitations, TDDFTSettings, dominant_transitions
from .warmstart import save_warm_start, scf_guess, tddft_guess, warm_state_count

__all__ = ["excitations"]

log = logging.getLogger(__name__)


def excitations(
    atoms: Atoms,
    settings: TDDFTSettings = TDDFTSettings(),
    options: EngineOptions = EngineOptions(),
    dm0=None,
    cover_nm: float | None = None,
    max_states: int = 40,
    save_warm_start_to: str | None = None,
) -> Excitations:
    """Ground state and singlet excitations of one geometry (the heart of every TD-DFT call).

    Parameters
    ----------
    atoms : ase.Atoms
        Geometry, Å; validated first.
    settings : TDDFTSettings
        What to compute (paper defaults).
    options : EngineOptions
        How to compute it (backend, threads, memory).
    dm0 : ndarray, optional
        Initial density matrix (e.g. from a nearby geometry).
    cover_nm : float, optional
        Solve for more states than ``settings.n_states`` until the highest one lies at or below
        this wavelength (nm), so that a spectrum is complete down to it (a distorted geometry's
        lowest states can all lie far to the red). The ground state is solved once; the state
        count grows from the states found (:func:`next_state_count`). The
        result's ``settings.n_states`` says how many were solved; :meth:`Excitations.covers`
        whether the wavelength was reached.
    max_states : int
        The most states solved for with ``cover_nm``; a result that stops here may not cover it.
    save_warm_start_to : str, optional
        Also write the ground state and excitations there as a warm-start point for nearby
        geometries (:func:`~qdlib.qchem.warmstart.save_warm_start`; ``options.warm_start`` reads it).

    Returns
    -------
    Excitations

    Raises
    ------
    qdlib.structures.StructureError
        If the structure is invalid (before any integral is computed).
    SCFConvergenceError
        If the ground state does not converge.

    Examples
    --------
    A cadmium atom's two lowest singlets (a degenerate set of three) lie at 242 nm; a
    spectrum complete down to 200 nm needs more states:

    >>> exc = excitations(Atoms("Cd"), TDDFTSettings(n_states=2, grid_level=0), cover_nm=200.0, max_states=12)
    >>> exc.settings.n_states, exc.covers(200.0), exc.converged
    (8, True, True)
    >>> exc.wavelengths_nm.round(1)
    array([242.5, 242.5, 242.5, 117.1, 117.1, 117.1,  86.6,  86.6])
    """
    backend = select_backend(options.backend)
    with _threads(options.threads):
        t0 = time.perf_counter()
        mol = build_mol(atoms, settings, verbose=options.verbose)
        chkfile = _checkpoint_path(atoms, settings, options.checkpoint_dir, ".chk")
        restart = _checkpoint_path(atoms, settings, options.checkpoint_dir, ".td.npz")
        warm = options.warm_start if options.warm_start and os.path.isfile(options.warm_start) else None
        if warm and (density := scf_guess(mol, warm)) is None:
            warm = None  # another molecule's
        elif warm and dm0 is None and not (chkfile and os.path.isfile(chkfile)):
            dm0 = density
        mf = run_scf(mol, settings, options, dm0=dm0, chkfile=chkfile)
        if warm and cover_nm is not None:  # start with as many states as the nearby geometry needed to cover
            settings = dataclasses.replace(settings, n_states=max(settings.n_states, min(warm_state_count(warm), max_states)))
            restart = _checkpoint_path(atoms, settings, options.checkpoint_dir, ".td.npz")
        guess = tddft_guess(mf, warm, settings.n_states, settings.tda) if warm else None
        mf, td, settings = _solve_tddft(mf, settings, options, restart, guess)
        if cover_nm is not None:
            mf, td, settings, restart = _grow_until_covered(mf, td, settings, options, atoms, cover_nm, max_states, restart)
        wall = time.perf_counter() - t0
        if save_warm_start_to:
            save_warm_start(mf, td, save_warm_start_to)
    for done in (chkfile, restart):  # the result goes to the store, the restart points are not needed
        _remove(done)
    e_ev = np.asarray(_to_numpy(td.e), dtype=float) * HARTREE_EV
    f = np.asarray(_to_numpy(td.oscillator_strength()), dtype=float)
    conv = _states_converged(td)
    if not conv.all():
        log.warning("TDDFT: states %s did not converge", np.nonzero(~conv)[0].tolist())
    return Excitations(
        energies_ev=e_ev,
        osc_strengths=f,
        e_tot_hartree=float(mf.e_tot),
        td_converged=conv,
        scf_strategy=mf.qdlib_strategy,
        settings=settings,
        backend=backend,
        wall_time_s=wall,
        versions=versions(backend),
        transitions=dominant_transitions(td.xy, int(np.count_nonzero(_to_numpy(mf.mo_occ) > 0))),
        start=f"warm:{os.path.basename(warm)}" if warm else "default",
    )

"""More states until a spectrum is complete down to a wavelength.

A distorted geometry's lowest states can all lie far to the red of a target's window. Asked to
cover a wavelength (``cover_nm`` of :func:`~qdlib.qchem.excitations`), the engine solves the
response again with more states, on the same ground state, until the highest one lies at or below
it; :func:`next_state_count` says how many to ask for next.

>>> next_state_count([2.0, 2.1, 2.2, 2.3, 2.4, 2.5], cover_ev=3.2, max_states=40)
16
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
from numpy.typing import ArrayLike

from .. import spectra
from .backends import _to_numpy
from .response import _solve_tddft
from .restart import _checkpoint_path, _remove
from .scf import _formula
from .settings import HARTREE_EV

__all__ = ["next_state_count"]

log = logging.getLogger(__name__)


def next_state_count(energies_ev: ArrayLike, cover_ev: float, max_states: int) -> int:
    """How many states to solve for next so that the highest reaches ``cover_ev`` (eV).

    The states crowd at higher energy, so the count of states below an energy ``E`` is fitted
    as a power law, ``N(E) = a (E - e0)^p`` (``e0`` half a spacing below the lowest state), on the
    upper half of the states found so far, and extrapolated to ``cover_ev`` with a fifth more for
    margin (falling short costs a whole new solve, a few states too many little). At least six
    more than now, at most three times as many (a few near-degenerate states make any
    extrapolation unreliable) and at most ``max_states``. Replayed on the stored covered verdicts
    (``benchmarks/state_count.py``), this needs a fifth fewer solves than extrapolating the mean
    spacing, and as many on the campaigns' milder designs, which rarely need to grow.

    Parameters
    ----------
    energies_ev : array_like
        Excitation energies found so far, eV.
    cover_ev : float
        Energy the highest state should reach, eV.
    max_states : int
        The most states to ask for.

    Returns
    -------
    int

    Examples
    --------
    >>> next_state_count([2.0, 2.1, 2.2, 2.3, 2.4, 2.5], cover_ev=3.2, max_states=40)
    16
    >>> next_state_count([2.0, 2.4, 2.6, 2.7, 2.8, 2.85], cover_ev=3.2, max_states=40)  # crowding
    15
    >>> next_state_count([2.0, 2.0, 2.0, 2.1, 2.1, 2.1], cover_ev=3.5, max_states=40)
    18
    """
    e = np.sort(np.asarray(energies_ev, dtype=float))
    n = e.size
    low, high = n + 6, min(3 * n, max_states)
    if n < 2:
        return int(min(max_states, low))
    e0 = e[0] - max(0.5 * (e[1] - e[0]), 1e-3)
    x = np.log(e[n // 2 :] - e0)
    if np.ptp(x) < 1e-6:  # degenerate: nothing to fit
        return int(min(max_states, max(low, high)))
    p, log_a = np.polyfit(x, np.log(np.arange(n // 2 + 1, n + 1)), 1)
    wanted = int(np.ceil(1.2 * np.exp(log_a) * (cover_ev - e0) ** p))
    return int(min(max_states, max(low, min(high, wanted))))


def _grow_until_covered(mf, td, settings, options, atoms, cover_nm, max_states, restart):
    """Solve again with more states until the highest lies at or below ``cover_nm``.

    More states can reveal what fewer did not: a ground state that is a saddle point, or a full
    TDDFT problem without real solution; :func:`_solve_tddft` then handles it as on the first solve.
    """
    cover_ev = float(spectra.nm_to_ev(cover_nm))
    while True:
        e_ev = np.asarray(_to_numpy(td.e), dtype=float) * HARTREE_EV
        if e_ev.size == 0 or e_ev.max() >= cover_ev or settings.n_states >= max_states:
            return mf, td, settings, restart
        n = next_state_count(e_ev, cover_ev, max_states)
        log.info("%s: %d states reach %.1f nm, short of %.1f nm; solving for %d",
                 _formula(mf.mol), e_ev.size, spectra.ev_to_nm(e_ev.max()), cover_nm, n)  # fmt: skip
        _remove(restart)
        settings = dataclasses.replace(settings, n_states=n)
        restart = _checkpoint_path(atoms, settings, options.checkpoint_dir, ".td.npz")
        found = np.array([np.concatenate([np.ravel(_to_numpy(x))] + ([] if settings.tda else [np.ravel(_to_numpy(y))]))
                          for x, y in td.xy])  # fmt: skip
        mf, td, settings = _solve_tddft(mf, settings, options, restart, found)

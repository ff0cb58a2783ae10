"""Cheap stand-ins for a TD-DFT call, for tests of the store and the executors."""

import os
import signal
import time

import numpy as np

from qdlib.qchem import Excitations, TDDFTSettings


def fake_excitations(atoms, settings=TDDFTSettings(), options=None):
    """Deterministic 'excitations' from the geometry: no quantum chemistry."""
    if any(s == "Te" for s in atoms.get_chemical_symbols()) and len(atoms) == 1:
        raise RuntimeError("fake failure for a lone Te atom")
    d = float(np.linalg.norm(atoms.positions[-1] - atoms.positions[0]))
    e = 2.0 + 0.1 * d + 0.2 * np.arange(settings.n_states)
    return Excitations(
        energies_ev=e,
        osc_strengths=np.full(settings.n_states, 0.01),
        e_tot_hartree=-d,
        td_converged=np.ones(settings.n_states, bool),
        scf_strategy="diis",
        settings=settings,
        backend="cpu",
        wall_time_s=0.0,
        versions={"pyscf": "fake"},
        transitions=[[(0, k, 0.9), (1, 0, 0.1)] for k in range(settings.n_states)] if d < 2.75 else [],
    )


def slow_fake_excitations(atoms, settings=TDDFTSettings(), options=None):
    time.sleep(float(os.environ.get("QDLIB_FAKE_DELAY_S", "0.1")))
    return fake_excitations(atoms, settings, options)


def write_in_worker(atoms, settings=TDDFTSettings(), options=None, *, url, delay_s=0.1, kill_marker=None):
    """Compute a fake result and store it from the worker itself, as cluster workers sharing a store do.

    Opens the store at ``url`` in the calling process and calls its ``get_or_compute`` with
    :func:`fake_excitations` after ``delay_s`` seconds; returns the result. The first call on a
    structure with ``atoms.info["kill"]`` set (the first to create the file ``kill_marker``) kills
    its own process with SIGKILL in the middle of its write: the row written, its transaction and
    lock still held, nothing committed.
    """
    from qdlib.qchem import EngineOptions
    from qdlib.store import ResultStore

    store = ResultStore(url)
    if atoms.info.get("kill") and kill_marker is not None:
        try:
            open(kill_marker, "x").close()  # exclusive: one caller only
        except FileExistsError:
            pass
        else:
            write = store._db._write

            def write_then_die(*args, **kwargs):
                write(*args, **kwargs)
                os.kill(os.getpid(), signal.SIGKILL)

            store._db._write = write_then_die

    def compute(atoms, settings, options):
        time.sleep(delay_s)
        return fake_excitations(atoms, settings, options)

    return store.get_or_compute(atoms, settings, options or EngineOptions(), compute=compute)

"""Map TD-DFT over many structures with any executor; the caller writes to the store.

Workers compute, the calling process is the only writer of the results
store, so a SQLite file is safe and a killed batch resumes where it
stopped. The executor is anything with ``submit`` returning
:class:`concurrent.futures.Future` objects:

* ``None``: compute in this process (no pickling; simplest to debug);
* a :class:`concurrent.futures.ProcessPoolExecutor` (what
  :func:`local_executor` makes): the local cores;
* a ``dask.distributed.Client``: a cluster. With dask-jobqueue on SLURM::

      from dask_jobqueue import SLURMCluster
      from dask.distributed import Client
      cluster = SLURMCluster(cores=8, memory="32GB", walltime="04:00:00")
      cluster.scale(jobs=10)
      report = compute_many(structures, executor=Client(cluster), store=store,
                            options=EngineOptions(threads=8))

  (``PBSCluster`` likewise). Workers need qdlib installed; only the
  structures, settings and results travel.

In the examples a stand-in for :func:`qdlib.qchem.excitations` gives a CdSe dimer of bond
length r one state at 6.5/r eV and fails beyond 3 Å, so that a batch runs in milliseconds
(notebooks 01, 04 and 05 map real TD-DFT over :func:`local_executor`):

>>> import numpy as np
>>> from ase import Atoms
>>> from qdlib.qchem import Excitations, TDDFTSettings
>>> from qdlib.store import ResultStore
>>> def fake_tddft(atoms, settings, options):
...     r = atoms.get_distance(0, 1)
...     if r > 3.0:
...         raise RuntimeError("SCF did not converge")
...     return Excitations(energies_ev=np.array([6.5 / r]), osc_strengths=np.array([0.1]), e_tot_hartree=-100.0,
...                        td_converged=np.ones(1, bool), scf_strategy="diis", settings=settings, backend="cpu",
...                        wall_time_s=0.0)
>>> dimers = [Atoms("CdSe", positions=[[0, 0, 0], [0, 0, r]]) for r in (2.5, 2.6, 3.5)]
>>> store = ResultStore("results.db")
>>> report = compute_many(dimers, TDDFTSettings(n_states=1), store=store, compute=fake_tddft, progress=False)
>>> {i: float(exc.energies_ev[0]) for i, exc in sorted(report.results.items())}, report.failures
({0: 2.6, 1: 2.5}, {2: 'RuntimeError: SCF did not converge'})

Run again, the stored results are found and the failure, remembered by the store, is not
tried again (``retry_failed=True`` would):

>>> report = compute_many(dimers, TDDFTSettings(n_states=1), store=store, compute=fake_tddft, progress=False)
>>> report.n_cached, report.n_computed, report.failures
(2, 0, {2: 'failed before (not retried): RuntimeError: SCF did not converge'})
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

from .qchem import EngineOptions, Excitations, TDDFTSettings, excitations, result_key
from .store import GeometryStore, ResultStore

__all__ = ["BatchReport", "compute_many", "relax_many", "local_executor", "map_tasks"]

log = logging.getLogger(__name__)

ComputeFn = Callable[[Atoms, TDDFTSettings, EngineOptions], Excitations]


@dataclass
class BatchReport:
    """What a batch did.

    Attributes
    ----------
    results : dict of int to Excitations (or ase.Atoms for :func:`relax_many`)
        By position in the input, for every structure with a result (stored or new).
    failures : dict of int to str
        By position, the error of each structure that failed.
    n_cached, n_computed : int
        Results found in the store, and results computed now.
    """

    results: dict[int, Excitations] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)
    n_cached: int = 0
    n_computed: int = 0


def local_executor(max_workers: int | None = None) -> cf.ProcessPoolExecutor:
    """A process pool over the local cores (spawned workers, safe with OpenMP).

    Workers start on the first submitted task:

    >>> with local_executor(max_workers=2) as pool:
    ...     type(pool).__name__
    'ProcessPoolExecutor'
    """
    import multiprocessing as mp

    return cf.ProcessPoolExecutor(max_workers=max_workers or os.cpu_count(), mp_context=mp.get_context("spawn"))


def _as_executor(executor):
    """Accept a dask ``Client`` where a concurrent.futures executor is expected.

    Each submission is a task of its own (``pure=False``). Dask names a pure task by its
    arguments, so a batch run again on the same client would be handed the first run's
    futures, failures included (a task whose worker died stays failed), instead of
    computing again; and a structure given twice would be one task.
    """
    if type(executor).__module__.startswith("distributed"):
        from distributed import Client

        if isinstance(executor, Client):
            return executor.get_executor(pure=False)
    return executor


def _run(fn: Callable, atoms: Atoms, settings: TDDFTSettings, options: EngineOptions):
    return fn(atoms, settings, options)


def compute_many(
    structures: Sequence[Atoms],
    settings: TDDFTSettings = TDDFTSettings(),
    options: EngineOptions = EngineOptions(),
    *,
    store: ResultStore | None = None,
    executor=None,
    compute: ComputeFn = excitations,
    labels: Callable[[int, Atoms], dict] | None = None,
    progress: bool = True,
    key: Callable[[Atoms, TDDFTSettings], str] = result_key,
    retry_failed: bool = False,
) -> BatchReport:
    """Compute excitations of many structures, skipping those already stored.

    A calculation that raised (an SCF with no stable solution, a solver that fails) is
    remembered in the store (:meth:`~qdlib.store.ResultStore.put_failure`) and reported again on a
    rerun without being computed, unless ``retry_failed``; a worker that died (the process killed,
    out of memory) is not a property of the structure and is not remembered.

    Parameters
    ----------
    structures : sequence of ase.Atoms
    settings, options : TDDFTSettings, EngineOptions
    store : ResultStore, optional
        Results found here are not recomputed; new ones are written here as
        each finishes.
    executor : None, concurrent.futures.Executor or dask.distributed.Client
        Where to compute (see the module docstring).
    compute : callable
        ``compute(atoms, settings, options) -> Excitations``; picklable for
        process or dask executors.
    labels : callable, optional
        ``labels(index, atoms) -> dict`` of extra key-value pairs to store.
    progress : bool
        Show a tqdm progress bar.
    key : callable
        ``key(atoms, settings) -> str``, the store key of a request (default
        :func:`~qdlib.qchem.result_key`; :func:`~qdlib.store.covered_key` for
        requests whose state count is decided while computing).
    retry_failed : bool
        Compute again the structures whose failure the store remembers.

    Returns
    -------
    BatchReport
        A structure that raises is recorded in ``failures`` and the batch goes on.

    Examples
    --------
    See the module docstring (a stand-in for TD-DFT, a store, a rerun that finds the stored
    results); :func:`local_executor` and a dask client are passed as ``executor``.
    """
    report = BatchReport()
    todo: list[int] = []
    for i, atoms in enumerate(structures):
        k = key(atoms, settings) if store is not None else None
        found = store.get_by_key(k) if store is not None else None
        failed = None if found is not None or store is None or retry_failed else store.failure(k)
        if found is not None:
            report.results[i] = found
            report.n_cached += 1
        elif failed is not None:
            report.failures[i] = f"failed before (not retried): {failed}"
        else:
            todo.append(i)
    if report.n_cached:
        log.info("%d of %d results already stored", report.n_cached, len(structures))
    if report.failures:
        log.warning("%d of %d failed in an earlier run and are not retried", len(report.failures), len(structures))

    for i, result, error in map_tasks(compute, structures, todo, settings, options, executor, "TD-DFT", progress):
        if error is not None:
            report.failures[i] = f"{type(error).__name__}: {error}"
            log.warning("structure %d (%s) failed: %s", i, structures[i].get_chemical_formula(), report.failures[i])
            if store is not None and _is_property_of_structure(error):
                store.put_failure(structures[i], key(structures[i], settings), report.failures[i])
            continue
        report.results[i] = result
        report.n_computed += 1
        if store is not None:
            store.put(structures[i], result, key=key(structures[i], settings), **(labels(i, structures[i]) if labels else {}))
    return report


def _is_property_of_structure(error: BaseException) -> bool:
    """Whether a calculation's error would come back on a rerun (worth remembering): not a lost worker or memory."""
    from concurrent.futures.process import BrokenProcessPool

    if isinstance(error, (BrokenProcessPool, MemoryError, OSError)) or type(error).__name__ == "KilledWorker":
        return False
    return isinstance(error, (RuntimeError, ArithmeticError, ValueError, np.linalg.LinAlgError))


def relax_many(
    structures: Sequence[Atoms],
    relax: Callable[[Atoms, TDDFTSettings, EngineOptions], Atoms],
    step: str,
    settings: TDDFTSettings = TDDFTSettings(),
    options: EngineOptions = EngineOptions(),
    *,
    store: GeometryStore | None = None,
    executor=None,
    progress: bool = True,
) -> BatchReport:
    """Relax many structures, skipping those already relaxed; each result stored as it finishes.

    Parameters
    ----------
    structures : sequence of ase.Atoms
        Starting geometries.
    relax : callable
        ``relax(atoms, settings, options) -> ase.Atoms`` (e.g.
        :func:`qdlib.generate.relax_ground_state`, or a ``functools.partial``
        of it fixing ``max_steps``); picklable for process or dask executors.
    step : str
        Names the relaxation in the store key (with the starting geometry and
        the settings), e.g. ``"xtb+S0:100"``; a different step is a different result.
    settings, options, store, executor, progress
        As :func:`compute_many`.

    Returns
    -------
    BatchReport
        ``results`` holds the relaxed geometries (their ``info`` carries the
        input's labels and the run's flags, e.g. ``optimization_converged``).

    Examples
    --------
    A stand-in "relaxation" that stretches a dimer by 0.1 Å (notebook 01 relaxes with DFT):

    >>> from ase import Atoms
    >>> from qdlib.store import GeometryStore
    >>> def stretch(atoms, settings, options):
    ...     out = atoms.copy()
    ...     out.positions[1, 2] += 0.1
    ...     out.info["optimization_converged"] = True
    ...     return out
    >>> dimers = [Atoms("CdSe", positions=[[0, 0, 0], [0, 0, r]], info={"index": k}) for k, r in enumerate((2.5, 2.6))]
    >>> store = GeometryStore("relaxed.db")
    >>> report = relax_many(dimers, stretch, "stretch", store=store, progress=False)
    >>> [round(float(report.results[i].get_distance(0, 1)), 2) for i in (0, 1)], report.results[0].info
    ([2.6, 2.7], {'index': 0, 'optimization_converged': True, 'step': 'stretch'})
    >>> relax_many(dimers, stretch, "stretch", store=store, progress=False).n_cached
    2
    """
    report = BatchReport()
    keys = [f"{result_key(atoms, settings)}:{step}" for atoms in structures]
    todo = []
    for i, key in enumerate(keys):
        found = store.get(key) if store is not None else None
        if found is not None:
            report.results[i] = found
            report.n_cached += 1
        else:
            todo.append(i)
    for i, relaxed, error in map_tasks(relax, structures, todo, settings, options, executor, f"relax {step}", progress):
        if error is not None:
            report.failures[i] = f"{type(error).__name__}: {error}"
            log.warning("relaxation of %d (%s) failed: %s", i, structures[i].get_chemical_formula(), report.failures[i])
            continue
        relaxed.info = {**structures[i].info, **relaxed.info, "step": step}
        report.results[i] = relaxed
        report.n_computed += 1
        if store is not None:
            store.put(keys[i], relaxed)
    return report


def map_tasks(
    fn: Callable,
    structures: Sequence[Atoms],
    todo: Sequence[int],
    settings: TDDFTSettings,
    options: EngineOptions,
    executor=None,
    desc: str = "TD-DFT",
    progress: bool = True,
) -> Iterator[tuple[int, object, BaseException | None]]:
    """``fn(structures[i], settings, options)`` for each ``i`` in ``todo``, on ``executor``.

    Yields ``(i, result, error)`` as each finishes (``error`` is ``None`` on
    success, ``result`` is ``None`` on failure), so the caller stores every
    result the moment it exists. A failure does not stop the others.

    >>> from ase import Atoms
    >>> def count_atoms(atoms, settings, options):
    ...     return len(atoms)
    >>> structures = [Atoms("CdSe"), Atoms("Cd2Se2"), Atoms("Cd3Se3")]
    >>> list(map_tasks(count_atoms, structures, [0, 2], settings=None, options=None, progress=False))
    [(0, 2, None), (2, 6, None)]
    """
    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), desc=desc, unit="structure", disable=not progress or not todo)
    done = 0
    pool = _as_executor(executor)
    try:
        if pool is None:
            for i in todo:
                try:
                    yield i, fn(structures[i], settings, options), None
                except Exception as exc:  # recorded, the batch goes on
                    yield i, None, exc
                bar.update()
                done += 1
                log.info("%s: %d of %d done", desc, done, len(todo))
        else:
            futures = {pool.submit(_run, fn, structures[i], settings, options): i for i in todo}
            for fut in cf.as_completed(futures):
                error = fut.exception()
                yield futures[fut], None if error else fut.result(), error
                bar.update()
                done += 1
                log.info("%s: %d of %d done", desc, done, len(todo))
    finally:
        bar.close()

"""Options several ``qdlib`` commands share: the TD-DFT engine, the local workers, the benchmark cases.

:func:`add_engine_args`, :func:`engine_options`
    ``--backend``, ``--threads``, ``--workers``, ``--checkpoint-dir``, ``--pyscf-verbose`` and the
    :class:`~qdlib.qchem.EngineOptions` they make.
:func:`local_executor`
    The pool of ``--workers`` local processes (None for one: work in this process).
:func:`add_case_args`
    ``--kinds``, ``--dots``, ``--edges``, ``--atoms``: the benchmark cases (:func:`qdlib.agents.all_cases`).

>>> import argparse
>>> p = argparse.ArgumentParser()
>>> add_engine_args(p)
>>> args = p.parse_args(["--backend", "cpu", "--checkpoint-dir", ""])
>>> options = engine_options(args)
>>> options.backend, options.checkpoint_dir, local_executor(args)
('cpu', None, None)
"""

from __future__ import annotations

import argparse

from ..paths import checkpoints_dir

__all__ = ["add_case_args", "add_engine_args", "engine_options", "local_executor"]


def add_engine_args(p: argparse.ArgumentParser) -> None:
    """The TD-DFT engine's options (:func:`engine_options`) and the number of local workers (:func:`local_executor`)."""
    p.add_argument("--backend", default="auto", choices=["auto", "cpu", "gpu"])
    p.add_argument("--threads", type=int, default=None, help="OpenMP threads per calculation")
    p.add_argument("--workers", type=int, default=1, help="parallel local processes")
    p.add_argument("--checkpoint-dir", default=str(checkpoints_dir()),
                   help="restart points of calculations in progress (SCF orbitals and TDDFT vectors: a restarted job resumes both); '' for none")
    p.add_argument("--pyscf-verbose", type=int, default=0, help="PySCF log level (4: every SCF and Davidson cycle)")


def engine_options(args: argparse.Namespace):
    """``EngineOptions`` from the arguments declared by :func:`add_engine_args`."""
    from ..qchem import EngineOptions

    return EngineOptions(backend=args.backend, threads=args.threads, checkpoint_dir=args.checkpoint_dir or None,
                         verbose=args.pyscf_verbose)


def local_executor(args: argparse.Namespace):
    """A pool of ``args.workers`` local processes (:func:`qdlib.compute.local_executor`); None for one worker."""
    from .. import compute

    return compute.local_executor(args.workers) if args.workers > 1 else None


def add_case_args(p: argparse.ArgumentParser) -> None:
    """The benchmark cases to work on (``qdlib.agents.all_cases`` arguments)."""
    p.add_argument("--kinds", nargs="*", default=["absorption"], choices=["absorption", "emission"])
    p.add_argument("--dots", nargs="*", default=["Cd6Se6", "Cd4Se4", "Cd5Te5", "Cd5Se1Te4"])
    p.add_argument("--edges", nargs="*", type=float, default=[4.0, 10.0], help="cuboid edges, Å")
    p.add_argument("--atoms", nargs="*", type=int, default=[1, 2, 3], help="numbers of movable atoms")

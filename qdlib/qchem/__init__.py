"""TD-DFT excitations of quantum dots with PySCF (CPU) or gpu4pyscf (GPU).

The defaults are the paper's: CAM-B3LYP, LanL2DZ basis and ECP on Cd/Se/Te,
neutral singlet, 6 singlet excited states, full linear response (RPA, as
Gaussian's ``td``). Absorption is computed at the given geometry; emission
follows Kasha's rule from the relaxed first excited state, or vertically at
a fixed geometry (the design verification: the designed geometry is the
emitting one: ``excitations(atoms).spectrum("emission")``).

One idea per module; every public name is importable from here:

:mod:`~qdlib.qchem.backends`
    CPU (PySCF) or GPU (gpu4pyscf): :func:`select_backend`, :func:`gpu_available`, :func:`versions`.
:mod:`~qdlib.qchem.settings`
    What is computed and what comes back: :class:`TDDFTSettings`, :class:`EngineOptions`,
    :class:`Excitations`, :func:`dominant_transitions`, and :func:`result_key`, the name of a
    calculation (geometry + settings) in the results store and on its restart files.
:mod:`~qdlib.qchem.accelerated`
    The integrals and response kernels that replace PySCF's own on the CPU (same answer, faster):
    long-range integrals and AO values on the grid kept in memory, the response's J, K and
    exchange-correlation kernel in the occupied–virtual space (``benchmarks/tddft_speed.py``).
:mod:`~qdlib.qchem.restart`
    Restart files of stopped calculations: :class:`ResponseCheckpoint`, :class:`OptimizationCheckpoint`.
:mod:`~qdlib.qchem.warmstart`
    A nearby geometry's solution as the solvers' first guess (:func:`save_warm_start`; ``EngineOptions.warm_start``).
:mod:`~qdlib.qchem.scf`
    The ground state: :func:`build_mol`, :func:`run_scf` (with retries), :func:`follow_internal_instability`.
:mod:`~qdlib.qchem.response`
    The excited states: :func:`run_tddft`, :func:`complex_instability`, the Tamm–Dancoff fallback.
:mod:`~qdlib.qchem.coverage`
    More states until a wavelength is covered: :func:`next_state_count`.
:mod:`~qdlib.qchem.engine`
    The single point: :func:`excitations`.
:mod:`~qdlib.qchem.geomopt`
    Relaxations on the engine's gradients (:func:`state_gradient`) and Kasha :func:`emission`.

Approximations that do change the answer are options whose error is
measured: the Tamm–Dancoff approximation (``tda``), density fitting
(``density_fit``), smaller grids (``grid_level``, ``response_grid_level``).

>>> from ase import Atoms
>>> exc = excitations(Atoms("Cd"), TDDFTSettings(n_states=2, grid_level=0))
>>> exc.wavelengths_nm.round(1)
array([242.5, 242.5])
"""

from .backends import BackendUnavailableError, gpu_available, select_backend, versions
from .coverage import next_state_count
from .engine import excitations
from .geomopt import emission, optimize_excited_state, optimize_ground_state, state_gradient
from .response import complex_instability, run_tddft
from .restart import OptimizationCheckpoint, ResponseCheckpoint
from .scf import SCFConvergenceError, build_mol, follow_internal_instability, run_scf
from .settings import (
    HARTREE_EV,
    EngineOptions,
    Excitations,
    TDDFTSettings,
    dominant_transitions,
    format_transition,
    result_key,
)
from .warmstart import save_warm_start

__all__ = [
    "HARTREE_EV",
    "TDDFTSettings",
    "EngineOptions",
    "Excitations",
    "SCFConvergenceError",
    "BackendUnavailableError",
    "select_backend",
    "gpu_available",
    "versions",
    "result_key",
    "build_mol",
    "run_scf",
    "run_tddft",
    "state_gradient",
    "ResponseCheckpoint",
    "OptimizationCheckpoint",
    "save_warm_start",
    "complex_instability",
    "follow_internal_instability",
    "dominant_transitions",
    "format_transition",
    "excitations",
    "next_state_count",
    "optimize_ground_state",
    "optimize_excited_state",
    "emission",
]

"""Structures for our own TD-DFT dataset (notebook 01).

:func:`random_structures`
    Random Cd_x Se_y Te_(x−y) clusters, the paper's way of covering
    compositions and sizes, to be relaxed by :func:`relax_ground_state`
    (GFN2-xTB pre-optimisation with tblite, then CAM-B3LYP/LanL2DZ with
    geomeTRIC) and, for emission, :func:`relax_s1`.
:func:`authors_structures`
    The authors' distinct structures (their Gaussian 16 geometries), to be
    recomputed with our engine: absorption at the ground-state geometries,
    vertical S1→S0 emission at the relaxed excited-state geometries.
:func:`sensitivity_set`
    Cd6Se6 with 1–3 atoms moved by controlled distances (0.1–1 Å) in random
    directions: how far a design may miss before TD-DFT notices (Fig. 6c).
:func:`design_region_set`
    The benchmark dots with 1–3 of their designed atoms displaced uniformly
    inside the paper's cuboids: the geometries a design agent visits, which
    the authors' training set (optimised structures only) does not cover.

Every geometry is reproducible on its own: geometry ``k`` of a case is drawn
from a generator seeded by ``(seed, dot, edge, n_movable, k)``, so asking for
more geometries later keeps the earlier ones (and their stored results).

>>> geoms = design_region_set(["Cd6Se6"], n_per_dot=6)
>>> geoms[0].info["edge_angstrom"], geoms[0].info["movable"]
(4.0, [11])

The relaxations and TD-DFT runs (:func:`relax_ground_state`, :func:`relax_s1`,
:func:`generate_random_dataset`) take minutes per structure: notebook
``01_dataset_generation`` runs them, as does ``qdlib random`` on the command line.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms

from .datasets import fetch_benchmark_dot, fetch_paper_dataset
from .qchem import EngineOptions, TDDFTSettings, excitations, optimize_excited_state, optimize_ground_state
from .structures import composition, displace_by, displace_in_cuboid, distinct_structures, random_cluster

__all__ = [
    "generate_random_dataset",
    "RandomDatasetRun",
    "random_structures",
    "preoptimize_xtb",
    "relax_ground_state",
    "relax_s1",
    "authors_structures",
    "design_region_set",
    "DESIGN_DOTS",
    "DESIGN_EDGES_ANGSTROM",
    "sensitivity_set",
    "SENSITIVITY_DISTANCES_ANGSTROM",
]

#: The paper's benchmark dots in the order their design-region sets are computed.
DESIGN_DOTS: tuple[str, ...] = ("Cd6Se6", "Cd4Se4", "Cd5Te5", "Cd5Se1Te4")

#: Cuboid edges of the paper's design tasks, Å.
DESIGN_EDGES_ANGSTROM: tuple[float, ...] = (4.0, 10.0)

#: Displacements of the sensitivity sweep, Å (the paper's Fig. 6c spans 0 → 1 Å).
SENSITIVITY_DISTANCES_ANGSTROM: tuple[float, ...] = (0.1, 0.2, 0.4, 0.7, 1.0)


def design_region_set(
    dots: Sequence[str] = DESIGN_DOTS,
    n_per_dot: int = 60,
    edges_angstrom: Sequence[float] = DESIGN_EDGES_ANGSTROM,
    n_movable: Sequence[int] = (1, 2, 3),
    seed: int = 0,
) -> list[Atoms]:
    """Benchmark dots with designed atoms displaced uniformly inside their cuboids.

    Parameters
    ----------
    dots : sequence of str
        Benchmark dots in the order to compute them (the paper's four; Cd6Se6 first).
    n_per_dot : int
        Geometries per dot, spread evenly over the cases ``edges × n_movable``
        (taken round-robin, so any prefix of a dot's list covers every case).
    edges_angstrom : sequence of float
        Cuboid edges, Å (the paper: 4 and 10), centred on the atoms' true positions.
    n_movable : sequence of int
        Numbers of displaced atoms (the designed atoms: the last Cd first).
    seed : int

    Returns
    -------
    list of ase.Atoms
        Dot by dot; ``info`` holds ``set`` (``"design-region"``), ``dot``,
        ``edge_angstrom``, ``n_movable``, ``movable``, ``case_index`` and
        ``displacement_angstrom`` (norm of each atom's move).

    Examples
    --------
    Six geometries of Cd6Se6 cover the six cases once:

    >>> geoms = design_region_set(["Cd6Se6"], n_per_dot=6)
    >>> [(g.info["edge_angstrom"], g.info["movable"]) for g in geoms]
    [(4.0, [11]), (4.0, [11, 10]), (4.0, [11, 10, 9]), (10.0, [11]), (10.0, [11, 10]), (10.0, [11, 10, 9])]
    >>> all(d <= 3 ** 0.5 * 2.0 for d in geoms[0].info["displacement_angstrom"])  # inside the 4 Å cube
    True
    """
    cases = [(edge, n) for edge in edges_angstrom for n in n_movable]
    out = []
    for d, name in enumerate(dots):
        bases = {n: fetch_benchmark_dot(name, n) for n in n_movable}
        for k in range(n_per_dot):
            c = k % len(cases)
            edge, n = cases[c]
            idx = k // len(cases)
            rng = np.random.default_rng([seed, d, int(edge * 1000), n, idx])
            base = bases[n]
            atoms = displace_in_cuboid(base, base.info["movable"], edge, rng)
            atoms.info = {
                "set": "design-region",
                "dot": name,
                "edge_angstrom": float(edge),
                "n_movable": int(n),
                "movable": [int(i) for i in base.info["movable"]],
                "case_index": idx,
                "displacement_angstrom": atoms.info["displacement_angstrom"],
            }
            out.append(atoms)
    return out


def sensitivity_set(
    dot: str = "Cd6Se6",
    distances_angstrom: Sequence[float] = SENSITIVITY_DISTANCES_ANGSTROM,
    n_movable: Sequence[int] = (1, 2, 3),
    n_directions: int = 3,
    seed: int = 0,
) -> list[Atoms]:
    """A benchmark dot with its designed atoms each moved by a set distance in a random direction.

    The undisplaced dot comes first (the reference, ``distance_angstrom`` 0), then the
    displaced ones direction by direction, so any prefix covers every distance and
    number of atoms; geometry ``(n, distance, k)`` is drawn from a generator
    seeded by ``(seed, n, distance, k)`` and does not change when more are asked for.

    Parameters
    ----------
    dot : str
        Benchmark dot (the paper: Cd6Se6), at the authors' ground-state geometry.
    distances_angstrom : sequence of float
        Length of each atom's move, Å.
    n_movable : sequence of int
        Numbers of moved atoms (the designed atoms of the design tasks).
    n_directions : int
        Random directions per distance and number of atoms.
    seed : int

    Returns
    -------
    list of ase.Atoms
        ``info`` holds ``set`` (``"sensitivity"``), ``dot``, ``n_movable``, ``movable``,
        ``distance_angstrom`` and ``direction_index`` (the reference: 0 atoms moved, 0 Å).

    Examples
    --------
    >>> geoms = sensitivity_set("Cd6Se6", distances_angstrom=(0.1, 1.0), n_movable=(1,), n_directions=2)
    >>> [(g.info["n_movable"], g.info["distance_angstrom"], g.info["direction_index"]) for g in geoms]
    [(0, 0.0, 0), (1, 0.1, 0), (1, 1.0, 0), (1, 0.1, 1), (1, 1.0, 1)]
    >>> round(float(((geoms[2].positions - geoms[0].positions) ** 2).sum() ** 0.5), 6)
    1.0
    """
    bases = {n: fetch_benchmark_dot(dot, n) for n in n_movable}
    reference = fetch_benchmark_dot(dot)
    reference.info = {"set": "sensitivity", "dot": dot, "n_movable": 0, "movable": [], "distance_angstrom": 0.0, "direction_index": 0}
    out = [reference]
    for k in range(n_directions):
        for n in n_movable:
            for dist in distances_angstrom:
                rng = np.random.default_rng([seed, n, int(round(dist * 1000)), k])
                base = bases[n]
                atoms = displace_by(base, base.info["movable"], dist, rng)
                atoms.info = {
                    "set": "sensitivity",
                    "dot": dot,
                    "n_movable": int(n),
                    "movable": [int(i) for i in base.info["movable"]],
                    "distance_angstrom": float(dist),
                    "direction_index": k,
                }
                out.append(atoms)
    return out


def random_structures(
    n: int,
    n_atoms: tuple[int, int] = (8, 12),
    se_fraction: float | None = None,
    seed: int = 0,
) -> list[Atoms]:
    """Random connected Cd_x Se_y Te_(x−y) starting geometries (the paper's generation step).

    Parameters
    ----------
    n : int
        Number of structures.
    n_atoms : (int, int)
        Smallest and largest size (even atom counts in between are drawn
        uniformly; the paper: 8–30).
    se_fraction : float or None
        Composition rule: ``None`` draws the number of Se uniformly from
        0..x (the rest Te); a number fixes y = round(se_fraction · x).
    seed : int
        Structure ``k`` comes from a generator seeded by ``(seed, k)``, so a
        longer list keeps the earlier structures.

    Returns
    -------
    list of ase.Atoms
        ``info``: ``set`` (``"random"``), ``seed``, ``index``, ``composition``.

    Examples
    --------
    >>> [a.info["composition"] for a in random_structures(3, n_atoms=(8, 12), seed=0)]
    ['Cd6Se4Te2', 'Cd5Se5Te0', 'Cd6Se0Te6']
    >>> [a.info["composition"] for a in random_structures(2, n_atoms=(8, 8), se_fraction=0.5, seed=0)]
    ['Cd4Se2Te2', 'Cd4Se2Te2']
    """
    lo, hi = n_atoms
    sizes = [k for k in range(lo + lo % 2, hi + 1, 2)]
    if not sizes:
        raise ValueError(f"no even atom count in {n_atoms}")
    out = []
    for k in range(n):
        rng = np.random.default_rng([seed, k])
        size = int(rng.choice(sizes))
        n_se = None if se_fraction is None else int(round(se_fraction * size // 2))
        atoms = random_cluster(size, rng, n_se=n_se)
        atoms.info = {"set": "random", "seed": seed, "index": k, "composition": composition(atoms)}
        out.append(atoms)
    return out


def preoptimize_xtb(atoms: Atoms, fmax_ev_per_angstrom: float = 0.02, max_steps: int = 500) -> Atoms:
    """GFN2-xTB relaxation (tblite, ASE BFGS): a cheap first relaxation before DFT.

    GFN2-xTB has parameters for Cd, Se and Te; a random start relaxes in
    about a second, which saves most of the DFT optimisation steps.

    Returns
    -------
    ase.Atoms
        A new structure; ``info["xtb_converged"]``, ``info["xtb_steps"]`` and
        ``info["xtb_energy_ev"]`` record the run.

    Raises
    ------
    RuntimeError
        If the tight-binding calculation fails (e.g. its SCF does not converge).

    Examples
    --------
    A CdSe dimer started at 2.6 Å (notebook 01 relaxes the random clusters):

    >>> from ase import Atoms
    >>> relaxed = preoptimize_xtb(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]]))
    >>> relaxed.info["xtb_converged"], round(float(relaxed.get_distance(0, 1)), 2)
    (True, 2.31)
    """
    from ase.optimize import BFGS
    from tblite.ase import TBLite

    out = atoms.copy()
    out.calc = TBLite(method="GFN2-xTB", verbosity=0)
    try:
        opt = BFGS(out, logfile=None)
        converged = opt.run(fmax=fmax_ev_per_angstrom, steps=max_steps)
        energy = float(out.get_potential_energy())
    except Exception as exc:  # tblite raises its own error types
        raise RuntimeError(f"GFN2-xTB failed for {composition(atoms)}: {exc}") from exc
    out.calc = None
    out.info.update(xtb_converged=bool(converged), xtb_steps=int(opt.nsteps), xtb_energy_ev=energy)
    return out


def relax_ground_state(
    atoms: Atoms,
    settings: TDDFTSettings = TDDFTSettings(),
    options: EngineOptions = EngineOptions(),
    max_steps: int = 100,
) -> Atoms:
    """GFN2-xTB pre-optimisation, then the DFT ground state (geomeTRIC) at ``settings``.

    ``max_steps`` caps the DFT steps; a capped run is marked
    ``info["optimization_converged"] = False`` (and is not dataset material).

    A DFT optimisation takes minutes even for small dots: notebook ``01_dataset_generation``
    runs it (through :func:`generate_random_dataset`); ``qdlib random`` does on the command line.
    """
    pre = preoptimize_xtb(atoms)
    out = optimize_ground_state(pre, settings, options, max_steps=max_steps)
    out.info.update({k: v for k, v in pre.info.items() if k not in out.info})
    return out


def relax_s1(
    atoms: Atoms,
    settings: TDDFTSettings = TDDFTSettings(),
    options: EngineOptions = EngineOptions(),
    max_steps: int = 100,
) -> Atoms:
    """The relaxed first excited state (TDDFT gradients, geomeTRIC) from a ground-state geometry.

    Excited-state gradients take minutes even for small dots: notebook ``01_dataset_generation``
    runs this step (through :func:`generate_random_dataset`).
    """
    return optimize_excited_state(atoms, 1, settings, options, max_steps=max_steps)


def authors_structures(kind: str = "absorption", max_atoms: int = 30) -> list[Atoms]:
    """The authors' distinct structures of one set, smallest first.

    ``kind="absorption"`` gives their ground-state geometries,
    ``"emission"`` their relaxed S1 geometries. ``info``: ``set``
    (``"authors"``), ``geometry`` (``"S0"`` or ``"S1"``), ``group`` and
    ``composition``.

    >>> [a.info["composition"] for a in authors_structures("absorption", max_atoms=8)]
    ['Cd4Se4Te0', 'Cd4Se0Te4', 'Cd4Se2Te2', 'Cd4Se1Te3']
    """
    ds = fetch_paper_dataset(kind)
    out = []
    for atoms in sorted(ds.structures, key=len):
        if len(atoms) <= max_atoms:
            a = atoms.copy()
            a.info = {
                "set": "authors",
                "geometry": "S0" if kind == "absorption" else "S1",
                "group": int(atoms.info["group"]),
                "composition": atoms.info["composition"],
            }
            out.append(a)
    return out


@dataclass
class RandomDatasetRun:
    """What :func:`generate_random_dataset` made, by structure index.

    Attributes
    ----------
    starts : list of ase.Atoms
        The random starting geometries.
    ground, excited : dict of int to ase.Atoms
        Relaxed S0 (GFN2-xTB then DFT) and relaxed S1 geometries.
    absorption, emission : dict of int to Excitations
        TD-DFT at the S0 geometries (absorption) and at the S1 geometries (emission).
    failures : dict of str to dict of int to str
        Per step (``"S0"``, ``"S1"``, ``"absorption"``, ``"emission"``), the errors.
    skipped : list of int
        Structures whose ground-state optimisation did not converge within the step cap:
        no TD-DFT is run on them.
    same_minimum : dict of int to int
        Converged structures whose relaxed ground state is one found before from another
        start (:func:`~qdlib.structures.same_structure`), mapped to the first such index.
        They keep their absorption (a fact of the run) but are not chosen for the emission.
    """

    starts: list[Atoms]
    ground: dict = field(default_factory=dict)
    excited: dict = field(default_factory=dict)
    absorption: dict = field(default_factory=dict)
    emission: dict = field(default_factory=dict)
    failures: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)
    same_minimum: dict = field(default_factory=dict)


def generate_random_dataset(
    n: int,
    n_atoms: tuple[int, int] = (8, 12),
    se_fraction: float | None = None,
    seed: int = 0,
    n_emission: int = 0,
    max_opt_steps: int = 100,
    settings: TDDFTSettings = TDDFTSettings(),
    options: EngineOptions = EngineOptions(),
    stores: str | Path | None = None,
    executor=None,
    progress: bool = True,
    compute=None,
) -> RandomDatasetRun:
    """The paper's data step end to end: random clusters → relaxed S0 → absorption; S1 → emission.

    Parameters
    ----------
    n, n_atoms, se_fraction, seed
        As :func:`random_structures`.
    n_emission : int
        For this many structures with a converged ground state of their own
        (not a minimum reached before from another start), the smallest
        first (then by index), also relax S1 and compute the emission there:
        an excited-state gradient costs several ground-state ones, and more
        so the larger the cluster.
    max_opt_steps : int
        Cap on the DFT optimisation steps (geomeTRIC); runs that hit it are
        kept in the geometry store, flagged unconverged, and get no TD-DFT.
    settings, options
        TD-DFT settings and engine options for every step.
    stores : path, optional
        Directory holding ``random_relaxed.json`` (relaxed geometries) and
        ``random.json`` (excitations); every result is written as it finishes,
        so an interrupted run resumes. ``None`` keeps nothing.
    executor
        Where to run (see :mod:`qdlib.compute`): a process pool or a dask client.
    compute : callable, optional
        The TD-DFT call (default :func:`qdlib.qchem.excitations`).

    Returns
    -------
    RandomDatasetRun

    Notes
    -----
    Minutes per structure (DFT relaxations of the ground and excited states, then TD-DFT), too
    slow for a docstring example: notebook ``01_dataset_generation`` runs it for a few small
    clusters, ``qdlib random`` from the command line.
    """
    from .compute import compute_many, relax_many
    from .store import GeometryStore, ResultStore

    geo_store = res_store = None
    if stores is not None:
        Path(stores).mkdir(parents=True, exist_ok=True)
        geo_store, res_store = GeometryStore(Path(stores) / "random_relaxed.json"), ResultStore(Path(stores) / "random.json")
    run = RandomDatasetRun(random_structures(n, n_atoms, se_fraction, seed))
    common = dict(settings=settings, options=options, executor=executor, progress=progress)
    tddft = dict(common, compute=compute or excitations)

    s0 = relax_many(run.starts, functools.partial(relax_ground_state, max_steps=max_opt_steps),
                    f"xtb+S0:{max_opt_steps}", store=geo_store, **common)  # fmt: skip
    run.ground, run.failures["S0"] = s0.results, s0.failures
    done = sorted(i for i, a in s0.results.items() if a.info.get("optimization_converged"))
    run.skipped = sorted(set(s0.results) - set(done))

    def labels(geometry):
        keys = ("set", "seed", "index", "composition")
        return lambda i, atoms: {**{k: atoms.info[k] for k in keys}, "geometry": geometry}

    ground = [run.ground[i] for i in done]
    ab = compute_many(ground, store=res_store, labels=labels("S0"), **tddft)
    run.absorption = {done[k]: r for k, r in ab.results.items()}
    run.failures["absorption"] = {done[k]: e for k, e in ab.failures.items()}

    repeats = distinct_structures([run.ground[i] for i in done])
    run.same_minimum = {done[k]: done[first] for k, first in repeats.items()}
    distinct = [i for i in done if i not in run.same_minimum]
    chosen = sorted(distinct, key=lambda i: (len(run.ground[i]), i))[:n_emission]
    s1 = relax_many([run.ground[i] for i in chosen], functools.partial(relax_s1, max_steps=max_opt_steps),
                    f"S1:{max_opt_steps}", store=geo_store, **common)  # fmt: skip
    run.excited = {chosen[k]: a for k, a in s1.results.items()}
    run.failures["S1"] = {chosen[k]: e for k, e in s1.failures.items()}
    emitted = sorted(i for i, a in run.excited.items() if a.info.get("optimization_converged"))
    em = compute_many([run.excited[i] for i in emitted], store=res_store, labels=labels("S1"), **tddft)
    run.emission = {emitted[k]: r for k, r in em.results.items()}
    run.failures["emission"] = {emitted[k]: e for k, e in em.failures.items()}
    return run

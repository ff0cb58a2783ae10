"""The dataset jobs of the ``qdlib`` command: TD-DFT of one structure, and of the sets our dataset holds.

``qdlib tddft``
    One structure file at the paper settings: excitations printed, the spectrum written beside it.
``qdlib design-region``, ``qdlib sensitivity``, ``qdlib authors``
    TD-DFT of the benchmark dots with displaced atoms, of a dot with atoms moved by set distances,
    and of the authors' structures, each into a results store (resumable).
``qdlib random``
    The generation pipeline of random clusters (:func:`qdlib.generate.generate_random_dataset`).

:func:`add_commands` registers them on the parser :func:`qdlib.cli.build_parser` builds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..paths import store_path, stores_dir
from ._options import add_engine_args, engine_options, local_executor

__all__ = ["DARK_F", "add_commands"]

#: Oscillator strength below which a transition is called dark.
DARK_F = 1e-3


def _tddft(args: argparse.Namespace) -> int:
    import numpy as np

    from .. import plotting, qchem, spectra
    from ..store import ResultStore
    from ..structures import read, write

    atoms = read(args.file)
    settings = qchem.TDDFTSettings(n_states=args.n_states, tda=args.tda, grid_level=args.grid_level)
    options = qchem.EngineOptions(backend=args.backend, threads=args.threads)
    kind = "emission" if args.emission else "absorption"
    out_dir = Path(args.output) if args.output else args.file.parent
    stem = out_dir / f"{args.file.stem}_{kind}"
    outputs = [Path(f"{stem}.csv"), Path(f"{stem}.png")]
    if args.emission and not args.vertical:
        outputs.append(out_dir / f"{args.file.stem}_S1.xyz")
    existing = [str(p) for p in outputs if p.exists()]
    if existing and not args.force:  # checked before any work is done
        raise FileExistsError(f"would overwrite {', '.join(existing)}; pass --force, or --output another folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.emission and not args.vertical:
        exc, relaxed = qchem.emission(atoms, settings, options)
        write(outputs[2], relaxed)
        print(f"relaxed S1 geometry written to {outputs[2]}")
        how = f"computed in {exc.wall_time_s:.1f} s"
    elif args.store:
        store = ResultStore(args.store)
        exc = store.get(atoms, settings)
        if exc is not None:
            how = f"from the store {args.store} (computed there in {exc.wall_time_s:.1f} s, {exc.backend}, PySCF {exc.versions.get('pyscf', '?')})"
        else:
            exc = store.get_or_compute(atoms, settings, options, compute=qchem.excitations)
            how = f"computed in {exc.wall_time_s:.1f} s, stored in {args.store}"
    else:
        exc = qchem.excitations(atoms, settings, options)
        how = f"computed in {exc.wall_time_s:.1f} s"
    print(f"{atoms.get_chemical_formula()}: {settings.xc}/{settings.basis}, {exc.backend}; {how}")
    print(exc.table())
    lam, f = exc.wavelengths_nm, exc.osc_strengths
    if kind == "emission":
        lam, f = lam[:1], f[:1]
        if f[0] < DARK_F:
            print(f"warning: S1 is dark (f = {f[0]:.4f}): by Kasha's rule this geometry emits (almost) nothing; "
                  "the band drawn is that small transition")  # fmt: skip
    elif np.all(f < DARK_F):
        print(f"warning: every state is dark (f < {DARK_F:g}): no absorption band")
    grid = spectra.wavelength_grid(kind)
    outside = (lam < grid[0]) | (lam > grid[-1])
    plot_grid = grid
    if outside.any():
        step = grid[1] - grid[0]
        lo = min(grid[0], step * np.floor(0.9 * lam.min() / step))
        hi = max(grid[-1], step * np.ceil(1.15 * lam.max() / step))
        plot_grid = np.arange(lo, hi + step / 2, step)
        print(f"warning: {int(outside.sum())} of {lam.size} transition(s) lie outside the paper's {kind} grid "
              f"({grid[0]:g}–{grid[-1]:g} nm): {', '.join(f'{x:.1f}' for x in np.sort(lam[outside]))} nm; "
              f"the plot covers {plot_grid[0]:g}–{plot_grid[-1]:g} nm, the CSV the paper grid")  # fmt: skip
    eps = exc.spectrum(kind, grid)
    np.savetxt(outputs[0], np.column_stack([grid, eps]), delimiter=",", header="wavelength_nm,epsilon_L_per_mol_cm", comments="")
    shown = exc.spectrum(kind, plot_grid)
    ax = plotting.plot_spectrum(plot_grid, shown, label=kind)
    plotting.plot_sticks(lam, f, ax=ax)
    peak = f"peak {spectra.peak_wavelength(shown, plot_grid):.1f} nm" if shown.max() > 1.0 else "no band"
    ax.set_title(f"{atoms.get_chemical_formula()} {kind} ({peak})")
    ax.figure.savefig(outputs[1], dpi=150, bbox_inches="tight")
    print(f"spectrum written to {outputs[0]} and {outputs[1]}")
    return 0


def _compute_set(geoms, args, store_path, labels_of) -> int:
    """TD-DFT of ``geoms`` into the store at ``store_path`` (resumable); prints what happened."""
    from .. import qchem
    from ..compute import compute_many
    from ..store import ResultStore

    store = ResultStore(store_path)
    options = engine_options(args)
    executor = local_executor(args)
    labels = lambda i, atoms: labels_of(atoms)
    report = compute_many(geoms, qchem.TDDFTSettings(), options, store=store, executor=executor, labels=labels)
    print(f"{len(geoms)} geometries: {report.n_cached} stored before, {report.n_computed} computed, {len(report.failures)} failed")
    for i, err in sorted(report.failures.items()):
        print(f"  {i} {geoms[i].info.get('composition', geoms[i].get_chemical_formula())}: {err}")
    return 1 if report.failures else 0


def _design_region(args: argparse.Namespace) -> int:
    from ..generate import DESIGN_DOTS, design_region_set

    geoms = design_region_set(args.dots or DESIGN_DOTS, args.n_per_dot, seed=args.seed)
    if args.skip:  # start later in each dot's list (a second job working from the middle)
        position: dict[str, int] = {}
        kept = []
        for g in geoms:
            k = position[g.info["dot"]] = position.get(g.info["dot"], -1) + 1
            if k >= args.skip:
                kept.append(g)
        geoms = kept
    keys = ("set", "dot", "edge_angstrom", "n_movable", "case_index")
    return _compute_set(geoms, args, args.store, lambda atoms: {k: atoms.info[k] for k in keys})


def _sensitivity(args: argparse.Namespace) -> int:
    from ..generate import SENSITIVITY_DISTANCES_ANGSTROM, sensitivity_set

    geoms = sensitivity_set(args.dot, args.distances or SENSITIVITY_DISTANCES_ANGSTROM, args.atoms, args.n_directions, seed=args.seed)
    keys = ("set", "dot", "n_movable", "distance_angstrom", "direction_index")
    if args.cover:  # as a verdict sees them: states up to the target's window (qdlib.verdict)
        from ..references import case_window, compute_covering, cover_label

        window = case_window(args.dot, "absorption")
        for g in geoms:
            g.info = {k: g.info[k] for k in keys} | cover_label(window)
        executor = local_executor(args)
        options = engine_options(args)
        if args.warm:  # every geometry starts from the undisplaced dot's solution (qdlib.qchem.warmstart)
            import dataclasses

            from ..references import reference_frame, warm_start_point

            cover = round(float(window.cover_nm), 2)
            point = warm_start_point(reference_frame(args.dot, "absorption", window), f"{args.dot}_absorption", cover,
                                     options=options, max_states=args.max_states)  # fmt: skip
            options = dataclasses.replace(options, warm_start=point)
        report = compute_covering(geoms, window, args.store or store_path("verdicts"), options=options,
                                  executor=executor, max_states=args.max_states)  # fmt: skip
        print(f"{len(geoms)} geometries: {report.n_cached} stored before, {report.n_computed} computed, {len(report.failures)} failed")
        return 1 if report.failures else 0
    return _compute_set(geoms, args, args.store or store_path("sensitivity"), lambda atoms: {k: atoms.info[k] for k in keys})


def _authors(args: argparse.Namespace) -> int:
    from ..generate import authors_structures
    from ..tddft_data import stored_authors_groups

    geoms = authors_structures(args.kind, args.max_atoms)
    if args.compositions:
        geoms = [a for a in geoms if a.info["composition"] in args.compositions]
        missing = set(args.compositions) - {a.info["composition"] for a in geoms}
        if missing:
            raise ValueError(f"not among the authors' {args.kind} structures: {sorted(missing)}")
    store = args.store or store_path(f"authors_{args.kind}")
    done = stored_authors_groups(store, args.kind)
    todo = [a for a in geoms if a.info["group"] not in done]
    if len(todo) < len(geoms):
        print(f"{len(geoms) - len(todo)} structure(s) already stored at the paper settings (any response grid): not recomputed")
    return _compute_set(todo, args, store, lambda atoms: dict(atoms.info))


def _random(args: argparse.Namespace) -> int:
    from ..generate import generate_random_dataset

    options = engine_options(args)
    executor = local_executor(args)
    run = generate_random_dataset(
        args.n, tuple(args.n_atoms), args.se_fraction, args.seed, args.emission, args.max_opt_steps,
        options=options, stores=args.stores, executor=executor,
    )  # fmt: skip
    print(
        f"{len(run.starts)} random structures: {len(run.ground)} relaxed ({len(run.skipped)} not converged), "
        f"{len(run.absorption)} absorption, {len(run.excited)} S1 relaxed, {len(run.emission)} emission"
    )
    for i, first in sorted(run.same_minimum.items()):
        print(f"  {i} {run.starts[i].info['composition']}: relaxed to the minimum of {first}")
    failed = [(step, i, err) for step, errs in run.failures.items() for i, err in sorted(errs.items())]
    for step, i, err in failed:
        print(f"  {step} {i} {run.starts[i].info['composition']}: {err}")
    return 1 if failed else 0


def add_commands(command) -> None:
    """Register ``tddft``, ``design-region``, ``sensitivity``, ``authors`` and ``random`` through ``command(name, **kwargs)``."""
    t = command("tddft", help="TD-DFT excitations and spectrum of one structure file")
    t.add_argument("file", type=Path, help="xyz/extxyz structure, Å")
    t.add_argument("--emission", action="store_true", help="emission (relax S1, Kasha) instead of absorption")
    t.add_argument("--vertical", action="store_true", help="with --emission: S1→S0 at the given geometry")
    t.add_argument("--backend", default="auto", choices=["auto", "cpu", "gpu"])
    t.add_argument("--threads", type=int, default=None, help="OpenMP threads (default: all cores)")
    t.add_argument("--n-states", type=int, default=6, help="excited states (paper: 6)")
    t.add_argument("--tda", action="store_true", help="Tamm-Dancoff approximation (faster, approximate)")
    t.add_argument("--grid-level", type=int, default=3, help="DFT grid level (paper settings: 3)")
    t.add_argument("--store", help="results store (SQLite path or PostgreSQL URL) to reuse and record results")
    t.add_argument("--output", help="folder for the CSV, PNG (and S1 geometry); default: beside the input")
    t.add_argument("--force", action="store_true", help="overwrite earlier outputs")
    t.set_defaults(func=_tddft)
    d = command("design-region", help="TD-DFT of benchmark dots with displaced atoms, into a results store")
    d.add_argument("--dots", nargs="*", help="dots, in order (default: the four benchmark dots, Cd6Se6 first)")
    d.add_argument("--n-per-dot", type=int, default=60, help="geometries per dot (paper cases round-robin)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--skip", type=int, default=0, help="skip the first SKIP geometries of each dot (to run a second job from the middle)")
    d.add_argument("--store", default=str(store_path("design_region")), help="results store (.json, SQLite path or PostgreSQL URL)")
    add_engine_args(d)
    d.set_defaults(func=_design_region)
    s = command("sensitivity", help="TD-DFT of a benchmark dot with atoms moved by set distances (Fig. 6c), into a results store")
    s.add_argument("--dot", default="Cd6Se6")
    s.add_argument("--distances", nargs="*", type=float, help="move of each atom, Å (default: qdlib.generate.SENSITIVITY_DISTANCES_ANGSTROM)")
    s.add_argument("--atoms", nargs="*", type=int, default=[1, 2, 3], help="numbers of moved atoms")
    s.add_argument("--n-directions", type=int, default=3, help="random directions per distance and number of atoms")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--store", default=None,
                   help="results store (default data/stores/sensitivity.json; with --cover data/stores/verdicts.json)")
    s.add_argument("--cover", action="store_true",
                   help="solve for states until the target's window is covered (as a verdict does; qdlib.verdict)")
    s.add_argument("--max-states", type=int, default=40, help="with --cover: most states solved for")
    add_engine_args(s)
    s.add_argument("--warm", action="store_true",
                   help="with --cover: start every geometry from the undisplaced dot's solution (SCF density, "
                        "excitation vectors) instead of the default guesses")
    s.set_defaults(func=_sensitivity)
    a = command("authors", help="TD-DFT of the authors' structures (their geometries), into a results store")
    a.add_argument("--kind", default="absorption", choices=["absorption", "emission"],
                   help="absorption: ground-state geometries; emission: relaxed S1 geometries (vertical S1→S0)")
    a.add_argument("--max-atoms", type=int, default=18)
    a.add_argument("--compositions", nargs="*", help="only these, e.g. Cd15Se12Te3")
    a.add_argument("--store", help="results store (default data/stores/authors_<kind>.json)")
    add_engine_args(a)
    a.set_defaults(func=_authors)
    r = command("random", help="random clusters → GFN2-xTB → DFT optimisation → absorption (and S1 → emission)")
    r.add_argument("--n", type=int, default=10, help="number of structures")
    r.add_argument("--n-atoms", type=int, nargs=2, default=[8, 12], metavar=("MIN", "MAX"), help="size range (even counts)")
    r.add_argument("--se-fraction", type=float, default=None, help="fixed Se share of the anions (default: uniform)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--emission", type=int, default=2, help="relax S1 and compute emission for this many, the smallest first")
    r.add_argument("--max-opt-steps", type=int, default=100, help="cap on DFT optimisation steps")
    r.add_argument("--stores", default=str(stores_dir()), help="directory of the random_relaxed and random stores")
    add_engine_args(r)
    r.set_defaults(func=_random)

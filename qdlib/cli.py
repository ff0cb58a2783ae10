"""The ``qdlib`` command line.

``qdlib reproduce [--profile default|paper]``
    execute the notebooks in order with papermill;
``qdlib tddft FILE.xyz [--emission] [--backend auto|cpu|gpu]``
    TD-DFT excitations of one structure at the paper settings: prints them and
    writes the spectrum as CSV and PNG beside the input.
``qdlib design-region [--dots ...] [--n-per-dot 60] [--store PATH]``
    TD-DFT of the benchmark dots with displaced atoms (our dataset's
    design-region set), resumable through the results store.

>>> main(["--help"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

__all__ = ["main"]


def _reproduce(args: argparse.Namespace) -> int:
    from .reproduce import reproduce

    runs = reproduce(profile=args.profile, only=args.only)
    total = sum(r.wall_time_s for r in runs)
    for r in runs:
        print(f"{r.notebook.name:40s} {r.wall_time_s:8.1f} s  -> {r.output}")
    print(f"{len(runs)} notebook(s), {total:.1f} s in all (profile {args.profile})")
    return 0


def _tddft(args: argparse.Namespace) -> int:
    import numpy as np

    from . import plotting, qchem, spectra
    from .structures import read
    from .store import ResultStore

    atoms = read(args.file)
    settings = qchem.TDDFTSettings(n_states=args.n_states, tda=args.tda, grid_level=args.grid_level)
    options = qchem.EngineOptions(backend=args.backend, threads=args.threads)
    kind = "emission" if args.emission else "absorption"
    if args.emission and not args.vertical:
        exc, relaxed = qchem.emission(atoms, settings, options)
        out_xyz = args.file.with_name(args.file.stem + "_S1.xyz")
        relaxed.write(out_xyz)
        print(f"relaxed S1 geometry written to {out_xyz}")
    elif args.store:
        exc = ResultStore(args.store).get_or_compute(atoms, settings, options)
    else:
        exc = qchem.excitations(atoms, settings, options)
    print(f"{atoms.get_chemical_formula()}: {settings.xc}/{settings.basis}, {exc.backend}, {exc.wall_time_s:.1f} s")
    print(exc.table())
    grid = spectra.wavelength_grid(kind)
    eps = exc.spectrum(kind, grid)
    stem = args.file.with_name(f"{args.file.stem}_{kind}")
    np.savetxt(f"{stem}.csv", np.column_stack([grid, eps]), delimiter=",", header="wavelength_nm,epsilon_L_per_mol_cm", comments="")
    ax = plotting.plot_spectrum(grid, eps, label=kind)
    sticks = slice(0, 1) if kind == "emission" else slice(None)
    plotting.plot_sticks(exc.wavelengths_nm[sticks], exc.osc_strengths[sticks], ax=ax)
    ax.set_title(f"{atoms.get_chemical_formula()} {kind} (peak {spectra.peak_wavelength(eps, grid):.1f} nm)")
    ax.figure.savefig(f"{stem}.png", dpi=150, bbox_inches="tight")
    print(f"spectrum written to {stem}.csv and {stem}.png")
    return 0


def _design_region(args: argparse.Namespace) -> int:
    from . import qchem
    from .compute import compute_many, local_executor
    from .generate import DESIGN_DOTS, design_region_set
    from .store import ResultStore

    geoms = design_region_set(args.dots or DESIGN_DOTS, args.n_per_dot, seed=args.seed)
    store = ResultStore(args.store)
    options = qchem.EngineOptions(backend=args.backend, threads=args.threads)
    executor = local_executor(args.workers) if args.workers > 1 else None
    labels = lambda i, atoms: {k: atoms.info[k] for k in ("set", "dot", "edge_angstrom", "n_movable")}  # noqa: E731
    report = compute_many(geoms, qchem.TDDFTSettings(), options, store=store, executor=executor, labels=labels)
    print(f"{len(geoms)} geometries: {report.n_cached} stored before, {report.n_computed} computed, {len(report.failures)} failed")
    for i, err in sorted(report.failures.items()):
        print(f"  {i} {geoms[i].info['dot']}: {err}")
    return 1 if report.failures else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qdlib", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("reproduce", help="execute the notebooks in order with papermill")
    p.add_argument("--profile", default="default", help="parameter profile under params/ (default, paper)")
    p.add_argument("--only", nargs="*", help="notebook name prefixes to run, e.g. 01 02")
    p.set_defaults(func=_reproduce)
    t = sub.add_parser("tddft", help="TD-DFT excitations and spectrum of one structure file")
    t.add_argument("file", type=Path, help="xyz/extxyz structure, Å")
    t.add_argument("--emission", action="store_true", help="emission (relax S1, Kasha) instead of absorption")
    t.add_argument("--vertical", action="store_true", help="with --emission: S1→S0 at the given geometry")
    t.add_argument("--backend", default="auto", choices=["auto", "cpu", "gpu"])
    t.add_argument("--threads", type=int, default=None, help="OpenMP threads (default: all cores)")
    t.add_argument("--n-states", type=int, default=6, help="excited states (paper: 6)")
    t.add_argument("--tda", action="store_true", help="Tamm-Dancoff approximation (faster, approximate)")
    t.add_argument("--grid-level", type=int, default=3, help="DFT grid level (paper settings: 3)")
    t.add_argument("--store", help="results store (SQLite path or PostgreSQL URL) to reuse and record results")
    t.set_defaults(func=_tddft)
    d = sub.add_parser("design-region", help="TD-DFT of benchmark dots with displaced atoms, into a results store")
    d.add_argument("--dots", nargs="*", help="dots, in order (default: the four benchmark dots, Cd6Se6 first)")
    d.add_argument("--n-per-dot", type=int, default=60, help="geometries per dot (paper cases round-robin)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--store", default="data/stores/design_region.db", help="results store (SQLite path or PostgreSQL URL)")
    d.add_argument("--backend", default="auto", choices=["auto", "cpu", "gpu"])
    d.add_argument("--threads", type=int, default=None, help="OpenMP threads per calculation")
    d.add_argument("--workers", type=int, default=1, help="parallel local processes")
    d.set_defaults(func=_design_region)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``qdlib`` command."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"qdlib: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

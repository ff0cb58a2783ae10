"""The library of stable clusters from the ``qdlib`` command (:mod:`qdlib.library`).

``qdlib library-search``
    Global search for low-energy isomers of Cd–Se–Te compositions (GFN2-xTB, resumable).
``qdlib library-build``
    The library's members from the searches, written to ``data/library``.
``qdlib library-info``
    The library per composition, and which of the authors' structures its searches found.
``qdlib library-tddft``
    TD-DFT spectra of the members into a results store (resumable).

:func:`add_commands` registers them on the parser :func:`qdlib.cli.build_parser` builds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..paths import store_path, stores_dir
from ._options import add_engine_args, engine_options

__all__ = ["add_commands"]


def _library_search(args: argparse.Namespace) -> int:
    from ..library import ClusterSearch, SearchConfig, compositions, unique_minima

    comps = compositions() if args.compositions == ["all"] else args.compositions
    configs = [SearchConfig(c, method=args.method, seed=s, budget=args.budget) for c in comps for s in args.seeds]
    for i, config in enumerate(configs, 1):
        result = ClusterSearch(config, args.out).run()
        lowest = result.best_energy_trace()[-1]
        near = [m for m in result.minima if m.info["e_xtb_ev"] - lowest <= 1.0]
        print(f"[{i}/{len(configs)}] {config.name}: {result.n_relaxations} relaxations ({result.n_new} new, "
              f"{result.n_failed} failed), lowest {lowest:.3f} eV, {len(unique_minima(near))} distinct minima within 1 eV")
    return 0


def _library_build(args: argparse.Namespace) -> int:
    from ..library import SearchConfig, compositions, searched_minima
    from ..library.members import select_members, write_members
    from ..release import update_registry

    comps = compositions() if args.compositions == ["all"] else [SearchConfig(c).composition for c in args.compositions]
    for comp in comps:
        names, minima = searched_minima(comp, args.searches)
        if not names:
            print(f"{comp}: no search yet")
            continue
        members = select_members(minima, comp, args.window)
        if not members:
            print(f"{comp}: no member could be checked (GFN2-xTB's SCF fails at its minima from a fresh start)")
            continue
        path = write_members(members, args.out)
        print(f"{comp}: {len(members)} members within {args.window} eV from {len(minima)} relaxations "
              f"({len(names)} searches) -> {path}")
    if args.update_registry:
        update_registry()
        print("data/registry.txt updated")
    return 0


def _library_info(args: argparse.Namespace) -> int:
    import ase.io

    from ..library.known import authors_minima, recovery
    from ..library.members import load_members, summary

    members = load_members(args.library)
    if not members:
        raise ValueError("the library has no members yet (qdlib library-search, then qdlib library-build)")
    rows = summary(members)
    print(f"{len(members)} members over {len(rows)} compositions")
    print(f"{'composition':12s} {'members':>7s} {'E above lowest, eV':>18s}  point groups")
    for r in rows:
        groups = ", ".join(f"{g} {n}" for g, n in list(r["point_groups"].items())[:4])
        print(f"{r['composition']:12s} {r['members']:7d} {r['max_e_above_ev']:18.2f}  {groups}")
    known = Path(args.known)
    if known.is_file():
        minima = ase.io.read(known, index=":")
    else:
        print("relaxing the authors' 8-14-atom structures with GFN2-xTB (once) ...")
        minima = authors_minima()
        known.parent.mkdir(parents=True, exist_ok=True)
        ase.io.write(known, minima, format="extxyz")
    found = [r for r in recovery(minima, members) if r["n_members"]]
    print(f"authors' structures recovered: {sum(r['matched'] is not None for r in found)} of {len(found)} with a "
          f"searched composition ({len(minima)} of 8-14 atoms in all)")  # fmt: skip
    for r in found:
        where = r["matched"] or f"not found (nearest member {r['rmsd_angstrom']:.2f} Å)"
        print(f"  {r['composition']:12s} group {r['group']:>3}: {where}; {r['e_above_ev']:+.3f} eV from the lowest member")
    return 0


def _library_tddft(args: argparse.Namespace) -> int:
    from ..library.members import load_members
    from ..library.tddft import COVER_NM, compute_spectra, spectra_selection
    from ..store import ResultStore

    chosen = spectra_selection(load_members(args.library), args.max_atoms, args.max_e_above)
    if args.limit is not None:
        chosen = chosen[: args.limit]
    print(f"{len(chosen)} members selected (≤ {args.max_atoms} atoms, ≤ {args.max_e_above} eV above their "
          f"composition's lowest); states down to {COVER_NM:.0f} nm")
    store, options = ResultStore(args.store), engine_options(args)
    for i, m in enumerate(chosen, 1):  # one at a time: each result is stored, and reported, as it finishes
        report = compute_spectra([m], store, options=options)
        exc = report.results.get(0)
        what = (f"{exc.energies_ev.size} states to {1239.84 / exc.energies_ev.max():.0f} nm, {exc.wall_time_s:.0f} s"
                if exc is not None else f"failed: {report.failures.get(0)}")  # fmt: skip
        print(f"[{i}/{len(chosen)}] {m.info['isomer']} ({'stored' if report.n_cached else 'computed'}): {what}", flush=True)
    return 0


def add_commands(command) -> None:
    """Register ``library-search``, ``library-build``, ``library-info`` and ``library-tddft`` through ``command(name, **kwargs)``."""
    ls = command("library-search", help="global search for low-energy isomers of Cd–Se–Te clusters (GFN2-xTB; "
                                        "budgets in relaxations, resumable)")
    ls.add_argument("--compositions", nargs="+", default=["all"],
                    help="e.g. Cd5Se2Te3 (default all: Cd_n Se_m Te_(n-m), n = 4-7, m = 0-n)")
    ls.add_argument("--method", default="ga", choices=["ga", "random"], help="ase-ga's genetic algorithm, or random search")
    ls.add_argument("--seeds", nargs="+", type=int, default=[0])
    ls.add_argument("--budget", type=int, default=150, help="relaxations per search")
    ls.add_argument("--out", default=str(stores_dir() / "library" / "searches"), help="folder of the search databases")
    ls.set_defaults(func=_library_search)
    lb = command("library-build", help="the library's members from the searches: distinct minima within --window eV "
                                       "of each composition's lowest, checked by their Hessian, written to data/library")
    lb.add_argument("--compositions", nargs="+", default=["all"], help="default all (as library-search)")
    lb.add_argument("--searches", default=str(stores_dir() / "library" / "searches"), help="folder of the search databases")
    lb.add_argument("--window", type=float, default=1.0, help="eV (GFN2-xTB) above the composition's lowest member")
    lb.add_argument("--out", default="data/library", help="one extxyz per composition")
    lb.add_argument("--update-registry", action="store_true", help="rehash data/ into data/registry.txt")
    lb.set_defaults(func=_library_build)
    li = command("library-info", help="the library per composition (members, energies, point groups) and which of "
                                      "the authors' 8-14-atom structures its searches found")
    li.add_argument("--library", default=None, help="folder of member files (default: the released data/library)")
    li.add_argument("--known", default="data/library/known/authors.extxyz",
                    help="the authors' structures relaxed with xTB (computed once, then read; released)")
    li.set_defaults(func=_library_info)
    lt = command("library-tddft", help="TD-DFT spectra of the library's members (paper settings, states down to "
                                       "330 nm), smallest first, into a results store (resumable)")
    lt.add_argument("--library", default=None, help="folder of member files (default: the released data/library)")
    lt.add_argument("--max-atoms", type=int, default=12)
    lt.add_argument("--max-e-above", type=float, default=0.5, help="eV (GFN2-xTB) above the composition's lowest")
    lt.add_argument("--limit", type=int, default=None, help="compute at most this many (in selection order)")
    lt.add_argument("--store", default=str(store_path("library")), help="results store")
    add_engine_args(lt)
    lt.set_defaults(func=_library_tddft)

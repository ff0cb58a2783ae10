"""Design for your target from the ``qdlib`` command: which library member absorbs like this? (:mod:`qdlib.finder`).

``qdlib design (--target FILE | --peak-nm NM | --target-structure FILE)``
    The target read (:mod:`qdlib.targets`), the members the library's store already holds judged at
    no cost, then a run of ``--method`` (active learning by default) over the members not computed
    yet: one line per TD-DFT call, resumable from ``<output>/calls.jsonl``, and a report in
    ``--output`` (a ranked table, a figure, an xyz per confirmed member). ``--dry-run`` computes
    nothing: the criterion, what is stored, the members it would compute first and an estimate of
    the CPU-hours. ``--replay`` computes nothing either: the run over the stored members only.

:func:`add_commands` registers it on the parser :func:`qdlib.cli.build_parser` builds.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from ..paths import store_path
from ._options import add_engine_args, engine_options, local_executor

__all__ = ["add_commands", "read_target"]


def read_target(args: argparse.Namespace):
    """The target the arguments name (a file, a band or a structure), a short name for its folder, and the
    structure (``None`` for a file or a band)."""
    from .. import targets

    if args.target:
        lam, y = targets.read_spectrum(args.target)
        units = targets.units_from_header(args.target) if args.units == "auto" else args.units
        return targets.spectrum_target(lam, y, units=units, name=Path(args.target).name), Path(args.target).stem, None
    if args.peak_nm is not None:
        slug = f"band_{args.peak_nm:g}nm" + ("" if args.fwhm_nm is None else f"_fwhm{args.fwhm_nm:g}nm")
        return targets.band_target(args.peak_nm, args.fwhm_nm), slug, None
    from ..store import ResultStore
    from ..structures import read

    atoms = read(args.target_structure)
    target = targets.structure_target(atoms, options=engine_options(args), store=ResultStore(args.store),
                                      compute=not (args.dry_run or args.replay))  # fmt: skip
    return target, Path(args.target_structure).stem, atoms


def _line(call, budget: int) -> str:
    where = "stored" if call.call < 0 else f"call {call.call + 1}/{budget}"
    verdict = "confirmed" if call.confirmed else "not confirmed (" + ", ".join(call.failures) + ")"
    peak = (f"peak {call.peak_nm:.1f} nm ({call.peak_error_nm:+.1f})" if np.isfinite(call.peak_nm)
            else "no peak on the window" + (f" (nearest band {call.band_error_nm:+.0f} nm off)" if np.isfinite(call.band_error_nm) else ""))  # fmt: skip
    return f"{where}: {call.isomer}, {call.e_above_ev:.2f} eV above its lowest: {peak}, cosine {call.similarity:.2f} → {verdict}"


def _design(args: argparse.Namespace) -> int:
    from ..finder import FinderConfig, Pool, StoreOracle, TargetDesign
    from ..finder.report import write_report
    from ..store import ResultStore
    from ..structures import same_structure

    target, slug, structure = read_target(args)
    pool = Pool.from_library(args.library, max_atoms=args.max_atoms, max_e_above_ev=args.max_e_above)  # only members that can pass
    if structure is not None:  # other clusters that absorb like it: the structure itself, if a member, is no answer
        pool = pool.subset([i for i, m in enumerate(pool.members) if not same_structure(m, structure, tol_angstrom=0.05)])
    if not len(pool):
        raise ValueError(f"the library has no member within {args.max_e_above} eV of its composition's lowest "
                         "(qdlib library-search, then qdlib library-build)")
    oracle = StoreOracle(ResultStore(args.store), replay=args.replay, options=engine_options(args),
                         executor=local_executor(args))  # fmt: skip
    if args.replay:
        pool = pool.computed(oracle)
    out = Path(args.output or Path("qdlib-design") / re.sub(r"[^\w.+-]", "_", f"{slug}_{args.method}_s{args.seed}"))
    config = FinderConfig(method=args.method, seed=args.seed, budget=args.budget, batch_size=args.workers,
                          max_e_above_ev=args.max_e_above)  # fmt: skip
    run = TargetDesign(target, pool, oracle, config, log_path=None if args.dry_run else out / "calls.jsonl")
    print(f"target: {target.name}; central peak {target.peak_nm:.1f} nm")
    print(f"criterion: {run.describe()}")
    screened = [] if args.replay else run.screen()
    print(f"library: {len(pool)} members with TD-DFT in the store (a replay: only those)" if args.replay
          else f"library: {len(pool)} members, {len(screened)} with TD-DFT in the store")  # fmt: skip
    for call in screened[:3]:
        print(_line(call, config.budget))
    if args.dry_run:
        return _dry_run(run, oracle, config)
    run.run(on_call=lambda call: print(_line(call, config.budget), flush=True))
    found = run.found
    calls = len(run.history)
    if found is not None:
        print(f"confirmed: {found.isomer} after {calls} TD-DFT call(s)" + (" (already in the store)" if found.call < 0 else ""))
    else:
        chance, left = run.chance_left(), len(pool) - len(run.known) - calls
        if chance == 0.0:
            verdict = "every member was judged: none meets it"
        elif chance is None:
            verdict = f"{left} members not judged"
        else:  # an estimate, not a verdict: with few spectra seen the model misses bands unlike them
            verdict = (f"{left} members not judged; the model, fitted on {len(run.known) + calls} spectra, gives "
                       f"{chance:.2f} that one of them meets it (an estimate, not a check)")  # fmt: skip
        print(f"no member met the target in {calls} TD-DFT call(s); {verdict}. Closest:")
        for call in run.closest(3):
            print("  " + _line(call, config.budget))
    paths = write_report(run, out)
    print(f"report: {', '.join(str(p) for p in paths.values())}")
    return 0


def _dry_run(run, oracle, config) -> int:
    """What a run would do, computing nothing: its first members, the model's predicted peaks, the CPU-hours."""
    from ..finder.criterion import nearest_band_nm

    left = len(run.pool) - len(run.known) - len(run.history)
    if left == 0:
        print("every member within the stability bound has its TD-DFT in the store: nothing left to compute")
        return 0
    chosen = run.method.propose(run.pool, run.known + run.history, min(5, config.budget, left))
    model = getattr(run.method, "model_", None) if getattr(run.method, "probability_", None) is not None else None
    peaks = {}
    if model is not None:
        x = run.method._x[chosen]
        samples, _ = model.sample(x, 64, seed=config.seed, predictive=True)
        for i, s in zip(chosen, samples.transpose(1, 0, 2)):
            p = np.array([nearest_band_nm(y, run.target.peak_nm) for y in s])
            p = p[np.isfinite(p)]
            if p.size:
                peaks[i] = (float(np.median(p)), float(np.quantile(p, 0.05)), float(np.quantile(p, 0.95)))
    why = " (drawn at random: no model before two members are computed)" if run.config.method == "al" and model is None else ""
    print(f"first members {run.config.method} would compute{why}:")
    for i in chosen:
        m = run.pool.members[i]
        guess = f"; predicted band nearest the target {peaks[i][0]:.0f} nm [{peaks[i][1]:.0f}, {peaks[i][2]:.0f}]" if i in peaks else ""
        print(f"  {m.info['isomer']} ({len(m)} atoms, {m.info['e_above_ev']:.2f} eV above its lowest){guess}")
    calls = min(config.budget, left)
    hours = _wall_hours(run, oracle, calls)
    print(f"estimate: at most {calls} TD-DFT calls, " + (f"about {hours:.1f} h of wall time as the stored "
          "calculations took" if np.isfinite(hours) else "no stored calculation to estimate the time from"))  # fmt: skip
    return 0


def _wall_hours(run, oracle, calls: int) -> float:
    """The median stored wall time of a member of the pool's median size (or the nearest size stored), times ``calls``, h."""
    walls: dict[int, list[float]] = {}
    for m in run.pool.members:
        r = oracle.store.get_by_key(oracle.key(m)) if oracle.stored(m) else None
        if r is not None:
            walls.setdefault(len(m), []).append(r.wall_time_s)
    if not walls:
        return float("nan")
    size = int(np.median([len(m) for m in run.pool.members]))
    nearest = min(walls, key=lambda n: abs(n - size))
    return calls * float(np.median(walls[nearest])) / 3600.0


def add_commands(command) -> None:
    """Register ``design`` through ``command(name, **kwargs)``."""
    from ..finder import METHODS

    d = command("design", help="design for your target: the library member whose TD-DFT spectrum meets it, in few "
                               "TD-DFT calls (resumable)")  # fmt: skip
    which = d.add_mutually_exclusive_group(required=True)
    which.add_argument("--target", help="spectrum file: two columns, wavelength (nm) and intensity (CSV, TSV or spaces)")
    which.add_argument("--peak-nm", type=float, help="a band peaking here, nm")
    which.add_argument("--target-structure", help="a structure file (xyz): members that absorb like it")
    d.add_argument("--fwhm-nm", type=float, help="the band's full width at half maximum, nm (default: the paper's broadening)")
    d.add_argument("--units", default="auto", choices=["auto", "epsilon", "arbitrary"],
                   help="the spectrum file's intensities: ε in L mol⁻¹ cm⁻¹ (intensity compared) or arbitrary; auto: "
                        "ε when a header line names it (ε, epsilon, L/mol/cm, M-1 cm-1), else arbitrary")
    d.add_argument("--method", default="al", choices=list(METHODS), help="how members are chosen (al: active learning)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--budget", type=int, default=24, help="TD-DFT calls at most")
    d.add_argument("--max-e-above", type=float, default=0.5, help="stability bound: eV (GFN2-xTB) above the "
                                                                   "composition's lowest member")  # fmt: skip
    d.add_argument("--library", help="folder of library member files (default: the released data/library)")
    d.add_argument("--max-atoms", type=int, help="members with at most this many atoms")
    d.add_argument("--store", default=str(store_path("library")), help="the library's TD-DFT results store")
    d.add_argument("--replay", action="store_true", help="compute nothing: the run over the stored members only")
    d.add_argument("--dry-run", action="store_true", help="compute nothing: the criterion, the first members, the cost")
    d.add_argument("--output", help="folder of the log and the report (default qdlib-design/<target>)")
    add_engine_args(d)
    d.set_defaults(func=_design)

"""The ``qdlib`` command line.

``qdlib reproduce [--profile default|paper]``
    execute the notebooks in order with papermill;
``qdlib tddft FILE.xyz [--emission] [--backend auto|cpu|gpu]``
    TD-DFT excitations of one structure at the paper settings: prints them and
    writes the spectrum as CSV and PNG beside the input.
``qdlib design-region [--dots ...] [--n-per-dot 60] [--store PATH]``
    TD-DFT of the benchmark dots with displaced atoms (our dataset's
    design-region set), resumable through the results store;
``qdlib sensitivity [--dot Cd6Se6] [--distances ...] [--n-directions 3]``
    TD-DFT of a dot with its designed atoms moved by set distances (the
    sensitivity sweep of notebook 05), resumable;
``qdlib authors [--kind absorption|emission] [--max-atoms 18]``
    TD-DFT of the authors' structures at their geometries, resumable;
``qdlib random [--n 10] [--n-atoms 8 12] [--emission 2]``
    the generation pipeline: random clusters, GFN2-xTB and DFT relaxation,
    absorption, S1 relaxation and emission, resumable;
``qdlib verify [--kinds absorption] [--dots ...] [--n-valid 3] [--pso-designs K]``
    saved agents deployed from 100 random starts, their first designs judged by
    TD-DFT with states solved for until the target's window is covered
    (:mod:`qdlib.verdict`; notebook 04), until each case has ``--n-valid`` verdicts, resumable;
``qdlib export-dataset [--update-registry]``
    the released dataset ``data/tddft`` from the results stores, and the design campaigns'
    logs under ``data/campaigns``;
``qdlib design-surrogate [--kinds absorption emission]``
    the design-region surrogates (authors' data + our design-region set) with their
    held-out scores, released under ``data/models``;
``qdlib agents [--kinds absorption] [--dots ...] [--edges 4 10] [--atoms 1 2 3]``
    DDPG designers of the benchmark cases, released under ``data/agents``;
``qdlib design [--dot Cd4Se4] [--atoms 1] [--target-shift 0] [--method random|surrogate|bo|al] [--seed 0] [--rejudge]``
    a design campaign with TD-DFT in the loop (:mod:`qdlib.campaign`; notebook 07), resumable;
    ``--rejudge`` judges a blind campaign's logged calls again with the current criterion;
``qdlib campaigns [--log-dir DIR]``
    what the campaigns in a folder of logs found: the table of notebook 07.
``qdlib campaign-forces [--log-dir DIR] [--out FILE]``
    DFT forces on every distinct confirmed design and the reference dots (resumable, one line each).

``main`` takes the arguments as a list and returns the exit status; ``--help`` prints the
usage and exits:

>>> import contextlib, io
>>> out = io.StringIO()
>>> with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
...     main(["--help"])
>>> all(command in out.getvalue() for command in ("reproduce", "tddft", "verify", "export-dataset"))
True
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

from .paths import checkpoints_dir, store_path, stores_dir

__all__ = ["main"]


def _reproduce(args: argparse.Namespace) -> int:
    from .reproduce import reproduce

    runs = reproduce(profile=args.profile, only=args.only)
    total = sum(r.wall_time_s for r in runs)
    for r in runs:
        print(f"{r.notebook.name:40s} {r.wall_time_s:8.1f} s  -> {r.output}")
    print(f"{len(runs)} notebook(s), {total:.1f} s in all (profile {args.profile})")
    return 0


#: Oscillator strength below which a transition is called dark.
DARK_F = 1e-3


def _tddft(args: argparse.Namespace) -> int:
    import numpy as np

    from . import plotting, qchem, spectra
    from .store import ResultStore
    from .structures import read, write

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
    from . import qchem
    from .compute import compute_many, local_executor
    from .store import ResultStore

    store = ResultStore(store_path)
    options = _engine_options(args)
    executor = local_executor(args.workers) if args.workers > 1 else None
    labels = lambda i, atoms: labels_of(atoms)  # noqa: E731
    report = compute_many(geoms, qchem.TDDFTSettings(), options, store=store, executor=executor, labels=labels)
    print(f"{len(geoms)} geometries: {report.n_cached} stored before, {report.n_computed} computed, {len(report.failures)} failed")
    for i, err in sorted(report.failures.items()):
        print(f"  {i} {geoms[i].info.get('composition', geoms[i].get_chemical_formula())}: {err}")
    return 1 if report.failures else 0


def _design_region(args: argparse.Namespace) -> int:
    from .generate import DESIGN_DOTS, design_region_set

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
    from .generate import SENSITIVITY_DISTANCES_ANGSTROM, sensitivity_set

    geoms = sensitivity_set(args.dot, args.distances or SENSITIVITY_DISTANCES_ANGSTROM, args.atoms, args.n_directions, seed=args.seed)
    keys = ("set", "dot", "n_movable", "distance_angstrom", "direction_index")
    if args.cover:  # as a verdict sees them: states up to the target's window (qdlib.verdict)
        from .compute import local_executor
        from .verification import case_window, compute_covering, cover_label

        window = case_window(args.dot, "absorption")
        for g in geoms:
            g.info = {k: g.info[k] for k in keys} | cover_label(window)
        executor = local_executor(args.workers) if args.workers > 1 else None
        options = _engine_options(args)
        if args.warm:  # every geometry starts from the undisplaced dot's solution (qdlib.qchem.warmstart)
            import dataclasses

            from .verification import reference_frame, warm_start_point

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
    from .generate import authors_structures
    from .tddft_data import stored_authors_groups

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
    from .compute import local_executor
    from .generate import generate_random_dataset

    options = _engine_options(args)
    executor = local_executor(args.workers) if args.workers > 1 else None
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


def _export_dataset(args: argparse.Namespace) -> int:
    from .campaign.results import read_campaigns
    from .release import update_registry
    from .reproduce import read_fingerprints, release_readers
    from .tddft_data import collect_entries, write_tddft_dataset

    before = read_fingerprints()
    counts = write_tddft_dataset(collect_entries(args.stores), args.out)
    for name, k in counts.items():
        print(f"{args.out}/{name}: {k} rows")
    for stale in sorted(p for p in Path(args.out).rglob("*") if p.is_file() and p.relative_to(args.out).as_posix() not in counts):
        stale.unlink()  # a file of an earlier layout, or of a part no longer written
        print(f"  removed from the release: {stale}")
    logs = read_campaigns(Path(args.stores) / "campaigns")
    if logs:  # the finished design campaigns' logs, released beside the dataset their TD-DFT results joined
        out = Path(args.campaigns_out)
        out.mkdir(parents=True, exist_ok=True)
        done = [g for g in logs if g.finished]
        for g in done:
            shutil.copyfile(Path(args.stores) / "campaigns" / f"{g.config.name}.jsonl", out / f"{g.config.name}.jsonl")
        print(f"{out}: {len(done)} finished campaign logs, {sum(len(g.history) for g in done)} calls")
        for g in logs:
            if not g.finished:
                print(f"  held back (still running: {len(g.history)} of {g.config.budget} calls, none confirmed): {g.config.name}")
        for stale in sorted(set(out.glob("*.jsonl")) - {out / f"{g.config.name}.jsonl" for g in done}):
            stale.unlink()  # a released log whose campaign was restarted or removed: the release follows the working logs
            print(f"  removed from the release (no finished working log): {stale.name}")
    if args.update_registry:
        update_registry()
        print("data/registry.txt updated")
        changed = [nb for nb, line in read_fingerprints().items() if before.get(nb) != line]
        print("notebooks whose release fingerprint changed (execute them again): "
              + (f"qdlib reproduce --only {' '.join(changed)}" if changed else "none"))
    else:
        print(f"notebooks reading the release (their checked outputs follow it): qdlib reproduce --only {' '.join(release_readers())}")
    return 0


def _library_search(args: argparse.Namespace) -> int:
    from .library import ClusterSearch, SearchConfig, compositions, unique_minima

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
    from .library import ClusterSearch, SearchConfig, compositions
    from .library.members import select_members, write_members
    from .release import update_registry

    comps = compositions() if args.compositions == ["all"] else [SearchConfig(c).composition for c in args.compositions]
    for comp in comps:
        names = sorted({p.stem for p in Path(args.searches).glob(f"{comp}_*_s*.*") if p.suffix in (".db", ".extxyz")})
        if not names:
            print(f"{comp}: no search yet")
            continue
        minima = []
        for name in names:
            _, method, seed = name.rsplit("_", 2)
            minima += ClusterSearch(SearchConfig(comp, method=method, seed=int(seed[1:])), args.searches).result().minima
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

    from .library.known import authors_minima, recovery
    from .library.members import load_members, summary

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
    from .library.members import load_members
    from .library.tddft import COVER_NM, compute_spectra, spectra_selection
    from .store import connect

    chosen = spectra_selection(load_members(args.library), args.max_atoms, args.max_e_above)
    if args.limit is not None:
        chosen = chosen[: args.limit]
    print(f"{len(chosen)} members selected (≤ {args.max_atoms} atoms, ≤ {args.max_e_above} eV above their "
          f"composition's lowest); states down to {COVER_NM:.0f} nm")
    store, options = connect(args.store), _engine_options(args)
    for i, m in enumerate(chosen, 1):  # one at a time: each result is stored, and reported, as it finishes
        report = compute_spectra([m], store, options=options)
        exc = report.results.get(0)
        what = (f"{exc.energies_ev.size} states to {1239.84 / exc.energies_ev.max():.0f} nm, {exc.wall_time_s:.0f} s"
                if exc is not None else f"failed: {report.failures.get(0)}")  # fmt: skip
        print(f"[{i}/{len(chosen)}] {m.info['isomer']} ({'stored' if report.n_cached else 'computed'}): {what}", flush=True)
    return 0


def _torch_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def _design_surrogate(args: argparse.Namespace) -> int:
    from .forward import fit_design_surrogate, format_report, release_design_surrogate
    from .release import update_registry
    from .tddft_data import load_tddft_dataset

    _torch_threads(args.threads)
    dataset = load_tddft_dataset()
    for kind in args.kinds:
        fit = fit_design_surrogate(kind, dataset, args.test_fraction, args.design_repeat, seed=args.seed)
        rows = release_design_surrogate(fit, dataset)
        print(f"{kind}: {len(fit.train_frames)} design-region frames trained on, {len(fit.test_frames)} held out")
        print(format_report(rows))
    update_registry()
    print("data/registry.txt updated")
    return 0


def _agents(args: argparse.Namespace) -> int:
    import dataclasses

    from .agents import AGENT_CONFIG, all_cases, run_cases
    from .release import update_registry

    _torch_threads(args.threads)
    cases = all_cases(args.kinds, args.dots, args.edges, args.atoms)
    cfg = dataclasses.replace(AGENT_CONFIG, max_env_steps=args.max_env_steps, seed=args.seed)
    if args.episodes:  # the paper's budget: a number of episodes, trained to the end
        cfg = dataclasses.replace(cfg, total_episodes=args.episodes, target_success=None, max_env_steps=None)
    if args.n_envs:
        cfg = dataclasses.replace(cfg, n_envs=args.n_envs)
    for row in run_cases(cases, cfg, retrain=args.retrain, root=args.root):
        state = "trained" if row["trained"] else "saved before"
        print(f"{row['case'].name:32s} {state:12s} success {row['success_rate']:.2f}  {row['wall_time_s']:6.1f} s  "
              f"{row['env_steps']} transitions, {row['episodes']} episodes")  # fmt: skip
    if args.root is None:
        update_registry()
        print("data/registry.txt updated")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from .agents import all_cases
    from .compute import local_executor
    from .stats import format_rate
    from .agents import validate_case
    from .verification import compute_rechecks, compute_references

    cases = [c for c in all_cases(args.kinds, args.dots, args.edges, args.atoms)]
    if args.references_only:
        targets = compute_references(sorted({(c.dot, c.kind) for c in cases}), args.store, options=_engine_options(args),
                                     max_states=args.max_states)  # fmt: skip
        for t in targets.values():
            print(f"{t.name}: window {t.window.blue_nm:.1f}–{t.window.red_nm:.1f} nm, peak {t.peak_nm:.1f} nm")
        return 0
    validations = []
    for case in cases:
        try:
            validations.append(validate_case(case, args.n_starts, args.seed, root=args.agents_root))
        except FileNotFoundError as exc:
            print(f"{case.name}: skipped ({exc})")
    executor = local_executor(args.workers) if args.workers > 1 else None
    rechecks = compute_rechecks(validations, args.n_valid, args.store, options=_engine_options(args), executor=executor,
                                max_states=args.max_states, retry_failed=args.retry_failed)  # fmt: skip
    if args.pso_designs:  # the particle swarm's best designs of the same cases, judged the same way
        from .agents import case_task
        from .pso import PSOConfig, pso
        from .verification import case_window, compute_covering, cover_label, designed_structure

        for v in validations:
            window = case_window(v.case.dot, v.case.kind)
            task = case_task(v.case)
            frames = [designed_structure(v.case, pso(task, PSOConfig(seed=k)).best_position, set="pso", seed=k,
                                         **cover_label(window))
                      for k in range(args.pso_designs)]  # fmt: skip
            compute_covering(frames, window, args.store, options=_engine_options(args), executor=executor, max_states=args.max_states)
    print(f"{'case':28s} {'valid':>5s} {'unconv.':>7s} {'uncov.':>6s}  {'TD-DFT success [95 % CI]':26s} {'|Δpeak| nm':>10s} {'ΔE eV':>6s}")
    for name, r in rechecks.items():
        s = r.summary()
        print(f"{name:28s} {s['n']:5d} {s['unconverged']:7d} {s['uncovered']:6d}  {format_rate(s['tddft_success'], s['n']):26s} "
              f"{s['median_abs_peak_error_nm']:10.1f} {s['median_energy_above_reference_ev']:6.2f}")  # fmt: skip
    return 0


def _design(args: argparse.Namespace) -> int:
    from .campaign import Campaign, CampaignConfig
    from .campaign.loop import default_budget
    from .compute import local_executor

    config = CampaignConfig(dot=args.dot, n_movable=args.atoms, edge_angstrom=args.edge, target_shift_nm=args.target_shift,
                            method=args.method, budget=args.budget or default_budget(args.atoms, args.method), batch_size=args.batch_size,
                            seed=args.seed, stop_at_first=args.stop_at_first)  # fmt: skip
    executor = local_executor(args.workers) if args.workers > 1 else None
    campaign = Campaign(config, args.store, args.log_dir, options=_engine_options(args), executor=executor,
                        max_states=args.max_states, warm_start=not args.cold)  # fmt: skip
    if args.rejudge:
        campaign.rejudge()
    else:
        campaign.run()
    s = campaign.summary()
    first = "none" if s["first_confirmed_call"] is None else f"call {s['first_confirmed_call']}"
    print(f"{s['name']}: {s['calls']} TD-DFT calls, {s['confirmed']} confirmed designs (first: {first}), "
          f"{s['cpu_hours']:.2f} CPU-hours of TD-DFT; log {campaign.log_path}")
    return 0


def _campaign_forces(args: argparse.Namespace) -> int:
    import numpy as np

    from .campaign import DesignSpace, read_campaigns
    from .campaign.forces import design_forces
    from .campaign.results import confirmed_designs

    spaces, designs = {}, []
    for config, r in confirmed_designs(read_campaigns(args.log_dir)):
        case = (config.dot, config.n_movable, config.edge_angstrom, config.kind)
        if case not in spaces:
            spaces[case] = DesignSpace.benchmark(*case)
        space = spaces[case]
        designs.append((r.key, space.atoms_at(np.asarray(r.u)), space.movable, space.centre))
    references = {f"reference {case[0]}": s.atoms for case, s in spaces.items()}
    jobs = [(name, atoms, [], np.empty((0, 3))) for name, atoms in references.items()] + designs
    print(f"{len(designs)} distinct confirmed designs and {len(references)} reference dots; results in {args.out}")
    rows = design_forces(jobs, args.out, options=_engine_options(args))
    for row in rows:
        print(f"{row['key'][:16]:16s} {row['formula']:8s} largest force {row['max_force_ev_per_angstrom']:.3f} eV/Å; moved atom "
              f"{[round(f, 3) for f in row['moved_force_ev_per_angstrom']]} eV/Å, cosine back to its site "
              f"{[round(c, 2) for c in row['returning_cosine']]}")  # fmt: skip
    return 0


def _campaigns(args: argparse.Namespace) -> int:
    from .campaign import Criterion, format_summary, pass_rate, read_campaigns, sort_rows, strain_agreement, summary_rows
    from .stats import format_rate

    logs = read_campaigns(args.log_dir)
    if not logs:
        print(f"no campaign logs (*.jsonl) in {args.log_dir}")
        return 1
    rows = sort_rows(summary_rows(logs))
    print(format_summary(rows))
    print()
    for r in rows:
        calls = [c for g in logs if (g.case, g.target, g.config.method) == (r["case"], r["target"], r["method"])
                 for c in g.history]  # fmt: skip
        p = pass_rate(calls)
        print(f"{r['case']} {r['target']} {r['method']}: distinct designs confirmed {format_rate(p['k'], p['n'])}; "
              f"{r['tddft_hours']:.2f} h of TD-DFT")
    limit = Criterion().max_strain_ev
    for case in sorted({g.case for g in logs}):
        a = strain_agreement([c for g in logs if g.case == case for c in g.history], limit)
        print(f"{case}: GFN2-xTB against DFT strain over {a['n']} designs: Spearman rho {a['rho']:.2f} "
              f"[{a['low']:.2f}, {a['high']:.2f}]; above {limit} eV by DFT: {format_rate(a['k_over'], a['n'])}")
    return 0


def _add_case_args(p: argparse.ArgumentParser) -> None:
    """The benchmark cases to work on (``qdlib.agents.all_cases`` arguments)."""
    p.add_argument("--kinds", nargs="*", default=["absorption"], choices=["absorption", "emission"])
    p.add_argument("--dots", nargs="*", default=["Cd6Se6", "Cd4Se4", "Cd5Te5", "Cd5Se1Te4"])
    p.add_argument("--edges", nargs="*", type=float, default=[4.0, 10.0], help="cuboid edges, Å")
    p.add_argument("--atoms", nargs="*", type=int, default=[1, 2, 3], help="numbers of movable atoms")


def _engine_options(args: argparse.Namespace):
    """``EngineOptions`` from the arguments declared by :func:`_add_engine_args`."""
    from .qchem import EngineOptions

    return EngineOptions(backend=args.backend, threads=args.threads, checkpoint_dir=args.checkpoint_dir or None,
                         verbose=args.pyscf_verbose)


def _add_engine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default="auto", choices=["auto", "cpu", "gpu"])
    p.add_argument("--threads", type=int, default=None, help="OpenMP threads per calculation")
    p.add_argument("--workers", type=int, default=1, help="parallel local processes")
    p.add_argument("--checkpoint-dir", default=str(checkpoints_dir()),
                   help="restart points of calculations in progress (SCF orbitals and TDDFT vectors: a restarted job resumes both); '' for none")
    p.add_argument("--pyscf-verbose", type=int, default=0, help="PySCF log level (4: every SCF and Davidson cycle)")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)  # global flags, accepted before or after the subcommand
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log progress")
    parser = argparse.ArgumentParser(prog="qdlib", description=__doc__.splitlines()[0], parents=[common])
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, **kwargs) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], **kwargs)

    p = command("reproduce", help="execute the notebooks in order with papermill")
    p.add_argument("--profile", default="default", help="parameter profile under params/ (default, paper)")
    p.add_argument("--only", nargs="*", help="notebook name prefixes to run, e.g. 01 02")
    p.set_defaults(func=_reproduce)
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
    _add_engine_args(d)
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
    _add_engine_args(s)
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
    _add_engine_args(a)
    a.set_defaults(func=_authors)
    r = command("random", help="random clusters → GFN2-xTB → DFT optimisation → absorption (and S1 → emission)")
    r.add_argument("--n", type=int, default=10, help="number of structures")
    r.add_argument("--n-atoms", type=int, nargs=2, default=[8, 12], metavar=("MIN", "MAX"), help="size range (even counts)")
    r.add_argument("--se-fraction", type=float, default=None, help="fixed Se share of the anions (default: uniform)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--emission", type=int, default=2, help="relax S1 and compute emission for this many, the smallest first")
    r.add_argument("--max-opt-steps", type=int, default=100, help="cap on DFT optimisation steps")
    r.add_argument("--stores", default=str(stores_dir()), help="directory of the random_relaxed and random stores")
    _add_engine_args(r)
    r.set_defaults(func=_random)
    m = command("design-surrogate", help="train the design-region surrogates (authors' data + design-region set), release them")
    m.add_argument("--kinds", nargs="*", default=["absorption", "emission"], choices=["absorption", "emission"])
    m.add_argument("--test-fraction", type=float, default=0.25, help="share of each design-region case held out")
    m.add_argument("--design-repeat", type=int, default=10, help="weight of design-region frames and benchmark dots")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--threads", type=int, default=None, help="torch threads")
    m.set_defaults(func=_design_surrogate)
    g = command("agents", help="train the DDPG designers of the benchmark cases into data/agents (skips saved ones)")
    _add_case_args(g)
    g.add_argument("--max-env-steps", type=int, default=200_000, help="training budget per case, transitions")
    g.add_argument("--episodes", type=int, default=0,
                   help="instead: train exactly this many episodes, no early stop (the paper: 5000)")
    g.add_argument("--root", default=None, help="agents directory (default: the released data/agents)")
    g.add_argument("--n-envs", type=int, default=0,
                   help="environment copies stepped together (default: the released agents' 64; 1: the paper's sequential loop)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--retrain", action="store_true", help="train again even when saved")
    g.add_argument("--threads", type=int, default=None, help="torch threads")
    g.set_defaults(func=_agents)
    v = command("verify", help="TD-DFT verdicts on designs, states solved for until the target's window is covered, "
                               "until each case has --n-valid of them")
    _add_case_args(v)
    v.add_argument("--n-valid", type=int, default=3, help="valid verdicts wanted per case (converged, window covered)")
    v.add_argument("--n-starts", type=int, default=100, help="random starts per case (paper: 100)")
    v.add_argument("--seed", type=int, default=0, help="seeds the starts")
    v.add_argument("--max-states", type=int, default=40, help="most states solved for per design")
    v.add_argument("--references-only", action="store_true", help="only the undisplaced dots (the targets)")
    v.add_argument("--agents-root", default=None, help="agents directory (default: the released data/agents)")
    v.add_argument("--pso-designs", type=int, default=0, help="also the best designs of this many PSO runs per case (seeds 0, 1, …)")
    v.add_argument("--retry-failed", action="store_true",
                   help="compute again the designs whose TD-DFT raised in an earlier run (the store remembers them)")
    v.add_argument("--store", default=str(store_path("verdicts")), help="results store (.json, SQLite path or PostgreSQL URL)")
    _add_engine_args(v)
    v.set_defaults(func=_verify)
    c = command("design", help="a TD-DFT-in-the-loop design campaign: propose, compute, judge, until the budget "
                               "is spent (resumes from its log)")
    c.add_argument("--dot", default="Cd4Se4", help="benchmark dot")
    c.add_argument("--atoms", type=int, default=1, help="number of moved atoms")
    c.add_argument("--edge", type=float, default=4.0, help="cube edge around each moved atom, Å")
    c.add_argument("--target-shift", type=float, default=0.0, choices=[0.0, 10.0, -10.0],
                   help="target: the dot's own TD-DFT spectrum moved by this many nm (T0, T+10, T-10)")
    c.add_argument("--method", default="random", choices=["random", "unmoved", "stable-first", "surrogate", "bo", "al"],
                   help="how designs are proposed: random physical designs (the control), the undisplaced dot (one "
                        "call), the candidate pool in "
                        "ascending GFN2-xTB strain (the control that needs no model), the paper's pipeline (the "
                        "surrogate's best designs, verified in order), Bayesian optimisation on TD-DFT, active "
                        "learning with a forward model of the spectrum")
    c.add_argument("--budget", type=int, default=0, help="TD-DFT calls (default: 24 per moved atom; unmoved: 1)")
    c.add_argument("--batch-size", type=int, default=2, help="designs per round")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--stop-at-first", action="store_true", help="stop at the first confirmed design")
    c.add_argument("--max-states", type=int, default=40, help="most states solved for per design")
    c.add_argument("--cold", action="store_true",
                   help="start every TD-DFT call from the default guesses, not from the reference dot's solution")
    c.add_argument("--rejudge", action="store_true",
                   help="compute nothing: judge the logged calls again from the store with the current criterion "
                        "(random, stable-first and surrogate campaigns, whose designs do not depend on verdicts)")
    c.add_argument("--store", default=str(store_path("campaigns")), help="results store shared by every campaign")
    c.add_argument("--log-dir", default=str(stores_dir() / "campaigns"), help="where each campaign's log (JSON lines) is kept")
    _add_engine_args(c)
    c.set_defaults(func=_design)
    f = command("campaign-forces", help="DFT forces on every distinct confirmed design of the campaigns and on the "
                                         "reference dots: would a design stay where it was put? (resumable)")
    f.add_argument("--log-dir", default=str(stores_dir() / "campaigns"), help="folder of campaign logs")
    f.add_argument("--out", default="data/campaign_forces.jsonl", help="results, one JSON line per structure")
    _add_engine_args(f)
    f.set_defaults(func=_campaign_forces)
    s_ = command("campaigns", help="what the design campaigns found: calls to the first confirmed design, "
                 "confirmed per call, TD-DFT hours")
    s_.add_argument("--log-dir", default=str(stores_dir() / "campaigns"),
                    help="folder of campaign logs (the working ones; data/campaigns: the released ones)")
    s_.set_defaults(func=_campaigns)
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
    _add_engine_args(lt)
    lt.set_defaults(func=_library_tddft)
    x = command("export-dataset", help="write the released TD-DFT dataset (extxyz + spectra CSV) from the stores")
    x.add_argument("--stores", default=str(stores_dir()), help="directory of the results stores")
    x.add_argument("--out", default="data/tddft", help="output directory")
    x.add_argument("--campaigns-out", default="data/campaigns", help="output directory of the campaign logs")
    x.add_argument("--update-registry", action="store_true", help="rehash data/ into data/registry.txt")
    x.set_defaults(func=_export_dataset)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``qdlib`` command.

    Errors in the input are reported on stderr, with exit status 2:

    >>> main(["tddft", "missing.xyz"])  # stderr: qdlib: error: no such structure file: missing.xyz
    2
    """
    args = build_parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError) as exc:
        print(f"qdlib: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""The release from the ``qdlib`` command: the notebooks executed again, the dataset written.

``qdlib reproduce``
    Execute the notebooks in order with papermill (:func:`qdlib.reproduce.reproduce`).
``qdlib export-dataset``
    The released dataset ``data/tddft`` from the results stores, and the finished design
    campaigns' logs under ``data/campaigns``.

:func:`add_reproduce` and :func:`add_export` register them on the parser
:func:`qdlib.cli.build_parser` builds: ``reproduce`` first and ``export-dataset`` last among the
commands, as ``qdlib --help`` lists them.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from ..paths import stores_dir

__all__ = ["add_export", "add_reproduce"]


def _reproduce(args: argparse.Namespace) -> int:
    import json

    from ..paths import repo_root
    from ..reproduce import RUNS_FILE, record_run, reproduce, times_table

    if args.times:
        path = repo_root() / RUNS_FILE
        records = [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []
        print(times_table(records, args.profile) if records else f"no run recorded yet in {RUNS_FILE}")
        return 0
    runs = reproduce(profile=args.profile, only=args.only)
    record_run(runs, args.profile)
    total = sum(r.wall_time_s for r in runs)
    for r in runs:
        print(f"{r.notebook.name:40s} {r.wall_time_s:8.1f} s  -> {r.output}")
    print(f"{len(runs)} notebook(s), {total:.1f} s in all (profile {args.profile})")
    return 0


def _export_dataset(args: argparse.Namespace) -> int:
    from ..campaign.results import release_campaign_logs
    from ..release import update_registry
    from ..reproduce import read_fingerprints, release_readers
    from ..tddft_data import collect_entries, write_tddft_dataset

    before = read_fingerprints()
    counts = write_tddft_dataset(collect_entries(args.stores), args.out)
    for name, k in counts.items():
        print(f"{args.out}/{name}: {k} rows")
    for stale in sorted(p for p in Path(args.out).rglob("*") if p.is_file() and p.relative_to(args.out).as_posix() not in counts):
        stale.unlink()  # a file of an earlier layout, or of a part no longer written
        print(f"  removed from the release: {stale}")
    # the finished design campaigns' logs, released beside the dataset their TD-DFT results joined
    done, running, removed = release_campaign_logs(Path(args.stores) / "campaigns", args.campaigns_out)
    if done or running:
        print(f"{Path(args.campaigns_out)}: {len(done)} finished campaign logs, {sum(len(g.history) for g in done)} calls")
        for g in running:
            print(f"  held back (still running: {len(g.history)} of {g.config.budget} calls, none confirmed): {g.config.name}")
        for stale in removed:
            print(f"  removed from the release (no finished working log): {stale.name}")
    forces = Path(args.stores) / "campaign_forces.jsonl"
    if forces.is_file():  # DFT forces on the confirmed designs (qdlib campaign-forces), beside the logs they read
        released = Path(args.campaigns_out) / "forces" / "design_forces.jsonl"
        released.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(forces, released)
        print(f"{released}: {len(forces.read_text().splitlines())} structures")
    if args.update_registry:
        update_registry()
        print("data/registry.txt updated")
        changed = [nb for nb, line in read_fingerprints().items() if before.get(nb) != line]
        print("notebooks whose release fingerprint changed (execute them again): "
              + (f"qdlib reproduce --only {' '.join(changed)}" if changed else "none"))
    else:
        print(f"notebooks reading the release (their checked outputs follow it): qdlib reproduce --only {' '.join(release_readers())}")
    return 0


def add_reproduce(command) -> None:
    """Register ``reproduce`` through ``command(name, **kwargs)``."""
    p = command("reproduce", help="execute the notebooks in order with papermill")
    p.add_argument("--profile", default="default", help="parameter profile under params/ (default, paper)")
    p.add_argument("--only", nargs="*", help="notebook name prefixes to run, e.g. 01 02")
    p.add_argument("--times", action="store_true",
                   help=f"run nothing: the notebooks' recorded times (every run appends to {'benchmarks/results/reproduce_runs.jsonl'})")
    p.set_defaults(func=_reproduce)


def add_export(command) -> None:
    """Register ``export-dataset`` through ``command(name, **kwargs)``."""
    x = command("export-dataset", help="write the released TD-DFT dataset (extxyz + spectra CSV) from the stores")
    x.add_argument("--stores", default=str(stores_dir()), help="directory of the results stores")
    x.add_argument("--out", default="data/tddft", help="output directory")
    x.add_argument("--campaigns-out", default="data/campaigns", help="output directory of the campaign logs")
    x.add_argument("--update-registry", action="store_true", help="rehash data/ into data/registry.txt")
    x.set_defaults(func=_export_dataset)

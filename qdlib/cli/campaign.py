"""Displacement campaigns from the ``qdlib`` command: TD-DFT in the loop (:mod:`qdlib.campaign`).

``qdlib campaign``
    One campaign: propose, compute, judge until the budget is spent (resumable), or its logged
    calls judged again (``--rejudge``).
``qdlib campaign-forces``
    DFT forces on the distinct confirmed designs and on the reference dots (:mod:`qdlib.campaign.forces`).
``qdlib campaigns``
    What the campaigns of a folder of logs found: the table of notebook 07.

:func:`add_commands` registers them on the parser :func:`qdlib.cli.build_parser` builds.
"""

from __future__ import annotations

import argparse

from ..paths import store_path, stores_dir
from ._options import add_engine_args, engine_options, local_executor

__all__ = ["add_commands"]


def _campaign(args: argparse.Namespace) -> int:
    from ..campaign import Campaign, CampaignConfig
    from ..campaign.loop import default_budget

    config = CampaignConfig(dot=args.dot, n_movable=args.atoms, edge_angstrom=args.edge, target_shift_nm=args.target_shift,
                            method=args.method, budget=args.budget or default_budget(args.atoms, args.method), batch_size=args.batch_size,
                            seed=args.seed, stop_at_first=args.stop_at_first)  # fmt: skip
    executor = local_executor(args)
    campaign = Campaign(config, args.store, args.log_dir, options=engine_options(args), executor=executor,
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
    from ..campaign import read_campaigns
    from ..campaign.forces import design_forces, force_jobs

    references, designs = force_jobs(read_campaigns(args.log_dir))
    print(f"{len(designs)} distinct confirmed designs and {len(references)} reference dots; results in {args.out}")
    k, _, n = args.shard.partition("/")
    if not (k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise SystemExit(f"--shard {args.shard!r}: expected K/N with 1 <= K <= N, e.g. 1/2")
    rows = design_forces(references + designs, args.out, options=engine_options(args), shard=(int(k) - 1, int(n)),
                         reverse=args.reverse)  # fmt: skip
    for row in rows:
        print(f"{row['key'][:16]:16s} {row['formula']:8s} largest force {row['max_force_ev_per_angstrom']:.3f} eV/Å; moved atom "
              f"{[round(f, 3) for f in row['moved_force_ev_per_angstrom']]} eV/Å, cosine back to its site "
              f"{[round(c, 2) for c in row['returning_cosine']]}")  # fmt: skip
    return 0


def _campaigns(args: argparse.Namespace) -> int:
    from ..campaign import (
        Criterion,
        format_summary,
        pass_rate,
        read_campaigns,
        sort_rows,
        strain_agreement,
        summary_rows,
    )
    from ..stats import format_rate

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


def add_commands(command) -> None:
    """Register ``campaign``, ``campaign-forces`` and ``campaigns`` through ``command(name, **kwargs)``."""
    c = command("campaign", help="a TD-DFT-in-the-loop displacement campaign (notebook 07): propose, compute, judge, until the budget "
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
    add_engine_args(c)
    c.set_defaults(func=_campaign)
    f = command("campaign-forces", help="DFT forces on every distinct confirmed design of the campaigns and on the "
                                         "reference dots: would a design stay where it was put? (resumable)")
    f.add_argument("--log-dir", default=str(stores_dir() / "campaigns"), help="folder of campaign logs")
    f.add_argument("--out", default=str(stores_dir() / "campaign_forces.jsonl"),
                   help="results, one JSON line per structure (qdlib export-dataset releases them)")
    f.add_argument("--shard", default="1/1", help="K/N: compute every N-th structure from the K-th (N processes "
                                                  "share the work and the --out file)")
    f.add_argument("--reverse", action="store_true", help="from the last structure (a second process beside one "
                                                          "going forward: they meet in the middle)")
    add_engine_args(f)
    f.set_defaults(func=_campaign_forces)
    s = command("campaigns", help="what the design campaigns found: calls to the first confirmed design, "
                "confirmed per call, TD-DFT hours")
    s.add_argument("--log-dir", default=str(stores_dir() / "campaigns"),
                   help="folder of campaign logs (the working ones; data/campaigns: the released ones)")
    s.set_defaults(func=_campaigns)

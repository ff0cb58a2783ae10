"""The paper's designers from the ``qdlib`` command: their forward models, their training, TD-DFT's verdicts.

``qdlib design-surrogate``
    The design-region surrogates with their held-out scores, released under ``data/models``.
``qdlib agents``
    The DDPG designers of the benchmark cases, released under ``data/agents``.
``qdlib verify``
    The agents' designs (and the particle swarm's) judged by TD-DFT (:mod:`qdlib.verification`).

:func:`add_commands` registers them on the parser :func:`qdlib.cli.build_parser` builds.
"""

from __future__ import annotations

import argparse

from ..paths import store_path
from ._options import add_case_args, add_engine_args, engine_options, local_executor

__all__ = ["add_commands"]


def _torch_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def _design_surrogate(args: argparse.Namespace) -> int:
    from ..forward import fit_design_surrogate, format_report, release_design_surrogate
    from ..release import update_registry
    from ..tddft_data import load_tddft_dataset

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

    from ..agents import AGENT_CONFIG, all_cases, run_cases
    from ..release import update_registry

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
    from ..agents import all_cases, validate_case
    from ..references import compute_references
    from ..stats import format_rate
    from ..verification import compute_pso_designs, compute_rechecks

    cases = all_cases(args.kinds, args.dots, args.edges, args.atoms)
    if args.references_only:
        targets = compute_references(sorted({(c.dot, c.kind) for c in cases}), args.store, options=engine_options(args),
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
    executor = local_executor(args)
    rechecks = compute_rechecks(validations, args.n_valid, args.store, options=engine_options(args), executor=executor,
                                max_states=args.max_states, retry_failed=args.retry_failed)  # fmt: skip
    if args.pso_designs:  # the particle swarm's best designs of the same cases, judged the same way
        for v in validations:
            compute_pso_designs(v.case, args.pso_designs, args.store, options=engine_options(args), executor=executor,
                                max_states=args.max_states)  # fmt: skip
    print(f"{'case':28s} {'valid':>5s} {'unconv.':>7s} {'uncov.':>6s}  {'TD-DFT success [95 % CI]':26s} {'|Δpeak| nm':>10s} {'ΔE eV':>6s}")
    for name, r in rechecks.items():
        s = r.summary()
        print(f"{name:28s} {s['n']:5d} {s['unconverged']:7d} {s['uncovered']:6d}  {format_rate(s['tddft_success'], s['n']):26s} "
              f"{s['median_abs_peak_error_nm']:10.1f} {s['median_energy_above_reference_ev']:6.2f}")  # fmt: skip
    return 0


def add_commands(command) -> None:
    """Register ``design-surrogate``, ``agents`` and ``verify`` through ``command(name, **kwargs)``."""
    m = command("design-surrogate", help="train the design-region surrogates (authors' data + design-region set), release them")
    m.add_argument("--kinds", nargs="*", default=["absorption", "emission"], choices=["absorption", "emission"])
    m.add_argument("--test-fraction", type=float, default=0.25, help="share of each design-region case held out")
    m.add_argument("--design-repeat", type=int, default=10, help="weight of design-region frames and benchmark dots")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--threads", type=int, default=None, help="torch threads")
    m.set_defaults(func=_design_surrogate)
    g = command("agents", help="train the DDPG designers of the benchmark cases into data/agents (skips saved ones)")
    add_case_args(g)
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
    add_case_args(v)
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
    add_engine_args(v)
    v.set_defaults(func=_verify)

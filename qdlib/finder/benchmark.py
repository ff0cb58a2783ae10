"""The replay benchmark: every method on targets fixed by a rule, over the library's stored spectra, at no TD-DFT cost.

A replay's pool is the members whose TD-DFT the store holds; a call reads the store
(:class:`~qdlib.finder.pool.StoreOracle` with ``replay=True``). Targets are fixed before any
method runs (:func:`replay_targets`): spectra of members drawn at random (they stay in the pool),
single bands every 20 nm, and spectra of structures outside the library (e.g. the authors' Gaussian
16 spectra of larger dots) — some of them met by no member. Whether a target is *reachable* is
known in a replay: every member of the pool is judged against it (:func:`pass_count`, which also gives the
share of members that meet it: the random control's pass rate, the criterion's looseness on that target).

:func:`run_replay` runs each method × seed × target with the same budget and returns one row per
run; :func:`summarise` reduces them per method: the share of reachable targets confirmed within the
budget (with its interval and n), the median calls to the first confirmed member, the survival
curve (share of runs with a confirmed member after each call, not padded), and the acceleration
over a baseline (mean calls to the first of the baseline over the method's, a run without one
counted as budget + 1: a mean restricted to the budget; bootstrap 95 % interval over targets, each
target's calls averaged over its seeds). The pool of a replay holds only members within the stability
bound, as the command's does.

>>> rows = [{"method": m, "target": t, "seed": 0, "reachable": True, "first": f}
...         for m, t, f in [("al", "a", 2), ("al", "b", 4), ("random", "a", 10), ("random", "b", None)]]
>>> s = summarise(rows, budget=24, baselines=("random",), n_boot=200)
>>> s["al"]["found"], s["al"]["median_first"], round(s["al"]["acceleration"]["random"]["ratio"], 2)
('2/2 = 1.00 [0.34, 1.00]', 3.0, 5.83)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..stats import censored_median, format_rate
from ..verdict import Target
from .loop import FinderConfig, TargetDesign, first_confirmed

UNREACHABLE_BELOW: float = 0.05
"""The rule the replay measures: a run without a confirmed member *would* say "no member is likely to meet
this target" when the chance its model gives a member not judged yet (:meth:`~qdlib.finder.TargetDesign.chance_left`)
is below this. The command does not say it until the replay shows how often that is wrong on reachable
targets (on the toy library after three calls: every time, the model having seen three bands)."""

__all__ = ["UNREACHABLE_BELOW", "authors_outside", "pass_count", "replay_targets", "run_replay", "summarise", "survival_curve"]


def replay_targets(pool, oracle, n_members: int = 10, bands_nm: Sequence[float] = tuple(range(360, 641, 20)),
                   outside: Sequence[tuple[str, np.ndarray]] = (), seed: int = 0) -> list[tuple[str, Target | str]]:  # fmt: skip
    """The targets of a replay, by rule: ``(name, target)``, or ``(name, reason)`` for one that cannot be judged.

    Parameters
    ----------
    pool, oracle
        The replay's pool (stored members) and its oracle.
    n_members : int
        Members drawn at random (``seed``) whose TD-DFT spectra are targets, in ε.
    bands_nm : sequence of float
        Single bands (:func:`qdlib.targets.band_target`, the paper's broadening).
    outside : sequence of (name, spectrum, cover_nm)
        Spectra (ε on the paper's absorption grid) of structures not in the library, each with the
        shortest wavelength its own states reach (:func:`authors_outside`): its window starts where
        both it and the library's spectra are complete.
    """
    from .. import spectra
    from ..targets import TargetError, band_target, spectrum_target

    grid = spectra.wavelength_grid("absorption")  # its first bin, 0 nm, is no wavelength: left out
    out: list[tuple[str, Target | str]] = []
    rng = np.random.default_rng([seed, 7])
    for i in sorted(rng.choice(len(pool), size=min(n_members, len(pool)), replace=False)):
        member = pool.members[int(i)]
        (result,) = oracle([member])
        y = result.spectrum("absorption")
        out.append(_target(f"member {member.info['isomer']}", lambda y=y: spectrum_target(grid[1:], y[1:], units="epsilon"),
                           TargetError))  # fmt: skip
    for peak in bands_nm:
        out.append(_target(f"band {peak:g} nm", lambda p=peak: band_target(p), TargetError))
    from ..library.tddft import COVER_NM

    for name, y, cover in outside:
        make = lambda y=y, c=cover: spectrum_target(grid[1:], np.asarray(y)[1:], units="epsilon", min_cover_nm=max(c, COVER_NM))
        out.append(_target(name, make, TargetError))
    return out


def authors_outside(min_atoms: int = 15, max_atoms: int = 30) -> list[tuple[str, np.ndarray, float]]:
    """The authors' Gaussian 16 absorption spectra of their dots with ``min_atoms``–``max_atoms`` atoms (none of
    them in a Cd4–Cd7 library): ``(name, spectrum, cover_nm)``, the spectrum in ε on the paper's grid, and
    ``cover_nm`` the bluest of the six sticks fitted to it (:func:`qdlib.spectra.fit_sticks`): their spectra
    hold the six lowest states only, so they are complete only to the red of it."""
    from .. import datasets, spectra

    ds = datasets.fetch_paper_dataset("absorption")
    grid = spectra.wavelength_grid("absorption")
    out = []
    for atoms, y, g in zip(ds.structures, ds.spectra, ds.groups):
        if min_atoms <= len(atoms) <= max_atoms:
            lam, _ = spectra.fit_sticks(y, grid, n_states=6)
            out.append((f"authors' {atoms.get_chemical_formula()} (group {int(g)})", np.asarray(y, dtype=float), float(lam.min())))
    return out


def _target(name, make, error):
    try:
        target = make()
    except error as exc:
        return name, str(exc)
    target.name = name
    return name, target


def pass_count(pool, oracle, target: Target, max_e_above_ev: float | None = None) -> tuple[int, int]:
    """How many members of the pool meet ``target``, of how many (every stored member judged: a replay knows).

    ``k / n`` is the chance that one random member is confirmed — the criterion's looseness on this target
    (the random control's pass rate); ``k > 0``: the target is reachable.
    """
    if not len(pool):
        return 0, 0
    config = FinderConfig(method="stable-first", budget=len(pool), stop_at_first=False,
                          **({} if max_e_above_ev is None else {"max_e_above_ev": max_e_above_ev}))  # fmt: skip
    calls = TargetDesign(target, pool, oracle, config).run()
    return sum(c.confirmed for c in calls), len(calls)


def run_replay(pool, oracle, targets: Sequence[tuple[str, Target | str]], methods: Sequence[str], seeds: Sequence[int],
               budget: int = 24, progress=None) -> list[dict]:  # fmt: skip
    """Every method × seed on every judgeable target: one row per run (``method``, ``target``, ``seed``,
    ``reachable``, ``members_meeting`` of ``members`` (:func:`pass_count`), ``first``: the call of the first
    confirmed member or ``None``, ``calls``, ``closest_margin``;
    without a confirmed member, ``chance_left`` and ``said_unreachable``: whether the run says no member is
    likely to meet the target, to be compared with ``reachable``)."""
    from .criterion import MAX_E_ABOVE_EV

    pool = pool.subset([i for i, e in enumerate(pool.e_above_ev) if e <= MAX_E_ABOVE_EV])  # only members that can pass
    rows = []
    for name, target in targets:
        if isinstance(target, str):
            continue
        k, n = pass_count(pool, oracle, target)
        can = k > 0
        for method in methods:
            for seed in seeds:
                run = TargetDesign(target, pool, oracle, FinderConfig(method=method, seed=seed, budget=budget))
                calls = run.run()
                first = first_confirmed(calls)
                chance = None if first is not None else run.chance_left()
                rows.append({"method": method, "target": name, "seed": seed, "reachable": can, "members_meeting": k,
                             "members": n, "first": first,
                             "calls": len(calls), "closest_margin": max(c.margin for c in calls) if calls else float("nan"),
                             "chance_left": chance, "said_unreachable": chance is not None and chance < UNREACHABLE_BELOW})  # fmt: skip
                if progress is not None:
                    progress(rows[-1])
    return rows


def survival_curve(firsts: Sequence[int | None], budget: int) -> np.ndarray:
    """Share of runs with a confirmed member after each call ``1 … budget`` (a run counts from its first on)."""
    f = np.array([np.inf if x is None else x for x in firsts], dtype=float)
    return np.array([(f <= k).mean() for k in range(1, budget + 1)]) if f.size else np.zeros(budget)


def summarise(rows: Sequence[dict], budget: int = 24, baselines: Sequence[str] = ("random", "stable-first"),
              n_boot: int = 2000, seed: int = 0) -> dict[str, dict]:  # fmt: skip
    """Per method, over the runs on reachable targets: ``found`` (share confirmed within the budget, with its
    interval), ``median_first`` (calls, a run without one counted as beyond the budget: ``None`` if the
    median is such a run), ``survival`` and ``acceleration`` over each baseline present (``ratio`` of the mean
    calls to the first restricted to the budget — a run without one counts budget + 1 —, baseline over method,
    and its bootstrap 95 % interval over targets, ``low``, ``high``)."""
    ok = [r for r in rows if r["reachable"]]
    methods = sorted({r["method"] for r in ok})
    calls = {m: {} for m in methods}  # method -> target -> calls to the first per seed (budget + 1 if none)
    for r in ok:
        calls[r["method"]].setdefault(r["target"], []).append(budget + 1 if r["first"] is None else r["first"])
    out = {}
    for j, m in enumerate(methods):
        firsts = [r["first"] for r in ok if r["method"] == m]
        k = sum(f is not None for f in firsts)
        entry = {"found": format_rate(k, len(firsts)), "k": k, "n": len(firsts), "median_first": censored_median(firsts),
                 "survival": survival_curve(firsts, budget)}  # fmt: skip
        entry["acceleration"] = {}
        for b in baselines:
            if b == m or b not in calls:
                continue
            shared = sorted(set(calls[m]) & set(calls[b]))
            if not shared:
                continue
            mine = np.array([np.mean(calls[m][t]) for t in shared])
            base = np.array([np.mean(calls[b][t]) for t in shared])
            ratio = base.mean() / mine.mean()
            rng = np.random.default_rng([seed, j, sorted(calls).index(b)])  # one stream per pair: adding a method changes no other
            idx = rng.integers(len(shared), size=(n_boot, len(shared)))
            boot = base[idx].mean(axis=1) / mine[idx].mean(axis=1)
            entry["acceleration"][b] = {"ratio": float(ratio), "low": float(np.quantile(boot, 0.025)),
                                        "high": float(np.quantile(boot, 0.975)), "n_targets": len(shared)}  # fmt: skip
        out[m] = entry
    return out

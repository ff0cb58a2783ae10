"""What campaigns found, read back from their logs: the tables and curves of notebook 07.

Every campaign leaves one JSON line per TD-DFT call in ``<log_dir>/<name>.jsonl``
(:class:`~qdlib.campaign.CallRecord`); its name says its case, target, method and seed
(:attr:`CampaignConfig.name`). This module reads a folder of them and answers, per
case × target × method over seeds: how many calls to the first confirmed design, how many
confirmed designs per call, what the calls cost.

>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> read_campaigns(folder)
[]
"""

from __future__ import annotations

import re
import shutil
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..stats import binomial_interval, censored_median, format_rate, rank_correlation
from .loop import CallRecord, CampaignConfig, default_budget, read_log

__all__ = [
    "CampaignLog",
    "config_from_name",
    "confirmed_by_call",
    "confirmed_designs",
    "first_rate",
    "format_summary",
    "pass_rate",
    "read_campaigns",
    "release_campaign_logs",
    "shared_designs",
    "sort_rows",
    "strain_agreement",
    "stream_test",
    "summary_rows",
    "survival",
]

_NAME = re.compile(r"^(?P<dot>\w+?)_(?P<edge>[\d.]+)A_(?P<n>\d+)_T(?P<shift>0|[+-][\d.]+)_(?P<method>[a-z][a-z-]*)_s(?P<seed>\d+)$")


def config_from_name(name: str, **overrides) -> CampaignConfig:
    """The :class:`CampaignConfig` a log name stands for (budget: 24 calls per moved atom, as
    ``qdlib campaign`` sets it, unless ``overrides`` give it and the batch size).

    >>> c = config_from_name("Cd4Se4_4A_1_T+10_bo_s2")
    >>> c.dot, c.edge_angstrom, c.n_movable, c.target_shift_nm, c.method, c.seed
    ('Cd4Se4', 4.0, 1, 10.0, 'bo', 2)
    >>> config_from_name("Cd4Se4_4A_1_T+10_bo_s2").name, config_from_name("Cd6Se6_4A_2_T0_al_s0").budget
    ('Cd4Se4_4A_1_T+10_bo_s2', 48)
    """
    m = _NAME.match(name)
    if m is None:
        raise ValueError(f"not a campaign name: {name!r} (expected e.g. Cd4Se4_4A_1_T+10_bo_s0)")
    overrides = {"budget": default_budget(int(m["n"]), m["method"])} | overrides
    return CampaignConfig(dot=m["dot"], edge_angstrom=float(m["edge"]), n_movable=int(m["n"]),
                          target_shift_nm=float(m["shift"]), method=m["method"], seed=int(m["seed"]), **overrides)  # fmt: skip


@dataclass
class CampaignLog:
    """One campaign as its log records it."""

    config: CampaignConfig
    history: list[CallRecord]

    @property
    def case(self) -> str:
        """``Cd4Se4 4 Å 1 at.``"""
        c = self.config
        return f"{c.dot} {c.edge_angstrom:g} Å {c.n_movable} at."

    @property
    def target(self) -> str:
        from .criterion import target_name

        return target_name(self.config.target_shift_nm)

    @property
    def finished(self) -> bool:
        """Whether the campaign has ended: its budget spent, or a design confirmed in its last round
        (where a campaign run with ``stop_at_first`` stops). A log that is neither is still being written."""
        if len(self.history) >= self.config.budget:
            return True
        last = self.history[-1].round if self.history else None
        return any(r.confirmed for r in self.history if r.round == last)

    @property
    def settled(self) -> bool:
        """Whether its outcome is known: finished, or a design confirmed already."""
        return self.finished or self.first_confirmed is not None

    @property
    def first_confirmed(self) -> int | None:
        """1-based call of the first confirmed design; None if none."""
        return next((r.call + 1 for r in self.history if r.confirmed), None)


def read_campaigns(log_dir, methods: Sequence[str] | None = None) -> list[CampaignLog]:
    """Every campaign log under ``log_dir`` (``*.jsonl``; names as :func:`config_from_name` reads), by name."""
    out = []
    for path in sorted(Path(log_dir).glob("*.jsonl")):
        config = config_from_name(path.stem)
        if methods is None or config.method in methods:
            out.append(CampaignLog(config, read_log(path)))
    return out


def release_campaign_logs(log_dir, out) -> tuple[list[CampaignLog], list[CampaignLog], list[Path]]:
    """Copy the logs of the finished campaigns of ``log_dir`` to ``out``, the release; the release follows the working logs.

    A campaign still running is held back; a released log with no finished working log (its
    campaign restarted or removed) is removed. Nothing is done, and ``out`` is not created, when
    ``log_dir`` holds no log.

    Returns
    -------
    released, held_back : list of CampaignLog
        The finished campaigns (copied) and the running ones (not released).
    removed : list of pathlib.Path
        The released logs removed.
    """
    logs = read_campaigns(log_dir)
    if not logs:
        return [], [], []
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    done = [g for g in logs if g.finished]
    for g in done:
        shutil.copyfile(Path(log_dir) / f"{g.config.name}.jsonl", out / f"{g.config.name}.jsonl")
    removed = sorted(set(out.glob("*.jsonl")) - {out / f"{g.config.name}.jsonl" for g in done})
    for stale in removed:
        stale.unlink()
    return done, [g for g in logs if not g.finished], removed


def confirmed_by_call(log: CampaignLog) -> np.ndarray:
    """Confirmed designs found after each call (cumulative), shape ``(calls,)``."""
    return np.cumsum([r.confirmed for r in log.history]).astype(int)


def pass_rate(records: Sequence[CallRecord]) -> dict:
    """Confirmed among distinct computed designs (one per store key): ``k``, ``n``, ``rate``, ``low``, ``high`` (95 % Wilson)."""
    distinct = {r.key: r for r in records if r.status != "failed"}
    k, n = sum(r.confirmed for r in distinct.values()), len(distinct)
    low, high = binomial_interval(k, n)
    return {"k": k, "n": n, "rate": k / n if n else float("nan"), "low": low, "high": high}


def strain_agreement(records: Sequence[CallRecord], max_strain_ev: float = 0.5) -> dict:
    """How GFN2-xTB's strain, the filter before TD-DFT, agrees with DFT's over distinct computed designs.

    Keys: ``n``; ``rho``, ``low``, ``high`` (Spearman's rank correlation, 95 % interval,
    :func:`~qdlib.stats.rank_correlation`); ``k_over``, ``over_low``, ``over_high`` (designs the xTB
    filter admitted whose DFT strain exceeds ``max_strain_ev``: TD-DFT calls the strain test then
    rejects, 95 % Wilson interval); ``xtb``, ``dft`` (eV, arrays for a plot).
    """
    distinct = {r.key: r for r in records if np.isfinite(r.strain_ev) and np.isfinite(r.xtb_strain_ev)}
    xtb = np.array([r.xtb_strain_ev for r in distinct.values()])
    dft = np.array([r.strain_ev for r in distinct.values()])
    rho, low, high = rank_correlation(xtb, dft)
    k = int((dft > max_strain_ev).sum())
    over_low, over_high = binomial_interval(k, len(dft))
    return {"n": len(dft), "rho": rho, "low": low, "high": high, "k_over": k, "over_low": over_low,
            "over_high": over_high, "xtb": xtb, "dft": dft}


def summary_rows(logs: Sequence[CampaignLog]) -> list[dict]:
    """One row per case × target × method, over seeds.

    Keys: ``case``, ``target``, ``method``, ``seeds``, ``calls`` (per seed), ``found`` (seeds with a
    confirmed design), ``first_median`` (median over the finished seeds of the call of its first
    confirmed design, a seed that found none counting as beyond its budget; None when that median
    lies beyond the budget or no seed has finished; a seed still running without a confirmed design
    is left out, :attr:`CampaignLog.finished`), ``first`` (per seed, None where none), ``running``
    (seeds still running), ``confirmed`` and
    ``per_call`` (confirmed designs per call, all seeds pooled) with its 95 % Wilson ``low``/``high``,
    ``tddft_hours`` (summed wall time of the calls' TD-DFT, h; a call found stored counts what it
    cost where it was computed).
    """
    rows = []
    for (case, target, method), group in _groups(logs).items():
        first = [g.first_confirmed for g in group]
        found = [f for f in first if f is not None]
        calls = [len(g.history) for g in group]
        k = sum(int(r.confirmed) for g in group for r in g.history)
        low, high = binomial_interval(k, sum(calls))
        wall = np.array([r.wall_time_s for g in group for r in g.history], dtype=float)
        rows.append({"case": case, "target": target, "method": method, "seeds": [g.config.seed for g in group],
                     "calls": calls, "found": len(found), "first": first,
                     "running": [g.config.seed for g in group if not g.finished],
                     "first_median": censored_median([g.first_confirmed for g in group if g.settled]),
                     "confirmed": k,
                     "per_call": k / sum(calls) if sum(calls) else float("nan"), "low": low, "high": high,
                     "tddft_hours": float(np.nansum(wall) / 3600)})  # fmt: skip
    return rows


_METHOD_ORDER = {m: i for i, m in enumerate(["random", "stable-first", "surrogate", "bo", "al"])}
_TARGET_ORDER = {t: i for i, t in enumerate(["T0", "T+10", "T-10"])}


def sort_rows(rows: Sequence[dict]) -> list[dict]:
    """:func:`summary_rows` by case, target (T0, T+10, T−10) and method (random, stable-first, surrogate, bo, al)."""
    return sorted(rows, key=lambda r: (r["case"], _TARGET_ORDER.get(r["target"], 9), _METHOD_ORDER.get(r["method"], 9)))


def format_summary(rows: Sequence[dict]) -> str:
    """The campaigns' table: per case × target × method, calls to the first confirmed design and confirmed per call.

    Per seed, the call of its first confirmed design: "—" none within the budget, "…" none yet (still running).

    >>> row = {"case": "Cd4Se4 4 Å 1 at.", "target": "T0", "method": "bo", "seeds": [0, 1, 2], "calls": [5, 24, 9],
    ...        "first": [5, None, 9], "first_median": 9.0, "confirmed": 2}
    >>> print(format_summary([row]))
    case               target method       seeds     calls first (per seed)   median confirmed/call [95 % CI]
    Cd4Se4 4 Å 1 at.   T0     bo               3    5/24/9 5, —, 9                 9 2/38 = 0.05 [0.01, 0.17]
    """
    lines = [f"{'case':18s} {'target':6s} {'method':12s} {'seeds':>5s} {'calls':>9s} {'first (per seed)':18s} "
             f"{'median':>6s} confirmed/call [95 % CI]"]  # fmt: skip
    for r in sort_rows(rows):
        running = set(r.get("running", ()))
        first = ", ".join(("…" if seed in running else "—") if f is None else str(f) for f, seed in zip(r["first"], r["seeds"]))
        median = "—" if r["first_median"] is None else f"{r['first_median']:.0f}"
        lines.append(f"{r['case']:18s} {r['target']:6s} {r['method']:12s} {len(r['seeds']):5d} "
                     f"{'/'.join(map(str, r['calls'])):>9s} {first:18s} {median:>6s} "
                     f"{format_rate(r['confirmed'], sum(r['calls']))}")  # fmt: skip
    return "\n".join(lines)


def _groups(logs: Sequence[CampaignLog]) -> dict[tuple, list[CampaignLog]]:
    groups: dict[tuple, list[CampaignLog]] = defaultdict(list)
    for g in logs:
        groups[g.case, g.target, g.config.method].append(g)
    return {k: sorted(v, key=lambda g: g.config.seed) for k, v in groups.items()}


def survival(logs: Sequence[CampaignLog]) -> dict[tuple, dict]:
    """The fraction of seeds with a confirmed design after each call, per case × target × method.

    Drawn as a step curve, as a survival curve is: a seed counts from the call of its first
    confirmed design on; a seed that stopped there is not padded, and a seed still running
    without one is left out (its outcome is not known yet).

    Returns
    -------
    dict
        ``(case, target, method)`` → ``calls`` (0 … budget), ``found`` (fraction of seeds with a
        confirmed design within that many calls), ``n_seeds``, ``first`` (per seed; None: none).

    Examples
    --------
    >>> mk = lambda name, flags: CampaignLog(config_from_name(name), [_toy_call(i, c) for i, c in enumerate(flags)])
    >>> logs = [mk("D_4A_1_T0_al_s0", [0, 1]), mk("D_4A_1_T0_al_s1", [0] * 24), mk("D_4A_1_T0_al_s2", [0, 0, 0, 1])]
    >>> s = survival(logs)["D 4 Å 1 at.", "T0", "al"]
    >>> s["n_seeds"], s["first"], s["found"][[0, 1, 2, 3, 4, 24]].round(2)
    (3, [2, None, 4], array([0.  , 0.  , 0.33, 0.33, 0.67, 0.67]))
    """
    out = {}
    for key, group in _groups(logs).items():
        done = [g for g in group if g.settled]
        budget = max(g.config.budget for g in group)
        calls = np.arange(budget + 1)
        first = [g.first_confirmed for g in done]
        found = np.array([sum(f is not None and f <= k for f in first) for k in calls], dtype=float)
        out[key] = {"calls": calls, "found": found / max(len(done), 1), "n_seeds": len(done), "first": first}
    return out


def first_rate(logs: Sequence[CampaignLog]) -> dict[tuple, dict]:
    """First confirmed designs per call spent until then, per case × target × method, over seeds.

    Comparable between methods that stop at their first confirmed design and methods that spend
    their budget: each seed contributes the calls it made up to and including its first confirmed
    design (its whole budget when it found none) and one success or none.

    Returns
    -------
    dict
        ``(case, target, method)`` → ``k`` (seeds with a confirmed design), ``n`` (calls spent until
        the first), ``rate`` and its 95 % Wilson ``low``/``high``.

    Examples
    --------
    >>> mk = lambda name, flags: CampaignLog(config_from_name(name), [_toy_call(i, c) for i, c in enumerate(flags)])
    >>> r = first_rate([mk("D_4A_1_T0_random_s0", [0, 1, 0, 1] + [0] * 20), mk("D_4A_1_T0_random_s1", [0] * 24)])
    >>> r["D 4 Å 1 at.", "T0", "random"]["k"], r["D 4 Å 1 at.", "T0", "random"]["n"]
    (1, 26)
    """
    out = {}
    for key, group in _groups(logs).items():
        done = [g for g in group if g.settled]
        k = sum(g.first_confirmed is not None for g in done)
        n = sum(g.first_confirmed or len(g.history) for g in done)
        low, high = binomial_interval(k, n)
        out[key] = {"k": k, "n": n, "rate": k / n if n else float("nan"), "low": low, "high": high}
    return out


def stream_test(logs: Sequence[CampaignLog], method: str, other: str) -> dict:
    """Exact paired test of calls to the first confirmed design, ``method`` against ``other``.

    The unit is an independent stream — a case and a seed: the campaigns of one seed share their
    random draws across targets (the random control's designs serve every target; a model-based
    method's pool and first designs come from the seed), so targets of one stream are not
    independent. A stream's value is the sum over its targets of the calls to the first confirmed
    design, a campaign with none counting as its budget + 1. The paired differences are tested by
    the exact sign-flip permutation test of their mean (every one of the 2^n sign assignments, as
    ``scipy.stats.permutation_test`` with ``permutation_type="samples"`` enumerates them for n ≥ 2);
    streams run by both methods on the same targets only.

    Returns
    -------
    dict
        ``n_streams``, ``method``/``other`` (per-stream values), ``mean_difference`` (method − other,
        calls; negative: ``method`` is faster), ``p_two_sided``, ``p_less`` (one-sided: ``method``
        needs fewer calls), ``wins``/``ties``/``losses`` over the stream × target pairs.

    Examples
    --------
    >>> mk = lambda name, flags: CampaignLog(config_from_name(name), [_toy_call(i, c) for i, c in enumerate(flags)])
    >>> logs = [mk(f"D_4A_1_T0_{m}_s{s}", [0] * (n - 1) + [1]) for s in range(4) for m, n in (("al", 2), ("random", 9))]
    >>> t = stream_test(logs, "al", "random")
    >>> t["n_streams"], t["mean_difference"], round(t["p_less"], 4), t["wins"]
    (4, -7.0, 0.0625, 4)
    """
    def values(m):
        per = defaultdict(dict)
        for g in logs:
            if g.config.method == m and g.settled:
                per[g.case, g.config.seed][g.target] = g.first_confirmed or g.config.budget + 1
        return per

    a, b = values(method), values(other)
    streams = sorted(s for s in a if s in b and set(a[s]) == set(b[s]))
    x = np.array([sum(a[s].values()) for s in streams], dtype=float)
    y = np.array([sum(b[s].values()) for s in streams], dtype=float)
    pairs = [(a[s][t], b[s][t]) for s in streams for t in a[s]]
    out = {"n_streams": len(streams), "streams": streams, "method": x.tolist(), "other": y.tolist(),
           "wins": sum(p < q for p, q in pairs), "ties": sum(p == q for p, q in pairs),
           "losses": sum(p > q for p, q in pairs)}  # fmt: skip
    if not streams:
        return out | {"mean_difference": float("nan"), "p_two_sided": float("nan"), "p_less": float("nan")}

    d = x - y
    signs = 1 - 2 * ((np.arange(2 ** len(d))[:, None] >> np.arange(len(d))) & 1)  # every sign assignment, (2^n, n)
    means = (signs * np.abs(d)).mean(axis=1)
    eps = 1e-9 * max(1.0, float(np.abs(d).max()))
    p2 = float(np.mean(np.abs(means) >= abs(d.mean()) - eps))
    p1 = float(np.mean(means <= d.mean() + eps))
    return out | {"mean_difference": float(d.mean()), "p_two_sided": p2, "p_less": p1}


def confirmed_designs(logs: Sequence[CampaignLog]) -> list[tuple[CampaignConfig, CallRecord]]:
    """Every distinct confirmed design (one per results-store key), with the first campaign that confirmed it."""
    seen: dict[str, tuple[CampaignConfig, CallRecord]] = {}
    for g in logs:
        for r in g.history:
            if r.confirmed and r.key not in seen:
                seen[r.key] = (g.config, r)
    return list(seen.values())


def _toy_call(call: int, confirmed: bool) -> CallRecord:
    """A logged call with only its index and verdict set (for the examples)."""
    nan = float("nan")
    return CallRecord(call, call // 2, [0.5, 0.5, 0.5], f"k{call}", "valid", 6, nan, nan, nan, nan, nan, nan, nan, nan,
                      bool(confirmed), [], nan, nan)  # fmt: skip


def shared_designs(logs: Sequence[CampaignLog], method: str) -> list[tuple[str, int, int, int]]:
    """Seeds of ``method`` that computed the same designs: ``(case, seed, other seed, designs shared)`` per such pair.

    Seeds are independent only if they draw their designs independently: two seeds drawing
    continuous random designs from their own pools share none, while seeds drawing from one
    candidate pool come to pick the same candidates. Empty when no two seeds of a case share a design.

    >>> import dataclasses
    >>> mk = lambda name, keys: CampaignLog(config_from_name(name), [dataclasses.replace(_toy_call(i, False), key=k)
    ...                                                               for i, k in enumerate(keys)])
    >>> shared_designs([mk("D_4A_1_T0_bo_s0", "ab"), mk("D_4A_1_T+10_bo_s1", "cb"), mk("D_4A_1_T0_bo_s2", "de")], "bo")
    [('D 4 Å 1 at.', 0, 1, 1)]
    """
    keys: dict[tuple[str, int], set[str]] = defaultdict(set)
    for g in logs:
        if g.config.method == method:
            keys[g.case, g.config.seed] |= {r.key for r in g.history}
    out = []
    for (case, seed), k in sorted(keys.items()):
        for (case2, seed2), k2 in sorted(keys.items()):
            if case2 == case and seed2 > seed and k & k2:
                out.append((case, seed, seed2, len(k & k2)))
    return out

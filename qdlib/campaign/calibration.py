"""Is the criterion strict enough, and does it mean "the same spectrum"? The criterion's checks.

Two readings of :class:`~qdlib.campaign.Criterion` that need no design method: the random control
(:func:`calibration_report`: how many random physical designs it confirms, against a one-in-ten
bar) and notebook 05's sensitivity sweep (:func:`criterion_on_sweep`: designs moved by a known
distance, which a criterion of "the same spectrum" should pass when small and fail when large);
and the forward models scored on the random control (:func:`forward_models_on_random`).

>>> calibration_report([], store=None, log_dir=None)
''
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from ..stats import format_rate
from .results import _TARGET_ORDER, CampaignLog, _groups, pass_rate

__all__ = ["calibration_report", "criterion_on_sweep", "forward_models_on_random"]


def calibration_report(logs: Sequence[CampaignLog], store, log_dir, max_rate: float = 0.1) -> str:
    """Is the criterion strict enough? Per case and target, the random control's pass rate and the calibration.

    For each case × target with random campaigns: the criterion's cosine threshold; the random designs
    confirmed with the shape test taken at the peak tolerance; the shift :func:`calibrate_shape_shift`
    finds on them beside the one the criterion uses; their pass rate under the criterion, with the
    tests they failed; the same per seed, with its 95 % interval and whether it lies above ``max_rate``;
    and what the criterion's first version (cosine ≥ 0.9 alone, no intensity test) would confirm.
    """
    import dataclasses as dc

    from .criterion import Criterion, calibrate_shape_shift
    from .loop import Campaign

    first_version = Criterion(min_similarity=0.9, max_intensity_ratio=np.inf)
    lines = []
    for (case, target, method), group in sorted(_groups(logs).items(), key=lambda kv: (kv[0][0], _TARGET_ORDER.get(kv[0][1], 9))):
        if method != "random":
            continue
        c0 = Campaign(group[0].config, store, log_dir)
        calls = [r for g in group for r in g.history]
        valid = list({r.key: r for r in calls if r.status == "valid"}.values())
        verdicts = [r.verdict() for r in valid]
        at_tolerance = dc.replace(c0.criterion, min_similarity=None, shape_shift_nm=None).for_target(c0.target)
        k5 = sum(at_tolerance.check(v, c0.space.min_distance_angstrom).confirmed for v in verdicts)
        shift = calibrate_shape_shift(verdicts, c0.target, c0.criterion, min_distance_angstrom=c0.space.min_distance_angstrom)
        used = c0.criterion.shape_shift_nm or c0.criterion.peak_tolerance_nm
        tol = c0.criterion.peak_tolerance_nm
        lines.append(f"{case}, {target}: cosine threshold {c0.criterion.min_similarity:.4f}; the shape test at {tol:g} nm "
                     f"confirms {format_rate(k5, len(verdicts))} of the random designs; calibrated shift {shift:g} nm, "
                     f"the criterion uses {used:g} nm")  # fmt: skip
        p = pass_rate(calls)
        fails: dict[str, int] = defaultdict(int)
        for r in valid:
            for f in r.failures:
                fails[f] += 1
        lines.append(f"    random designs confirmed {format_rate(p['k'], p['n'])}; failed tests among {len(valid)} valid: "
                     f"{dict(sorted(fails.items()))}")  # fmt: skip
        for g in group:
            q = pass_rate(g.history)
            bar = "above" if q["rate"] > max_rate else "within"
            lines.append(f"    seed {g.config.seed}: {format_rate(q['k'], q['n'])}, {bar} the one-in-{1 / max_rate:.0f} bar")
        k1 = sum(first_version.check(r.verdict()).confirmed for r in valid)
        lines.append(f"    the criterion's first version (cosine ≥ 0.9 alone) would confirm {format_rate(k1, len(valid))}")
    return "\n".join(lines)


def criterion_on_sweep(dot: str, distances_angstrom: Sequence[float], source, n_directions: int = 2,
                       seed: int = 0) -> dict[float, list]:  # fmt: skip
    """The criterion judging notebook 05's sensitivity sweep against the dot's own spectrum (T0).

    Parameters
    ----------
    dot : str
        Benchmark dot whose designed atoms are moved.
    distances_angstrom : sequence of float
        Displacements of each moved atom, Å (1, 2 and 3 moved atoms, ``n_directions`` random
        directions each, :func:`qdlib.generate.sensitivity_set`).
    source
        Released TD-DFT dataset (frames) where the sweep's covered spectra are looked up.

    Returns
    -------
    dict
        Distance (Å) → the :class:`~qdlib.campaign.Confirmation` of every swept geometry found in
        ``source``; empty when none is released.

    Raises
    ------
    LookupError
        When ``source`` holds no reference spectrum of ``dot`` (the target cannot be built).
    """
    from .. import generate, references
    from ..verdict import judge
    from .criterion import Criterion

    sweep = [f for f in generate.sensitivity_set(dot, distances_angstrom, [1, 2, 3], n_directions, seed=seed)
             if f.info["distance_angstrom"] > 0]  # fmt: skip
    window = references.case_window(dot, "absorption")
    for f in sweep:  # the labels the released sweep was computed with
        f.info = {k: f.info[k] for k in ("set", "dot", "n_movable", "distance_angstrom", "direction_index")} | {
            "cover_nm": round(float(window.cover_nm), 2)}
    target = references.case_target(dot, "absorption", source)
    criterion = Criterion.for_case(dot, 0.0).for_target(target)
    by_distance: dict[float, list] = {}
    for f, hit in zip(sweep, references.find_stored(sweep, source)):
        if hit is not None:
            by_distance.setdefault(f.info["distance_angstrom"], []).append(criterion.check(judge(hit[0], hit[1], target)))
    return dict(sorted(by_distance.items()))


def forward_models_on_random(logs: Sequence[CampaignLog], case: str, store, log_dir, min_designs: int = 8) -> dict:
    """Forward models scored on the random control of one case: a GP fit, the paper's network, no model.

    The random control's distinct designs of ``case`` with a spectrum in ``store``, split in half in
    log order: :class:`~qdlib.campaign.SpectrumModel` fitted on the first half, the released design
    surrogate (:class:`~qdlib.campaign.SurrogateDesigns`) as it is, and the first half's mean peak
    (no model), all scored by TD-DFT's central peak on the second half (T0's window).

    Returns
    -------
    dict
        ``n_designs``; when at least ``min_designs``: ``n_train``, ``n_held_out``, ``gp_mae_nm`` and
        ``gp_coverage`` (:func:`~qdlib.campaign.held_out_scores`), ``surrogate_mae_nm`` over the
        ``surrogate_n`` held-out designs both peaks of which lie on the window, ``mean_peak_mae_nm``.
    """
    from ..verdict import window_peak
    from .active import SpectrumModel, held_out_scores
    from .loop import Campaign
    from .surrogate import SurrogateDesigns

    g0 = next(g for g in logs if g.case == case)
    c = Campaign(g0.config, store, log_dir)
    calls = {r.key: r for g in logs if g.case == case and g.config.method == "random" for r in g.history}
    data = [(r, s) for r in calls.values() if (s := c.spectrum_of(r)) is not None]
    if len(data) < min_designs:
        return {"n_designs": len(data)}
    half = len(data) // 2
    u = np.array([r.u for r, _ in data])
    y = np.array([s[0] for _, s in data])
    e = np.array([s[1] for _, s in data])
    target = c.targets()[0.0]
    gp = held_out_scores(SpectrumModel().fit(u[:half], y[:half], e[:half]), u[half:], y[half:], target.window)
    truth = np.array([window_peak(t, target.window) for t in y[half:]])
    pred = np.array([window_peak(t, target.window) for t in SurrogateDesigns(c.space, target).predict(u[half:])])
    ok = np.isfinite(truth) & np.isfinite(pred)
    mean_peak = np.nanmean([window_peak(t, target.window) for t in y[:half]])
    return {"n_designs": len(data), "n_train": half, "n_held_out": len(data) - half, "gp_mae_nm": gp["peak_mae_nm"],
            "gp_coverage": gp["coverage"], "surrogate_mae_nm": float(np.mean(np.abs(pred[ok] - truth[ok]))),
            "surrogate_n": int(ok.sum()), "mean_peak_mae_nm": float(np.nanmean(np.abs(mean_peak - truth)))}  # fmt: skip

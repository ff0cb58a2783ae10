"""How well the active-learning forward model predicts TD-DFT, and whether its intervals are honest.

The forward model of :mod:`qdlib.campaign.active` (:class:`~qdlib.campaign.SpectrumModel`:
Gaussian processes on the principal components of window spectra) is fitted to ``n`` designs
drawn at random from every distinct TD-DFT-computed design of a case, and scored on the rest:
central-peak error of the posterior median, and the fraction of TD-DFT peaks inside its central
90 % interval (calibrated: 0.90). Printed side by side, over the same splits: intervals from
latent samples (the smooth trend alone) and from predictive samples (the processes' noise and the
spectra's part beyond the leading components added), with 4 and 8 components; and two baselines
without uncertainty: the training designs' mean peak, and the released design surrogate (the
network the paper's pipeline ranks with, trained on other data: nothing of the split).

    python benchmarks/forward_model.py                          # the released campaigns
    python benchmarks/forward_model.py --log-dir data/stores/campaigns --store data/stores/campaigns.json
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from qdlib.campaign import Campaign, SpectrumModel, SurrogateDesigns, held_out_scores, read_campaigns
from qdlib.paths import repo_root
from qdlib.store import ResultStore
from qdlib.tddft_data import load_tddft_dataset
from qdlib.verdict import window_peak


def case_data(log_dir, store, case: str):
    """Unit coordinates, window spectra, strains and the campaign of every distinct valid design of ``case``."""
    logs = [g for g in read_campaigns(log_dir) if g.case == case and g.history]
    if not logs:
        raise SystemExit(f"no campaign of {case!r} in {log_dir}")
    c = Campaign(logs[0].config, store, log_dir)
    records = {r.key: r for g in logs for r in g.history}
    data = [(r, s) for r in records.values() if (s := c.spectrum_of(r)) is not None]
    u = np.array([r.u for r, _ in data])
    return u, np.array([s[0] for _, s in data]), np.array([s[1] for _, s in data]), c


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--log-dir", default=str(repo_root() / "data" / "campaigns"), help="campaign logs")
    p.add_argument("--store", default=None, help="their TD-DFT results (default: the released dataset)")
    p.add_argument("--case", default="Cd4Se4 4 Å 1 at.")
    p.add_argument("--n-train", type=int, nargs="*", default=[12, 24, 48])
    p.add_argument("--repeats", type=int, default=10, help="random splits per training size")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")  # GPyTorch's jitter notices on small sets

    store = ResultStore(args.store) if args.store else load_tddft_dataset()
    u, y, e, campaign = case_data(args.log_dir, store, args.case)
    window = campaign.targets()[0.0].window
    truth = np.array([window_peak(s, window) for s in y])
    keep = np.isfinite(truth)
    u, y, e, truth = u[keep], y[keep], e[keep], truth[keep]
    network = np.array([window_peak(s, window) for s in SurrogateDesigns(campaign.space, campaign.targets()[0.0]).predict(u)])
    print(f"{args.case}: {len(u)} distinct TD-DFT-computed designs with a peak on {window.blue_nm:.1f}–{window.red_nm:.1f} nm "
          f"(peaks {truth.min():.1f}–{truth.max():.1f} nm, sd {truth.std():.1f} nm); {args.repeats} random splits per size")
    print(f"{'n train':>7} {'model':<36} {'peak MAE nm':>11} {'90 % coverage':>13} {'(range)':>12}")
    rng = np.random.default_rng(args.seed)
    for n in args.n_train:
        if n >= len(u) - 4:
            print(f"{n:7d} too few designs left to test on")
            continue
        rows: dict[str, list] = {}
        t0 = time.perf_counter()
        for _ in range(args.repeats):
            idx = rng.permutation(len(u))
            train, test = idx[:n], idx[n:]
            rows.setdefault("training mean peak", []).append((np.mean(np.abs(truth[train].mean() - truth[test])), np.nan))
            ok = np.isfinite(network[test])
            rows.setdefault("released design surrogate", []).append((np.mean(np.abs(network[test][ok] - truth[test][ok])), np.nan))
            for k in (4, 8):
                model = SpectrumModel(n_components=k).fit(u[train], y[train], e[train])
                for predictive in (False, True):
                    name = f"GP, {k} comp., {'predictive' if predictive else 'latent'} intervals"
                    s = held_out_scores(model, u[test], y[test], window, predictive=predictive)
                    rows.setdefault(name, []).append((s["peak_mae_nm"], s["coverage"]))
        for name, v in rows.items():
            v = np.array(v)
            cov = "" if np.isnan(v[:, 1]).all() else f"{np.median(v[:, 1]):13.2f} {v[:, 1].min():5.2f}–{v[:, 1].max():.2f}"
            print(f"{n:7d} {name:<36} {np.median(v[:, 0]):11.1f} {cov}")
        print(f"timing: {time.perf_counter() - t0:.0f} s for n = {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

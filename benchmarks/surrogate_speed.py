"""Surrogate speed: fit time and batched inference throughput of each model on this machine.

Fits every surrogate on the authors' absorption set (all rows) and times prediction of a large
batch of Coulomb matrices (rows resampled from the set), printing spectra per second side by side.

    python benchmarks/surrogate_speed.py --epochs 300 --batch 100000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from qdlib import datasets
from qdlib.surrogates import AESurrogate, DropoutSurrogate, NNSurrogate, RFSurrogate


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--batch", type=int, default=100_000, help="spectra per timed prediction")
    parser.add_argument("--repeats", type=int, default=5, help="timed predictions (median reported)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    ds = datasets.fetch_paper_dataset("absorption")
    rng = np.random.default_rng(0)
    batch = ds.X[rng.integers(0, len(ds.X), args.batch)]
    common = dict(max_epochs=args.epochs, optimizer="adam", learning_rate=1e-3, record_every=0, device="cpu", random_state=0)
    models = {
        "ML-NN": NNSurrogate(**common),
        "ML-dropout": DropoutSurrogate(**common),
        "ML-AE": AESurrogate(**common, pretrain_epochs=args.epochs // 3),
        "ML-RF": RFSurrogate(n_estimators=args.trees, max_features=0.3, n_jobs=args.threads, random_state=0),
    }
    print(f"{len(ds.X)} training rows; inference batch {args.batch}; {args.threads} thread(s)")
    print(f"{'model':12s} {'fit s':>8s} {'predict s':>10s} {'spectra/s':>12s}")
    rates = {}
    for name, model in models.items():
        t0 = time.perf_counter()
        model.fit(ds.X, ds.Y)
        fit = time.perf_counter() - t0
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            model.predict(batch)
            times.append(time.perf_counter() - t0)
        med = float(np.median(times))
        rates[name] = args.batch / med
        print(f"{name:12s} {fit:8.1f} {med:10.3f} {rates[name]:12.3g}", flush=True)
    print(f"ML-NN / ML-RF inference throughput ratio: {rates['ML-NN'] / rates['ML-RF']:.0f}x")


if __name__ == "__main__":
    main()

"""Surrogate speed: fit time and batched inference throughput of each model on this machine.

Fits every surrogate on the authors' absorption set (all rows) and times prediction of large
batches, printing spectra per second side by side (median of repeats):

* ``mixed``: rows resampled from the whole set (dots of every size, so no padding column is
  zero in the whole batch);
* ``one dot``: perturbed Coulomb matrices of Cd6Se6, the design case (the environment asks
  about one dot at a time; its padding columns are skipped);
* ``one dot bf16``: the same in bfloat16 (neural models), with its largest deviation from
  float32 relative to the spectrum maximum.

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
    mixed = ds.X[rng.integers(0, len(ds.X), args.batch)]
    cm = ds.X[ds.row_group == ds.structure("Cd6Se6").info["group"]][0]
    one_dot = cm * (1 + 0.01 * rng.normal(size=(args.batch, cm.size)))
    common = dict(max_epochs=args.epochs, optimizer="adam", learning_rate=1e-3, record_every=0, device="cpu", random_state=0)
    models = {
        "ML-NN": NNSurrogate(**common),
        "ML-dropout": DropoutSurrogate(**common),
        "ML-AE": AESurrogate(**common, pretrain_epochs=args.epochs // 3),
        "ML-RF": RFSurrogate(n_estimators=args.trees, max_features=0.3, n_jobs=args.threads, random_state=0),
    }
    print(f"{len(ds.X)} training rows; inference batch {args.batch}; {args.threads} thread(s)")
    print(f"{'model':12s} {'fit s':>7s} {'mixed /s':>10s} {'one dot /s':>11s} {'bf16 /s':>10s} {'bf16 max dev':>13s}")
    rates = {}
    for name, model in models.items():
        t0 = time.perf_counter()
        model.fit(ds.X, ds.Y)
        fit = time.perf_counter() - t0
        row = {"mixed": rate(model.predict, mixed, args.repeats), "one dot": rate(model.predict, one_dot, args.repeats)}
        dev = ""
        if name != "ML-RF":
            half = lambda X: model.predict(X, precision="bfloat16")  # noqa: E731
            row["bf16"] = rate(half, one_dot, args.repeats)
            ref = model.predict(one_dot[:2000])
            dev = f"{np.max(np.abs(half(one_dot[:2000]) - ref)) / np.max(np.abs(ref)):.1e}"
        rates[name] = row
        print(
            f"{name:12s} {fit:7.1f} {row['mixed']:10.3g} {row['one dot']:11.3g} {row.get('bf16', np.nan):10.3g} {dev:>13s}",
            flush=True,
        )
    nn = rates["ML-NN"]
    print(f"ML-NN one dot / mixed: {nn['one dot'] / nn['mixed']:.2f}x; bf16 / float32: {nn['bf16'] / nn['one dot']:.2f}x")
    print(f"ML-NN / ML-RF throughput (one dot): {nn['one dot'] / rates['ML-RF']['one dot']:.0f}x")


def rate(predict, X, repeats):
    """Spectra per second of ``predict(X)``, median of ``repeats`` timed calls after one warm-up."""
    predict(X[:1000])
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        predict(X)
        times.append(time.perf_counter() - t0)
    return len(X) / float(np.median(times))


if __name__ == "__main__":
    main()

"""CPU code paths of training: which change the numbers, and what pinning them costs.

A designer's training (notebook 03's live case: Cd6Se6, one atom, 4 Å cuboid, 64 copies, seed 0)
is run in a fresh process under each setting of the code paths a CPU chooses for itself —
MKL's branch (``MKL_CBWR``; ``AUTO`` picks the newest instruction set the CPU has) and PyTorch's
vectorised kernels (``ATEN_CPU_CAPABILITY``) — for a fixed number of transitions. Per setting:
the transitions, episodes and greedy success it reached and a hash of the actor's weights (the
same hash: the same designer, to the bit), and the median wall time over ``--repeats`` runs, taken
in turns so that the machine's load falls on every setting alike, with its ratio to the
unpinned paths (MKL's ``AUTO,STRICT``, what qdlib set before, and the kernels the CPU picks).
qdlib pins ``MKL_CBWR=AVX2,STRICT`` and ``ATEN_CPU_CAPABILITY=avx2`` unless they are set. Results go to
``benchmarks/results/cpu_paths.jsonl`` (one line per run) and a table on stdout.

    python benchmarks/cpu_paths.py --kinds absorption emission --transitions 16384 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

RUN = """
import hashlib, json, sys, time
import qdlib  # sets MKL_CBWR (unless given) before PyTorch loads MKL
import torch
torch.set_num_threads(int(sys.argv[3]))
from qdlib.agents import Case, case_task
from qdlib.ddpg import DDPGConfig, train
task = case_task(Case(sys.argv[1], "Cd6Se6", 4.0, 1))
cfg = DDPGConfig(n_envs=64, target_success=0.9, eval_every=64 * 32, total_episodes=10**7, max_env_steps=int(sys.argv[2]), seed=0)
start = time.perf_counter()
r = train(task, cfg)
seconds = time.perf_counter() - start
h = r.history()
w = torch.cat([p.detach().flatten() for p in r.agent.actor.parameters()]).numpy()
print(json.dumps({"transitions": h["env_steps"], "episodes": h["episodes"], "success": h["evaluations"][-1]["success_rate"]
                  if h["evaluations"] else None, "weights": hashlib.sha256(w.tobytes()).hexdigest()[:16],
                  "capability": torch.backends.cpu.get_cpu_capability(), "seconds": seconds}))
"""

#: (label, MKL_CBWR, ATEN_CPU_CAPABILITY); None: not set (qdlib's pin applies); "": the CPU's own choice.
SETTINGS = [
    ("qdlib pins", None, None),
    ("unpinned", "AUTO,STRICT", ""),
    ("MKL AVX512,STRICT", "AVX512,STRICT", None),
    ("MKL COMPATIBLE,STRICT", "COMPATIBLE,STRICT", None),
    ("ATen default", None, "default"),
    ("ATen avx512", None, "avx512"),
]


def run(kind: str, transitions: int, threads: int, mkl: str | None, aten: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("MKL_CBWR", "ATEN_CPU_CAPABILITY")}
    env |= {"MKL_CBWR": mkl} if mkl else {}
    env |= {"ATEN_CPU_CAPABILITY": aten} if aten is not None else {}
    out = subprocess.run([sys.executable, "-c", RUN, kind, str(transitions), str(threads)], env=env, capture_output=True,
                         text=True, check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kinds", nargs="+", default=["absorption", "emission"])
    p.add_argument("--transitions", type=int, default=16384, help="training budget per run")
    p.add_argument("--repeats", type=int, default=3, help="runs per setting (taken in turns)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "cpu_paths.jsonl"))
    args = p.parse_args(argv)
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    avx512 = " avx512f" in flags
    settings = [s for s in SETTINGS if avx512 or "512" not in f"{s[1]}{s[2]}"]
    rows = []
    with open(args.out, "a") as fh:
        for repeat in range(args.repeats):
            for kind in args.kinds:
                for label, mkl, aten in settings:
                    row = {"kind": kind, "setting": label, "repeat": repeat, "threads": args.threads} | run(
                        kind, args.transitions, args.threads, mkl, aten)
                    rows.append(row)
                    fh.write(json.dumps(row) + "\n")
                    fh.flush()
                    print(f"{kind:10s} {label:22s} run {repeat}: {row['seconds']:.1f} s, weights {row['weights']}", flush=True)
    print(f"\n{'kind':10s} {'setting':22s} {'capability':10s} {'transitions':>11s} {'episodes':>8s} {'success':>7s} "
          f"{'weights':16s} {'median s':>8s} {'vs unpinned':>11s}")
    for kind in args.kinds:
        base = np.median([r["seconds"] for r in rows if r["kind"] == kind and r["setting"] == "unpinned"])
        for label, _, _ in settings:
            runs = [r for r in rows if r["kind"] == kind and r["setting"] == label]
            r = runs[0]
            same = len({x["weights"] for x in runs}) == 1
            median = float(np.median([x["seconds"] for x in runs]))
            print(f"{kind:10s} {label:22s} {r['capability']:10s} {r['transitions']:11d} {r['episodes']:8d} "
                  f"{r['success'] if r['success'] is not None else float('nan'):7.2f} {r['weights'] if same else 'varies':16s} "
                  f"{median:8.1f} {median / base:10.2f}x")
    print("timing: wall times vary with the machine and its load; the ratios are measured side by side in one run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

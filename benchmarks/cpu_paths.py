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

    python benchmarks/cpu_paths.py --kinds absorption emission --transitions 8192 --repeats 3
    python benchmarks/cpu_paths.py --kernel --repeats 7     # the cost of each path on the hot path alone
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

KERNEL = """
import json, sys, time
import qdlib
import torch
torch.set_num_threads(int(sys.argv[2]))
g = torch.Generator().manual_seed(0)
net = torch.nn.Sequential(torch.nn.Linear(5, 300), torch.nn.ReLU(), torch.nn.Linear(300, 300), torch.nn.ReLU(),
                          torch.nn.Linear(300, 1))
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
x, y = torch.randn(256, 5, generator=g), torch.randn(256, 1, generator=g)
def steps(n):
    for _ in range(n):
        opt.zero_grad(); loss = ((net(x) - y) ** 2).mean(); loss.backward(); opt.step()
steps(50)
times = []
for _ in range(5):
    start = time.perf_counter(); steps(int(sys.argv[1])); times.append(time.perf_counter() - start)
print(json.dumps({"seconds": sorted(times)[2], "capability": torch.backends.cpu.get_cpu_capability()}))
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


def _environment(mkl: str | None, aten: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("MKL_CBWR", "ATEN_CPU_CAPABILITY")}
    env |= {"MKL_CBWR": mkl} if mkl else {}
    return env | ({"ATEN_CPU_CAPABILITY": aten} if aten is not None else {})


def run(kind: str, transitions: int, threads: int, mkl: str | None, aten: str | None) -> dict:
    out = subprocess.run([sys.executable, "-c", RUN, kind, str(transitions), str(threads)], env=_environment(mkl, aten),
                         capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def kernel_cost(threads: int, repeats: int, settings, n_steps: int = 200) -> None:
    """The hot path alone: median seconds of ``n_steps`` Adam updates of a critic-sized network (5 → 300 → 300 → 1,
    batch 256) per setting, each a fresh process, settings taken in turns ``repeats`` times; ratio to unpinned."""
    times: dict[str, list[float]] = {label: [] for label, _, _ in settings}
    for _ in range(repeats):
        for label, mkl, aten in settings:
            out = subprocess.run([sys.executable, "-c", KERNEL, str(n_steps), str(threads)], env=_environment(mkl, aten),
                                 capture_output=True, text=True, check=True)  # fmt: skip
            times[label].append(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])
    base = float(np.median(times["unpinned"]))
    print(f"\nkernel: {n_steps} Adam updates of a 5-300-300-1 network at batch 256, {threads} thread(s), median of "
          f"{repeats} processes (each the median of 5 timings)")
    for label, t in times.items():
        print(f"timing: {label:22s} {1e3 * np.median(t) / n_steps:7.3f} ms per update  {np.median(t) / base:5.2f}x unpinned "
              f"(range {min(t) / base:.2f}-{max(t) / base:.2f})")


def summarise(rows: list[dict], kinds, labels) -> None:
    """The table: per kind and setting, what training reached, the weights' hash, and the median wall time per
    1000 transitions (settings stop at different points when their runs reach the success target) with its
    ratio to the unpinned paths'."""
    print(f"\n{'kind':10s} {'setting':22s} {'kernels':8s} {'transitions':>11s} {'episodes':>8s} {'success':>7s} "
          f"{'weights':16s} {'runs':>4s} {'s/1000 tr.':>10s} {'vs unpinned':>11s}")
    for kind in kinds:
        per = {label: [r for r in rows if r["kind"] == kind and r["setting"] == label] for label in labels}
        cost = {label: float(np.median([1000 * r["seconds"] / r["transitions"] for r in runs])) for label, runs in per.items() if runs}
        for label, runs in per.items():
            if not runs:
                continue
            r = runs[0]
            same = len({x["weights"] for x in runs}) == 1
            success = r["success"] if r["success"] is not None else float("nan")
            print(f"{kind:10s} {label:22s} {r['capability']:8s} {r['transitions']:11d} {r['episodes']:8d} {success:7.2f} "
                  f"{r['weights'] if same else 'varies':16s} {len(runs):4d} {cost[label]:10.2f} {cost[label] / cost['unpinned']:10.2f}x")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kinds", nargs="+", default=["absorption", "emission"])
    p.add_argument("--transitions", type=int, default=16384, help="training budget per run")
    p.add_argument("--repeats", type=int, default=3, help="runs per setting (taken in turns)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "cpu_paths.jsonl"))
    p.add_argument("--summary-only", action="store_true", help="print the table of the runs already in --out")
    p.add_argument("--kernel", action="store_true", help="time the hot path alone (Adam updates of a critic-sized net)")
    args = p.parse_args(argv)
    if args.kernel:
        flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
        kernel_cost(args.threads, args.repeats, [s for s in SETTINGS if " avx512f" in flags or "512" not in f"{s[1]}{s[2]}"])
        return 0
    if args.summary_only:
        rows = [json.loads(line) for line in Path(args.out).read_text().splitlines()]
        summarise(rows, args.kinds, [label for label, _, _ in SETTINGS])
        return 0
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
    summarise(rows, args.kinds, [label for label, _, _ in settings])
    print("timing: wall times vary with the machine and its load; the ratios are measured side by side in one run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

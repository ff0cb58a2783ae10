"""Which global search finds the lowest cluster minima per relaxation: ase-ga's GA against random search.

Both methods (:mod:`qdlib.library.search`) run on each test composition with the same budget of
GFN2-xTB relaxations and several seeds. Per search, after each relaxation: the lowest energy found,
and at the end the distinct minima (:func:`qdlib.library.unique_minima`) within ``--window`` eV of
the lowest energy any search of that composition found. The table gives, per composition and
method, the median (over seeds) gap of the best energy to that lowest at a quarter, half and all of
the budget, how many seeds reached it (within 5 meV), and the median count of distinct minima in
the window. Searches are resumable (``--out``/searches/*.db); one JSON line per finished search
goes to ``benchmarks/results/library_search.jsonl``.

    python benchmarks/library_search.py --compositions Cd4Se4Te0 Cd5Se2Te3 --seeds 0 1 2 3 4 --budget 60
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from qdlib.library import ClusterSearch, SearchConfig, unique_minima
from qdlib.library.search import compare_searches

RESULTS = Path(__file__).parent / "results"


def _record(result, seconds: float) -> dict:
    trace = result.best_energy_trace()
    return {
        "composition": result.config.composition, "method": result.config.method, "seed": result.config.seed,
        "budget": result.config.budget, "n_failed": result.n_failed, "best_trace_ev": [round(float(e), 5) for e in trace],
        "energies_ev": [round(m.info["e_xtb_ev"], 5) for m in result.minima], "seconds": round(seconds, 1),
    }  # fmt: skip


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--compositions", nargs="+", default=["Cd4Se4Te0", "Cd5Se2Te3"])
    p.add_argument("--methods", nargs="+", default=["ga", "random"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--budget", type=int, default=60, help="relaxations per search")
    p.add_argument("--window", type=float, default=1.0, help="eV above the lowest: distinct minima counted")
    p.add_argument("--out", type=Path, default=Path("data/stores/library/benchmark"))
    p.add_argument("--summary-only", action="store_true", help="print the table of the recorded searches")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    RESULTS.mkdir(exist_ok=True)
    jsonl = RESULTS / "library_search.jsonl"
    done = {(r["composition"], r["method"], r["seed"], r["budget"]): r
            for r in map(json.loads, jsonl.read_text().splitlines() if jsonl.exists() else [])}  # fmt: skip
    minima = {}
    for comp in args.compositions:
        for seed in args.seeds:  # seeds outermost: an interrupted run still compares the methods
            for method in args.methods:
                config = SearchConfig(comp, method=method, seed=seed, budget=args.budget)
                key = (comp, method, seed, args.budget)
                search = ClusterSearch(config, args.out)
                if key not in done and not args.summary_only:
                    start = time.perf_counter()
                    result = search.run()
                    done[key] = _record(result, time.perf_counter() - start)
                    with open(jsonl, "a") as fh:
                        fh.write(json.dumps(done[key]) + "\n")
                    print(f"{config.name}: best {result.best_energy_trace()[-1]:.3f} eV, {done[key]['seconds']:.0f} s")
                if key in done and search.path.exists():
                    minima[key] = search.result().minima
    print(_table(done, args, minima))
    return 0


def _table(done: dict, args, minima: dict) -> str:
    records = [r for k, r in done.items() if k[0] in args.compositions and k[1] in args.methods and k[3] == args.budget]
    lines = [f"budget {args.budget} relaxations; gap: best energy found − lowest of any search of the composition (eV), "
             f"median over seeds [min–max]; reached: seeds within 5 meV of that lowest; minima: distinct within "
             f"{args.window} eV (median)"]  # fmt: skip
    lines.append(f"{'composition':12s} {'method':7s} {'seeds':>5s} {'gap @1/4':>16s} {'gap @1/2':>16s} {'gap @all':>16s} "
                 f"{'reached':>8s} {'minima':>7s} {'s/relax':>8s}")  # fmt: skip
    for row in compare_searches(records):
        comp, method = row["composition"], row["method"]
        mine = [r for r in records if r["composition"] == comp and r["method"] == method]
        lowest = min(min(r["best_trace_ev"]) for r in records if r["composition"] == comp)
        counts = []
        for r in mine:
            ms = [m for m in minima.get((comp, method, r["seed"], args.budget), []) if m.info["e_xtb_ev"] - lowest <= args.window]
            counts.append(len(unique_minima(ms)) if ms else 0)
        cells = [f"{g[0]:.3f} [{g[1]:.2f}–{g[2]:.2f}]" for g in row["gap_ev"]]
        per = np.median([r["seconds"] / r["budget"] for r in mine])
        lines.append(f"{comp:12s} {method:7s} {row['seeds']:5d} {cells[0]:>16s} {cells[1]:>16s} {cells[2]:>16s} "
                     f"{row['reached']:>4d}/{row['seeds']:<3d} {np.median(counts):7.0f} {per:8.1f}")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())

"""How many TDDFT solves a covering calculation needs, by the rule that picks the next state count.

A verdict solves for states until the highest reaches the target window's blue edge
(:func:`qdlib.qchem.excitations` with ``cover_nm``); every time the states fall short, the
response problem is solved again with more. This replays that growth on every covered, converged
result of a store: the lowest ``n`` states of a result are what a solve for ``n`` states finds,
so the sequence of solves each rule would have run is known without new TD-DFT. Printed side by
side for the rule in :func:`qdlib.qchem.next_state_count` and the mean-spacing rule it replaced:
solves, the states summed over all solves (the response solver's work grows with it), and
states solved beyond the fewest that cover.

    python benchmarks/state_count.py --store data/stores/verdicts.json
"""

from __future__ import annotations

import argparse

import numpy as np

from qdlib import spectra
from qdlib.qchem import next_state_count
from qdlib.store import ResultStore


def mean_spacing_rule(energies_ev, cover_ev: float, max_states: int) -> int:
    """The previous rule: the mean spacing extrapolated to ``cover_ev``, half as many again."""
    e = np.sort(np.asarray(energies_ev, dtype=float))
    n = e.size
    spacing = max((e[-1] - e[0]) / max(n - 1, 1), 1e-3)
    wanted = n + int(np.ceil(1.5 * (cover_ev - e[-1]) / spacing))
    return int(min(max_states, max(n + 6, min(3 * n, wanted))))


def replay(energies_ev: np.ndarray, cover_ev: float, rule, first: int, max_states: int) -> list[int]:
    """State counts of the solves ``rule`` runs until the states reach ``cover_ev`` (eV)."""
    e = np.sort(energies_ev)
    counts = [first]
    while e[: counts[-1]].max() < cover_ev and counts[-1] < min(max_states, e.size):
        counts.append(min(rule(e[: counts[-1]], cover_ev, max_states), e.size))
    return counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", default="data/stores/verdicts.json")
    p.add_argument("--first", type=int, default=6, help="states of the first solve (the paper's six)")
    p.add_argument("--max-states", type=int, default=40)
    args = p.parse_args(argv)

    cases = []
    for _, exc, kv in ResultStore(args.store).select():
        if "cover_nm" in kv and exc.covers(kv["cover_nm"]) and exc.converged and exc.energies_ev.size > args.first:
            cases.append((exc.energies_ev, float(spectra.nm_to_ev(kv["cover_nm"]))))
    print(f"{len(cases)} covered results of {args.store} that needed more than {args.first} states")
    print(f"{'rule':<28} {'solves':>7} {'summed states':>14} {'beyond fewest':>14} {'median solves':>14}")
    totals = {}
    for name, rule in (("power law (next_state_count)", next_state_count), ("mean spacing (previous)", mean_spacing_rule)):
        runs = [replay(e, c, rule, args.first, args.max_states) for e, c in cases]
        beyond = sum(r[-1] - int(np.searchsorted(np.sort(e), c) + 1) for r, (e, c) in zip(runs, cases))
        totals[name] = (sum(map(len, runs)), sum(map(sum, runs)))
        print(f"{name:<28} {totals[name][0]:7d} {totals[name][1]:14d} {beyond:14d} {np.median([len(r) for r in runs]):14.1f}")
    (s_new, w_new), (s_old, w_old) = totals.values()
    print(f"ratio previous/now: solves {s_old / s_new:.2f}, summed states {w_old / w_new:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""One relaxation step (energy and nuclear gradient) of S0 and S1: plain PySCF against qdlib.

The relaxations (``qchem.optimize_ground_state``, ``optimize_excited_state``,
``emission``) call :func:`qdlib.qchem.state_gradient` at every geometry: a fresh
ground state solved by the single-point engine (stored long-range integrals), the
excitations by the fast response (occupied–virtual space, response grid), then
PySCF's analytic gradient. The reference is PySCF's own gradient scanner at the same
settings (what geomeTRIC calls through ``pyscf.geomopt``): the full-range integrals in
memory, the long-range ones recomputed at every use, the TDDFT kernel on the SCF grid.
Both run here, one after the other, on one thread; printed: wall times, their ratio, and
how far the energies and gradients differ.

    python benchmarks/relax_speed.py                  # Cd4Se4 (the authors' benchmark dot, 8 atoms)
    python benchmarks/relax_speed.py --dot Cd6Se6 --states 1
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from qdlib import datasets, qchem

RESULTS = Path(__file__).with_name("results") / "relax_speed.json"


def plain_pyscf(mol, state: int, settings: qchem.TDDFTSettings):
    """PySCF's gradient scanner at ``settings`` (no qdlib caches): energy (Eh), gradient (Eh/bohr)."""
    from pyscf import dft

    mf = dft.RKS(mol, xc=settings.xc)
    mf.grids.level = settings.grid_level
    mf.conv_tol = settings.scf_conv_tol
    mf.max_memory = 8000
    if state == 0:
        scanner = mf.nuc_grad_method().as_scanner()
    else:
        td = mf.TDDFT()
        td.nstates = max(settings.n_states, state + 2)
        td.conv_tol = settings.td_conv_tol
        scanner = td.nuc_grad_method().as_scanner(state=state)
    return scanner(mol)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dot", default="Cd4Se4", help="authors' benchmark dot (default Cd4Se4, 8 atoms)")
    ap.add_argument("--states", type=int, nargs="+", default=[0, 1], help="0 = ground state, 1 = S1 (default both)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    from pyscf import lib

    lib.num_threads(args.threads)
    settings = qchem.TDDFTSettings()
    atoms = datasets.fetch_benchmark_dot(args.dot)
    options = qchem.EngineOptions(backend="cpu", threads=args.threads)
    rows = {}
    print(f"{args.dot} ({len(atoms)} atoms), one energy + gradient, {args.threads} thread(s)")
    print(f"{'state':>5} {'PySCF s':>8} {'qdlib s':>8} {'speed-up':>8} {'|ΔE| (Eh)':>10} {'max |Δg| (Eh/bohr)':>18}")
    for state in args.states:
        t0 = time.perf_counter()
        e_ref, g_ref = plain_pyscf(qchem.build_mol(atoms, settings), state, settings)
        t_ref = time.perf_counter() - t0
        t0 = time.perf_counter()
        e, g, _ = qchem.state_gradient(qchem.build_mol(atoms, settings), state, settings, options)
        t = time.perf_counter() - t0
        rows[f"S{state}"] = {"pyscf_s": t_ref, "qdlib_s": t, "speedup": t_ref / t, "d_energy_hartree": abs(e - e_ref),
                             "max_d_gradient": float(np.abs(g - g_ref).max()),
                             "max_gradient": float(np.abs(g_ref).max())}  # fmt: skip
        r = rows[f"S{state}"]
        print(f"S{state:<4d} {t_ref:8.1f} {t:8.1f} {r['speedup']:7.1f}× {r['d_energy_hartree']:10.1e} {r['max_d_gradient']:18.1e}"
              f"   (largest gradient component {r['max_gradient']:.1e})")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"dot": args.dot, "threads": args.threads, "states": rows}, indent=1))
    print("wrote", RESULTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

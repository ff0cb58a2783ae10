"""Cold against warm TD-DFT calls on a campaign's designs: speed and agreement, side by side in one run.

A campaign's designs are the reference dot with atoms moved a little; the warm start
(:mod:`qdlib.qchem.warmstart`) begins each design's SCF at the reference density and its TDDFT
at the reference's excitation vectors carried to the design's orbitals. For each of ``--n``
random physical designs of ``--dot`` (:meth:`qdlib.campaign.DesignSpace.sample`, seeded), this
runs the cold call and the warm call one after the other in this process, with the same
threads, and prints their wall times, the ratio, and the largest differences in excitation
energy (eV), oscillator strength and ground-state energy. With ``--cover`` the calls solve for
states until the campaign's windows are covered (as the loop's calls do; the warm call starts
with the reference's state count), otherwise at the paper's six states.

Agreement is limited by how far the ground state is converged: two starts of the SCF stop at two
points within its threshold (``TDDFTSettings.scf_conv_tol``, 1e-9 Eh), and the excitation energies
inherit the difference (about 1e-5 eV here; tightening the response solver's residual threshold from
1e-5 to 1e-6 changes them by 1e-8 eV, and at 1e-7 it stalls unconverged). ``--scf-conv-tol 1e-11``
runs both calls with a tighter SCF, where the two answers must agree far more closely. Each row
records whether both calls converged.

    python benchmarks/warm_start.py --dot Cd6Se6 --n 10 --threads 1 --out benchmarks/results/warm_start.jsonl
    python benchmarks/warm_start.py --dot Cd6Se6 --n 10 --threads 1 --cover --scf-conv-tol 1e-11

Results are written one by one to ``--out`` (JSON lines; a rerun skips the designs done).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from qdlib import qchem
from qdlib.campaign import DesignSpace
from qdlib.qchem import EngineOptions, TDDFTSettings


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dot", default="Cd6Se6")
    p.add_argument("--atoms", type=int, default=1, help="moved atoms")
    p.add_argument("--n", type=int, default=10, help="designs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--cover", action="store_true", help="cover the campaign windows (T-10's) instead of 6 states")
    p.add_argument("--td-conv-tol", type=float, default=TDDFTSettings().td_conv_tol,
                   help="response solver threshold of both calls (default: the paper's)")
    p.add_argument("--scf-conv-tol", type=float, default=TDDFTSettings().scf_conv_tol,
                   help="SCF energy threshold of both calls, Eh (default: the package's)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/warm_start.jsonl"))
    p.add_argument("--warm-dir", type=Path, default=Path("data/stores/checkpoints/warm"))
    args = p.parse_args(argv)

    settings = TDDFTSettings(td_conv_tol=args.td_conv_tol, scf_conv_tol=args.scf_conv_tol)
    default = TDDFTSettings()
    options = EngineOptions(threads=args.threads)
    space = DesignSpace.benchmark(args.dot, args.atoms)
    cover = None
    if args.cover:
        import dataclasses

        from qdlib.references import case_window

        w = case_window(args.dot, "absorption")  # T0's window; the campaigns cover T-10's, 10 nm further blue
        cover = round(float(dataclasses.replace(w, blue_nm=w.blue_nm - 10.0).cover_nm), 2)
    tol = ("" if args.td_conv_tol == default.td_conv_tol else f"_tol{args.td_conv_tol:g}") + (
        "" if args.scf_conv_tol == default.scf_conv_tol else f"_scf{args.scf_conv_tol:g}")
    point = str(args.warm_dir / f"{args.dot}_absorption{'_cover' if cover else ''}{tol}.chk")
    if not os.path.isfile(point):
        t0 = time.perf_counter()
        ref = qchem.excitations(space.atoms, settings, options, cover_nm=cover, save_warm_start_to=point)
        print(f"reference {args.dot}: {ref.energies_ev.size} states, {time.perf_counter() - t0:.0f} s (warm-start point {point})")
    u, strain = space.sample(args.n, np.random.default_rng(args.seed))
    done = {}
    if args.out.is_file():
        for line in args.out.read_text().splitlines():
            r = json.loads(line)
            if (r["dot"], r["cover_nm"], r.get("td_conv_tol", 1e-5), r.get("scf_conv_tol", 1e-9)) == (
                    args.dot, cover, args.td_conv_tol, args.scf_conv_tol):
                done[r["index"]] = r
    print(f"{args.dot}, {args.atoms} moved atom(s), {args.n} designs (xTB strain {strain.min():.2f}–{strain.max():.2f} eV), "
          f"{'covering ' + str(cover) + ' nm' if cover else '6 states'}, thresholds SCF {args.scf_conv_tol:g} Eh, "
          f"response {args.td_conv_tol:g}, "
          f"{args.threads} thread(s)", flush=True)
    print(f"{'#':>3} {'cold s':>8} {'warm s':>8} {'ratio':>6} {'states':>9} {'max |ΔE| eV':>12} {'max |Δf|':>9} {'ΔE_tot Eh':>10} converged")
    for i, x in enumerate(u):
        if i not in done:
            atoms = space.atoms_at(x)
            cold = qchem.excitations(atoms, settings, options, cover_nm=cover)
            warm = qchem.excitations(atoms, settings, EngineOptions(threads=args.threads, warm_start=point), cover_nm=cover)
            n = min(cold.energies_ev.size, warm.energies_ev.size)
            done[i] = r = {
                "dot": args.dot, "index": i, "cover_nm": cover, "td_conv_tol": args.td_conv_tol,
                "scf_conv_tol": args.scf_conv_tol, "threads": args.threads,
                "converged": bool(cold.td_converged.all() and warm.td_converged.all()),
                "cold_s": cold.wall_time_s, "warm_s": warm.wall_time_s,
                "cold_states": int(cold.energies_ev.size), "warm_states": int(warm.energies_ev.size),
                "max_abs_de_ev": float(np.abs(cold.energies_ev[:n] - warm.energies_ev[:n]).max()),
                "max_abs_df": float(np.abs(cold.osc_strengths[:n] - warm.osc_strengths[:n]).max()),
                "de_tot_hartree": float(warm.e_tot_hartree - cold.e_tot_hartree),
            }  # fmt: skip
            args.out.parent.mkdir(parents=True, exist_ok=True)
            with open(args.out, "a") as fh:
                fh.write(json.dumps(r) + "\n")
        r = done[i]
        print(f"{i:3d} {r['cold_s']:8.0f} {r['warm_s']:8.0f} {r['cold_s'] / r['warm_s']:6.2f} "
              f"{r['cold_states']:>4d}/{r['warm_states']:<4d} {r['max_abs_de_ev']:12.1e} {r['max_abs_df']:9.1e} {r['de_tot_hartree']:10.1e} "
              f"{r.get('converged', 'not recorded')}",
              flush=True)
    rows = [done[i] for i in range(len(u))]
    ratios = np.array([r["cold_s"] / r["warm_s"] for r in rows])
    print(f"median ratio cold/warm {np.median(ratios):.2f} (min {ratios.min():.2f}, max {ratios.max():.2f}) over {len(rows)} designs; "
          f"total {sum(r['cold_s'] for r in rows) / 60:.1f} min cold, {sum(r['warm_s'] for r in rows) / 60:.1f} min warm")
    print(f"largest differences: excitation energy {max(r['max_abs_de_ev'] for r in rows):.1e} eV, "
          f"oscillator strength {max(r['max_abs_df'] for r in rows):.1e}, ground-state energy "
          f"{max(abs(r['de_tot_hartree']) for r in rows):.1e} Eh; both calls converged in "
          f"{sum(r.get('converged') is True for r in rows)} of {len(rows)} designs (not recorded before: "
          f"{sum('converged' not in r for r in rows)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

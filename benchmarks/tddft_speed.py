"""TD-DFT speed on the authors' Cd6Se6: plain PySCF against qdlib's engine and its approximations.

Runs, one after another in this process and with the same thread count:

1. the plain call: ``dft.RKS(mol, xc='camb3lyp').run()`` then ``TDDFT`` with 6 states;
2. qdlib at the paper settings (same physics; integrals and AO values kept in memory);
3. a finer response grid (level 1; the paper settings use level 0), and each faster
   approximation (TDA, density fitting, a smaller SCF grid).

and prints wall times, the ratio plain / variant, and the differences from the plain result in
the absorption peak (nm, broadened on the paper grid), the stick wavelengths (nm) and the
oscillator strengths. Results are also written as JSON.

    python benchmarks/tddft_speed.py --threads 2 --out benchmarks/results/tddft_speed.json

On a CUDA machine, the GPU against the stored CPU reference (the plain run is read, not repeated)::

    cp benchmarks/results/tddft_speed.json benchmarks/results/tddft_speed_gpu.json
    python benchmarks/tddft_speed.py --backend gpu --skip-plain --out benchmarks/results/tddft_speed_gpu.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from qdlib import datasets, qchem, spectra
from qdlib.qchem import EngineOptions, TDDFTSettings

VARIANTS = {
    "paper settings": TDDFTSettings(),
    "response grid 1": TDDFTSettings(response_grid_level=1),
    "TDA": TDDFTSettings(tda=True),
    "density fitting": TDDFTSettings(density_fit=True),
    "grid 1 + DF + TDA": TDDFTSettings(grid_level=1, density_fit=True, tda=True),
}


def plain_pyscf(atoms, threads):
    """The reference: PySCF defaults, CAM-B3LYP/LanL2DZ, full TDDFT, 6 states."""
    from pyscf import dft, lib

    lib.num_threads(threads)
    t0 = time.perf_counter()
    mol = qchem.build_mol(atoms)
    mf = dft.RKS(mol, xc="camb3lyp").run()
    td = mf.TDDFT()
    td.nstates = 6
    td.kernel()
    wall = time.perf_counter() - t0
    return np.asarray(td.e) * qchem.HARTREE_EV, np.asarray(td.oscillator_strength()), wall


def compare(e_ref, f_ref, e, f):
    grid = spectra.wavelength_grid("absorption")
    lam_ref, lam = spectra.ev_to_nm(e_ref), spectra.ev_to_nm(e)
    peak_ref = spectra.peak_wavelength(spectra.broaden(lam_ref, f_ref, grid), grid)
    peak = spectra.peak_wavelength(spectra.broaden(lam, f, grid), grid)
    n = min(len(e), len(e_ref))
    return {
        "d_peak_nm": float(peak - peak_ref),
        "max_d_lambda_nm": float(np.max(np.abs(lam[:n] - lam_ref[:n]))),
        "max_d_f": float(np.max(np.abs(f[:n] - f_ref[:n]))),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dot", default="Cd6Se6", help="benchmark dot (authors' geometry)")
    parser.add_argument("--threads", type=int, default=2, help="OpenMP threads for every run")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), help="which qdlib variants to run")
    parser.add_argument("--skip-plain", action="store_true", help="reuse the plain result from --out")
    parser.add_argument("--backend", default="cpu", choices=["auto", "cpu", "gpu"],
                        help="backend of the qdlib variants (the plain reference is always PySCF on the CPU)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/tddft_speed.json"))
    args = parser.parse_args(argv)

    atoms = datasets.fetch_benchmark_dot(args.dot)
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    if args.skip_plain and "plain" in previous:
        plain = previous["plain"]
        e_ref, f_ref, t_ref = np.array(plain["energies_ev"]), np.array(plain["osc_strengths"]), plain["wall_time_s"]
    else:
        e_ref, f_ref, t_ref = plain_pyscf(atoms, args.threads)
    results = {
        "dot": args.dot,
        "threads": args.threads,
        "backend": qchem.select_backend(args.backend),
        "plain": {"energies_ev": e_ref.tolist(), "osc_strengths": f_ref.tolist(), "wall_time_s": t_ref},
        "variants": {},
    }
    print(f"{args.dot}, {args.threads} thread(s), variants on {results['backend']}; plain PySCF (CPU): {t_ref:.0f} s")
    print(f"{'variant':22s} {'wall s':>8s} {'speed-up':>9s} {'Δpeak nm':>9s} {'max|Δλ| nm':>11s} {'max|Δf|':>8s}")
    options = EngineOptions(backend=args.backend, threads=args.threads)
    for name in args.variants:
        settings = VARIANTS[name]
        exc = qchem.excitations(atoms, settings, options)
        row = {"settings": dataclasses.asdict(settings), "wall_time_s": exc.wall_time_s, "speedup": t_ref / exc.wall_time_s}
        row.update(compare(e_ref, f_ref, exc.energies_ev, exc.osc_strengths))
        row.update(energies_ev=exc.energies_ev.tolist(), osc_strengths=exc.osc_strengths.tolist())
        results["variants"][name] = row
        print(
            f"{name:22s} {exc.wall_time_s:8.0f} {row['speedup']:8.1f}x {row['d_peak_nm']:9.2f}"
            f" {row['max_d_lambda_nm']:11.2f} {row['max_d_f']:8.4f}",
            flush=True,
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

"""Is the authors' relaxed S1 geometry a minimum of our S1 surface?

Their emission labels are the S1→S0 line at the geometry their Gaussian 16 S1 relaxation
ended at, which their Coulomb matrices give back (:mod:`qdlib.datasets`). Where our S1→S0 line
at that geometry agrees with theirs, the geometry should also be a stationary point of our S1
surface; where it does not, this tells whether the two codes see the same surface there. For
each composition: the ground state at the authors' S1 geometry (its energy, whether it is a
minimum of the SCF — real internal stability, and the lowest eigenvalue of A − B, positive for a
real full-TDDFT solution — and the energy reached from a second initial guess), our S1→S0 line,
theirs, and the largest force on an atom in our S1 (PySCF's analytic TDDFT gradient; Gaussian's
default relaxation stops below 0.023 eV/Å).

    python benchmarks/emission_geometry.py Cd6Se2Te4 Cd6Se3Te3
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from qdlib import spectra
from qdlib.datasets import fetch_paper_dataset
from qdlib.qchem import HARTREE_EV, EngineOptions, TDDFTSettings, build_mol, complex_instability, run_scf, state_gradient

BOHR_ANGSTROM = 0.529177210903


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("compositions", nargs="+", help="authors' emission structures, e.g. Cd6Se2Te4")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)

    data = fetch_paper_dataset("emission")
    settings, options = TDDFTSettings(), EngineOptions(backend="cpu", threads=args.threads)
    print(f"{'structure':<11} {'E0 Eh':>14} {'stable':>6} {'A-B min Eh':>10} {'ΔE0 atom-guess Eh':>17} "
          f"{'S1→S0 ours nm':>13} {'theirs nm':>9} {'max |F(S1)| eV/Å':>16} {'time s':>7}")
    for comp in args.compositions:
        k = next((i for i, a in enumerate(data.structures) if a.info["composition"] == comp), None)
        if k is None:
            raise SystemExit(f"{comp}: not among the authors' emission structures")
        atoms, theirs = data.structures[k], spectra.peak_wavelength(data.spectra[k], data.wavelength_nm)
        t0 = time.perf_counter()
        mol = build_mol(atoms, settings)
        mf = run_scf(mol, settings, options)
        stable = mf.stability(internal=True, external=False, return_status=True)[2]
        a_minus_b = complex_instability(mf)
        other = run_scf(mol, settings, options, dm0=mf.get_init_guess(mol, key="atom"))  # PySCF's other guess
        e1, grad, _ = state_gradient(mol, 1, settings, options)
        ours = float(spectra.ev_to_nm((e1 - mf.e_tot) * HARTREE_EV))
        force = np.linalg.norm(grad, axis=1).max() * HARTREE_EV / BOHR_ANGSTROM
        print(f"{comp:<11} {mf.e_tot:14.8f} {str(bool(stable)):>6} {a_minus_b:10.2e} {other.e_tot - mf.e_tot:17.1e} "
              f"{ours:13.1f} {theirs:9.1f} {force:16.4f} {time.perf_counter() - t0:7.0f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

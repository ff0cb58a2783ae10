"""Response iterations of a dot whose AO integrals do not fit in memory: direct against disk.

When the two-electron integrals of a dot do not fit in memory (about 250 basis functions
and up), PySCF's direct algorithm recomputes all of them in every TDDFT (Davidson)
iteration. qdlib instead transforms them once into MO-basis integrals on disk and
streams those (``EngineOptions.mo_space_disk``). On one ground state, in this process
and with the same threads, this times:

1. one response-operator application to ``--vectors`` random trial vectors, PySCF direct
   (what one Davidson iteration costs; PySCF adds up to 20 trial vectors per iteration);
2. the one-off build of the MO-basis integrals on disk;
3. the same application streamed from disk, and the largest difference between the two
   products (they are the same linear map);

and prints the ratio per iteration and the number of iterations after which the build has
paid for itself. Written as JSON too.

    python benchmarks/response_disk.py --composition Cd15Se12Te3 --threads 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from qdlib import qchem
from qdlib.generate import authors_structures
from qdlib.qchem import EngineOptions, TDDFTSettings
from qdlib.qchem.accelerated import _mo_space_response
from qdlib.qchem.backends import _threads


def rpa_on_response_grid(mf, settings: TDDFTSettings):
    """PySCF's TDDFT object on ``mf``, with the response grid of ``settings`` as :func:`qdlib.qchem.run_tddft` uses."""
    from pyscf import dft

    grids = dft.gen_grid.Grids(mf.mol)
    grids.level = settings.response_grid_level
    grids.build()
    mf.grids = grids
    td = mf.TDDFT()
    td.nstates = settings.n_states
    return td


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--composition", default="Cd15Se12Te3", help="one of the authors' absorption structures")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--vectors", type=int, default=20, help="trial vectors per application")
    parser.add_argument("--chkfile", help="SCF checkpoint to start from (e.g. data/stores/checkpoints/<key>.chk)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/response_disk.json"))
    args = parser.parse_args(argv)

    atoms = next(a for a in authors_structures("absorption", 30) if a.info["composition"] == args.composition)
    settings = TDDFTSettings()
    options = EngineOptions(backend="cpu", threads=args.threads, incore_eri=False)
    with _threads(args.threads):
        mol = qchem.build_mol(atoms, settings)
        mf = qchem.run_scf(mol, settings, options, chkfile=args.chkfile)
        fits = getattr(mf, "_eri", None) is not None
        mf._eri, mf._is_mem_enough = None, lambda: False  # as if the AO integrals did not fit (no-op when they do not)
        print(f"{args.composition}: {mol.nao_nr()} basis functions; AO integrals "
              f"{'fit in memory but are not stored here' if fits else 'do not fit in memory'}")  # fmt: skip
        td = rpa_on_response_grid(mf, settings)
        z = np.random.default_rng(0).standard_normal((args.vectors, 2 * td.gen_vind(mf)[1].size))

        times, products = {}, {}
        for name, disk in (("direct", False), ("disk", True)):
            opts = EngineOptions(backend="cpu", threads=args.threads, mo_space_disk=disk)
            t0 = time.perf_counter()
            with _mo_space_response(mf, opts):
                t1 = time.perf_counter()
                vind, _ = td.gen_vind(mf)
                products[name] = vind(z)
                t2 = time.perf_counter()
            times[name] = {"setup_s": t1 - t0, "apply_s": t2 - t1}
            print(f"{name:7s} setup {t1 - t0:7.1f} s   {args.vectors} vectors {t2 - t1:7.1f} s", flush=True)

    diff = float(np.abs(products["disk"] - products["direct"]).max() / np.abs(products["direct"]).max())
    per_iter = times["direct"]["apply_s"] / times["disk"]["apply_s"]
    saved = times["direct"]["apply_s"] - times["disk"]["apply_s"]
    break_even = times["disk"]["setup_s"] / saved if saved > 0 else float("inf")
    print(f"per iteration: direct / disk = {per_iter:.1f}x; the build pays for itself after {break_even:.1f} iterations;"
          f" max relative difference of the products {diff:.1e}")
    result = {"composition": args.composition, "nao": mol.nao_nr(), "threads": args.threads, "vectors": args.vectors,
              "times": times, "speedup_per_iteration": per_iter, "break_even_iterations": break_even,
              "max_relative_difference": diff}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

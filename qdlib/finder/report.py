"""What a design for a user's target hands back: a ranked table, a figure, the confirmed structures.

:func:`write_report` writes into one folder:

* ``ranked.csv`` — every member judged (screened from the store and called), best criterion
  margin first: its isomer, composition, GFN2-xTB energy above its composition's lowest, the call
  that judged it (−1: screened, no TD-DFT call), central peak, Δpeak, cosine similarity, intensity
  ratio, confirmed, and what failed;
* ``best.png`` — the target against the spectra of the best members, and their structures;
* ``<isomer>.xyz`` — each confirmed member (extended xyz, its labels in the comment line).

>>> import tempfile
>>> rows = ranked_rows([])
>>> rows
[]
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["ranked_rows", "write_report"]

_COLUMNS = ("rank", "isomer", "composition", "e_above_ev", "call", "peak_nm", "peak_error_nm", "similarity",
            "intensity_ratio", "confirmed", "failures", "margin")  # fmt: skip


def ranked_rows(calls: Sequence) -> list[dict]:
    """``calls`` (:class:`~qdlib.finder.FinderCall`) as table rows, largest criterion margin first (``rank`` from 1)."""
    rows = []
    for rank, c in enumerate(sorted(calls, key=lambda c: -c.margin), start=1):
        rows.append({"rank": rank, "isomer": c.isomer, "composition": c.composition, "e_above_ev": round(c.e_above_ev, 3),
                     "call": c.call + 1 if c.call >= 0 else -1, "peak_nm": round(c.peak_nm, 1),
                     "peak_error_nm": round(c.peak_error_nm, 1), "similarity": round(c.similarity, 4),
                     "intensity_ratio": round(c.intensity_ratio, 3), "confirmed": c.confirmed,
                     "failures": " ".join(c.failures), "margin": round(c.margin, 3)})  # fmt: skip
    return rows


def write_report(run, directory: str | os.PathLike, n_best: int = 3) -> dict[str, Path]:
    """The table, the figure and the confirmed structures of ``run`` (a :class:`~qdlib.finder.TargetDesign`) in ``directory``.

    Returns the paths written: ``"table"``, ``"figure"`` (when a member was judged) and one per confirmed member.
    """
    import ase.io
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from .. import plotting, spectra

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    calls = run.known + run.history
    rows = ranked_rows(calls)
    paths = {"table": out / "ranked.csv"}
    with open(paths["table"], "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    for c in calls:
        if c.confirmed:
            member = run.pool.members[c.index]
            paths[c.isomer] = out / f"{c.isomer}.xyz"
            ase.io.write(paths[c.isomer], member, format="extxyz")
    best = sorted(calls, key=lambda c: -c.margin)[:n_best]
    if best:
        grid = spectra.wavelength_grid("absorption")
        fig, axes = plt.subplots(1, 1 + len(best), figsize=(5 + 2.4 * len(best), 3.2),
                                 gridspec_kw={"width_ratios": [2.2] + [1] * len(best)})  # fmt: skip
        ax = axes[0]
        scale = 1.0 if run.target.absolute else None
        t = run.target.spectrum
        for k, c in enumerate(best):
            y = run.spectrum_of(c)
            if y is None:
                continue
            shown = y if scale else y * (t.max() / max(y.max(), 1e-12))
            ax.plot(grid, shown, color=f"C{k}", lw=1.2, label=f"{c.isomer} ({'confirmed' if c.confirmed else 'not confirmed'})")
        ax.plot(grid, t, "k--", lw=1.5, label="target")
        ax.axvspan(run.target.window.blue_nm, run.target.window.red_nm, color="0.92", zorder=0)
        ax.set_xlim(300, grid[-1])
        ax.set_xlabel("wavelength (nm)")
        ax.set_ylabel("ε (L mol⁻¹ cm⁻¹)" if scale else "intensity (scaled to the target)")
        ax.legend(fontsize=7, frameon=False)
        for axis, c in zip(axes[1:], best):
            plotting.plot_structure(run.pool.members[c.index], ax=axis, title=f"{c.isomer}\n{c.e_above_ev:.2f} eV, Δpeak {c.peak_error_nm:+.1f} nm")
        fig.tight_layout()
        paths["figure"] = out / "best.png"
        fig.savefig(paths["figure"], dpi=120)
        plt.close(fig)
    return paths

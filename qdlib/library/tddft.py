"""TD-DFT spectra of the library's members, at the paper's settings, with states down to 330 nm.

Which members are computed is fixed before any target is looked at (:func:`spectra_selection`):
every member of at most ``max_atoms`` atoms (12) within ``max_e_above_ev`` (0.5 eV, GFN2-xTB) of its
composition's lowest, smallest clusters first, then larger ones as the CPU allows. Each is computed
at :class:`~qdlib.qchem.TDDFTSettings` (CAM-B3LYP/LanL2DZ, full TD-DFT) with states added until the
highest lies at or below ``cover_nm`` (330 nm: the blue end of the authors' brightest bands) or
``max_states`` is reached (the result then records that it stopped short: its highest state above
330 nm). Results go to a results store as each finishes (resumable), labelled ``set="library"``
with the member's composition, isomer, xTB energies and how it was found; ``qdlib export-dataset``
releases them as ``data/tddft/library/``. The DFT ground-state energy of each result gives the
member's DFT energy above the lowest computed isomer of its composition (:func:`dft_energies_above`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from ase import Atoms

from ..qchem import EngineOptions, TDDFTSettings, excitations
from ..store import ResultStore, covered_key

__all__ = ["COVER_NM", "MAX_STATES", "spectra_selection", "compute_spectra", "dft_energies_above", "wavelength_coverage"]

#: States are added until the highest lies at or below this wavelength, nm.
COVER_NM = 330.0
#: The most states solved for per member.
MAX_STATES = 60

_LABELS = ("composition", "isomer", "e_xtb_ev", "e_above_ev", "point_group", "found_by", "n_found", "lowest_freq_cm1")


def spectra_selection(members: Sequence[Atoms], max_atoms: int = 12, max_e_above_ev: float = 0.5) -> list[Atoms]:
    """The members computed, in the order computed: fewest atoms first, then composition, then isomer.

    >>> a = Atoms("Cd4Se4", info={"composition": "Cd4Se4Te0", "isomer": "Cd4Se4Te0-01", "e_above_ev": 0.3})
    >>> b = Atoms("Cd4Se4", info={"composition": "Cd4Se4Te0", "isomer": "Cd4Se4Te0-02", "e_above_ev": 0.7})
    >>> [m.info["isomer"] for m in spectra_selection([b, a])]
    ['Cd4Se4Te0-01']
    """
    chosen = [m for m in members if len(m) <= max_atoms and m.info["e_above_ev"] <= max_e_above_ev]
    return sorted(chosen, key=lambda m: (len(m), m.info["composition"], m.info["isomer"]))


def _labels(i: int, atoms: Atoms, cover_nm: float) -> dict:
    return {"set": "library", "geometry": "S0", "cover_nm": cover_nm, **{k: atoms.info[k] for k in _LABELS if k in atoms.info}}


def compute_spectra(members: Sequence[Atoms], store: ResultStore, settings: TDDFTSettings = TDDFTSettings(),
                    options: EngineOptions = EngineOptions(), cover_nm: float = COVER_NM,
                    max_states: int = MAX_STATES, executor=None):  # fmt: skip
    """TD-DFT of ``members`` into ``store`` (those already there are skipped); returns the BatchReport."""
    from ..compute import compute_many

    frames = [Atoms(m.numbers, m.positions, info=dict(m.info)) for m in members]
    fn = functools.partial(excitations, cover_nm=cover_nm, max_states=max_states)
    key = functools.partial(covered_key, cover_nm=cover_nm, max_states=max_states)
    return compute_many(frames, settings, options, store=store, executor=executor, compute=fn, key=key,
                        labels=functools.partial(_labels, cover_nm=cover_nm), progress=False)  # fmt: skip


def dft_energies_above(frames: Sequence[Atoms]) -> dict[str, float]:
    """Per isomer, its DFT ground-state energy above the lowest computed isomer of its composition, eV.

    ``frames``: dataset frames of the library (``info``: ``isomer``, ``composition``, ``e_tot_hartree``).

    >>> f = [Atoms(info={"isomer": i, "composition": "c", "e_tot_hartree": e}) for i, e in (("c-00", -1.0), ("c-01", -1.01))]
    >>> {k: round(v, 3) for k, v in dft_energies_above(f).items()}
    {'c-00': 0.272, 'c-01': 0.0}
    """
    from ase.units import Hartree

    lowest: dict[str, float] = {}
    for f in frames:
        c = f.info["composition"]
        lowest[c] = min(lowest.get(c, float("inf")), f.info["e_tot_hartree"])
    return {f.info["isomer"]: (f.info["e_tot_hartree"] - lowest[f.info["composition"]]) * Hartree for f in frames}


def wavelength_coverage(peaks_nm, lo_nm: float = 350.0, hi_nm: float = 650.0, tol_nm: float = 5.0) -> float:
    """Fraction of the wavelengths ``lo_nm``–``hi_nm`` (1-nm steps) with a peak within ``tol_nm``.

    What part of the wavelength axis a target peak could be met on by some member.

    >>> wavelength_coverage([400.0, 500.0], 350.0, 650.0, 5.0)  # two 11-nm windows of 301 wavelengths
    0.0731
    """
    import numpy as np

    grid = np.arange(lo_nm, hi_nm + 0.5, 1.0)
    peaks = np.asarray([p for p in peaks_nm if np.isfinite(p)], dtype=float)
    if peaks.size == 0:
        return 0.0
    hit = np.abs(grid[:, None] - peaks[None, :]).min(axis=1) <= tol_nm
    return round(float(hit.mean()), 4)

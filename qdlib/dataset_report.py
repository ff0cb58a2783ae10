"""What notebook 01 shows of the released TD-DFT dataset: Fig. 1's spectra and the random set's table and spectra.

Plain data for :mod:`qdlib.plotting.dataset` and text tables for the notebook to print; the
dataset itself is :mod:`qdlib.tddft_data`'s.

:func:`fig1_panel`
    One spectrum panel of Fig. 1: the authors' broadened spectrum beside ours, with our sticks and peaks.
:func:`random_set`, :class:`RandomSet`
    The pipeline's random clusters: relaxed ground states (absorption) and relaxed S1 (emission).
:func:`relaxation_steps`, :func:`random_set_rows`, :func:`format_random_set`
    Its table: DFT gradients per relaxation, S1 energy, peaks, Stokes shift, repeated minima.
:func:`random_set_spectra`, :func:`authors_s1_energies`
    Its normalised-spectra figure and the authors' relaxed S1 of the same sizes.

>>> from qdlib.tddft_data import load_tddft_dataset
>>> rs = random_set(load_tddft_dataset(parts=["reproduction"]))
>>> len(rs.absorption) >= len(rs.distinct) > 0, sorted(rs.emission) == sorted(set(rs.emission))
(True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms
from numpy.typing import ArrayLike, NDArray

from .paths import store_path
from .qchem import Excitations
from .spectra import peak_wavelength, wavelength_grid
from .tddft_data import TDDFTDataset, entry_excitations

__all__ = [
    "Fig1Panel",
    "RandomSet",
    "RandomSetSpectra",
    "authors_s1_energies",
    "fig1_panel",
    "format_random_set",
    "random_set",
    "random_set_rows",
    "random_set_spectra",
    "relaxation_steps",
]

_KINDS = ("absorption", "emission")


@dataclass
class Fig1Panel:
    """One spectrum panel of Fig. 1 (absorption at the ground state, emission at the relaxed S1).

    Attributes
    ----------
    kind : {"absorption", "emission"}
    authors_grid_nm, authors : ndarray
        The authors' Gaussian 16 spectrum and its grid (ε in L mol⁻¹ cm⁻¹, nm).
    authors_peak_nm : float
        Its central peak, nm.
    grid_nm : ndarray
        The paper grid of ``kind``, nm.
    ours : ndarray or None
        Our broadened spectrum on ``grid_nm`` (None: not computed yet).
    ours_peak_nm : float or None
    sticks_nm, sticks_f : ndarray
        Our excitation wavelengths (nm) and oscillator strengths drawn as sticks: every state for
        the absorption, S1 alone for the emission (empty when not computed).
    """

    kind: str
    authors_grid_nm: NDArray[np.float64]
    authors: NDArray[np.float64]
    authors_peak_nm: float
    grid_nm: NDArray[np.float64]
    ours: NDArray[np.float64] | None = None
    ours_peak_nm: float | None = None
    sticks_nm: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    sticks_f: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))


def fig1_panel(kind: str, exc: Excitations | None, authors: ArrayLike, authors_grid_nm: ArrayLike) -> Fig1Panel:
    """The data of one spectrum panel of Fig. 1: the authors' spectrum, ours broadened from ``exc``, sticks, peaks.

    Parameters
    ----------
    kind : {"absorption", "emission"}
    exc : qdlib.qchem.Excitations or None
        Our excitations at the authors' geometry (None: not computed yet, the panel shows theirs alone).
    authors, authors_grid_nm : array_like
        The authors' broadened spectrum (ε, L mol⁻¹ cm⁻¹) and its grid (nm).

    Examples
    --------
    >>> from qdlib import spectra
    >>> grid = spectra.wavelength_grid("absorption")
    >>> panel = fig1_panel("absorption", None, spectra.broaden([400.0], [0.1], grid), grid)
    >>> round(panel.authors_peak_nm, 1), panel.ours is None, panel.sticks_nm.size
    (400.0, True, 0)
    """
    authors_grid_nm = np.asarray(authors_grid_nm)
    authors = np.asarray(authors)
    panel = Fig1Panel(kind, authors_grid_nm, authors, peak_wavelength(authors, authors_grid_nm), wavelength_grid(kind))
    if exc is not None:
        panel.ours = exc.spectrum(kind, panel.grid_nm)
        panel.ours_peak_nm = peak_wavelength(panel.ours, panel.grid_nm)
        sticks = slice(None) if kind == "absorption" else slice(0, 1)
        panel.sticks_nm, panel.sticks_f = exc.wavelengths_nm[sticks], exc.osc_strengths[sticks]
    return panel


def _key(frame: Atoms) -> tuple[int, int]:
    return frame.info["seed"], frame.info["index"]


@dataclass
class RandomSet:
    """The random clusters of the released dataset (``set="random"``).

    Attributes
    ----------
    absorption : list of ase.Atoms
        The relaxed ground states, by (seed, index).
    emission : dict of (seed, index) to ase.Atoms
        The relaxed S1 geometries, by the key of their cluster.
    """

    absorption: list[Atoms]
    emission: dict[tuple[int, int], Atoms]

    @property
    def distinct(self) -> list[Atoms]:
        """The ground states that are no repeat of an earlier one (no ``same_minimum_as``)."""
        return [e for e in self.absorption if not e.info.get("same_minimum_as")]

    @property
    def largest_emission_atoms(self) -> int:
        """Atoms of the largest cluster relaxed in S1 (0: none)."""
        return max((len(e) for e in self.emission.values()), default=0)


def random_set(ds: TDDFTDataset) -> RandomSet:
    """The random set of ``ds``: ground states sorted by (seed, index), and the S1 geometries by the same key."""
    absorption = sorted(ds.select(set="random", geometry="S0"), key=_key)
    return RandomSet(absorption, {_key(e): e for e in ds.select(set="random", geometry="S1")})


def relaxation_steps(store=None) -> dict[tuple[int, int, str], int]:
    """DFT gradients per relaxation of the random clusters, by (seed, index, ``"S0"`` or ``"S1"``).

    ``store``: a :class:`qdlib.store.GeometryStore` or its path (default the working store
    ``random_relaxed``); the counts are not part of the release.

    >>> steps = relaxation_steps()
    >>> all(kind in ("S0", "S1") and n > 0 for (_, _, kind), n in steps.items())
    True
    """
    from .store import GeometryStore

    if store is None or isinstance(store, (str, Path)):
        store = GeometryStore(store_path("random_relaxed") if store is None else store)
    return {(a.info["seed"], a.info["index"], a.info["relaxed"]): a.info["optimization_gradients"] for a in store.select()}


def random_set_rows(rs: RandomSet, steps: dict | None = None) -> list[dict]:
    """One row per relaxed ground state: relaxation steps, S1 energy, peaks, Stokes shift and repeated minima.

    Keys: ``index``, ``composition``, ``n_atoms``, ``s0_steps`` and ``s1_steps`` (DFT gradients,
    None when unknown), ``s1_ev`` (S1 at the ground state, eV), ``absorption_peak_nm``,
    ``emission_peak_nm`` (at the relaxed S1, None without one), ``stokes_ev`` (S1 at the ground
    state minus S1→S0 at the relaxed S1, eV), ``same_minimum_as`` (the index of the first cluster
    with the same minimum, or None).

    >>> from qdlib.tddft_data import load_tddft_dataset
    >>> rows = random_set_rows(random_set(load_tddft_dataset(parts=["reproduction"])))
    >>> all(r["absorption_peak_nm"] > 0 for r in rows), all((r["stokes_ev"] is None) == (r["emission_peak_nm"] is None) for r in rows)
    (True, True)
    """
    steps = steps or {}
    grid = {kind: wavelength_grid(kind) for kind in _KINDS}
    first_of = {e.info["id"]: e.info["index"] for e in rs.absorption}
    rows = []
    for e in rs.absorption:
        key = _key(e)
        exc = entry_excitations(e)
        em, em_peak, stokes = rs.emission.get(key), None, None
        if em is not None:
            em_exc = entry_excitations(em)
            em_peak = peak_wavelength(em_exc.spectrum("emission", grid["emission"]), grid["emission"])
            stokes = exc.energies_ev[0] - em_exc.energies_ev[0]
        repeat = e.info.get("same_minimum_as")
        rows.append({
            "index": key[1], "composition": e.info["composition"], "n_atoms": len(e), "s0_steps": steps.get((*key, "S0")),
            "s1_steps": steps.get((*key, "S1")), "s1_ev": exc.energies_ev[0],
            "absorption_peak_nm": peak_wavelength(exc.spectrum("absorption", grid["absorption"]), grid["absorption"]),
            "emission_peak_nm": em_peak, "stokes_ev": stokes, "same_minimum_as": first_of[repeat] if repeat else None,
        })  # fmt: skip
    return rows


def format_random_set(rows: Sequence[dict]) -> str:
    """A fixed-width text table of :func:`random_set_rows` (peaks in nm, energies in eV).

    >>> row = dict(index=3, composition="Cd5Se5Te0", n_atoms=10, s0_steps=17, s1_steps=None, s1_ev=2.71,
    ...            absorption_peak_nm=416.2, emission_peak_nm=None, stokes_ev=None, same_minimum_as=1)
    >>> print(format_random_set([row]))
     k composition  atoms S0 steps S1 steps S1 (eV) abs peak (nm) em peak (nm) Stokes (eV)  minimum
     3 Cd5Se5Te0       10       17             2.71           416                           same as 1
    """
    head = (f"{'k':>2} {'composition':12s} {'atoms':>5} {'S0 steps':>8} {'S1 steps':>8} {'S1 (eV)':>7} {'abs peak (nm)':>13} "
            f"{'em peak (nm)':>12} {'Stokes (eV)':>11}  minimum")  # fmt: skip
    lines = [head]
    for r in rows:
        s0 = "?" if r["s0_steps"] is None else r["s0_steps"]
        s1 = "" if r["s1_steps"] is None else r["s1_steps"]
        em_peak = "" if r["emission_peak_nm"] is None else f"{r['emission_peak_nm']:.0f}"
        stokes = "" if r["stokes_ev"] is None else f"{r['stokes_ev']:.2f}"
        lines.append(f"{r['index']:2d} {r['composition']:12s} {r['n_atoms']:5d} {s0:>8} {s1:>8} "
                     f"{r['s1_ev']:7.2f} {r['absorption_peak_nm']:13.0f} {em_peak:>12s} {stokes:>11s}  "
                     + (f"same as {r['same_minimum_as']}" if r["same_minimum_as"] is not None else "distinct"))  # fmt: skip
    return "\n".join(lines)


@dataclass
class RandomSetSpectra:
    """The random set's spectra for its figure (ε in L mol⁻¹ cm⁻¹ on the paper grids).

    Attributes
    ----------
    grid_nm : dict of str to ndarray
        The paper grid per kind, nm.
    absorption : list of (str, ndarray)
        Per distinct relaxed cluster: its label (``"index: composition"``) and absorption spectrum.
    pairs : list of (str, ndarray, ndarray)
        Per cluster relaxed in S1, by key: its label, absorption (ground state) and emission
        (relaxed S1) spectra.
    emission_peaks_nm : list of float
        The emission spectra's central peaks, nm.
    """

    grid_nm: dict[str, NDArray[np.float64]]
    absorption: list[tuple[str, NDArray[np.float64]]]
    pairs: list[tuple[str, NDArray[np.float64], NDArray[np.float64]]]
    emission_peaks_nm: list[float]


def random_set_spectra(rs: RandomSet) -> RandomSetSpectra:
    """Broadened spectra of the random set: the distinct ground states, and absorption beside emission.

    >>> from qdlib.tddft_data import load_tddft_dataset
    >>> data = random_set_spectra(random_set(load_tddft_dataset(parts=["reproduction"])))
    >>> data.absorption[0][1].shape, len(data.pairs) == len(data.emission_peaks_nm)
    ((500,), True)
    """
    grid = {kind: wavelength_grid(kind) for kind in _KINDS}
    absorption = [(f"{e.info['index']}: {e.info['composition']}", entry_excitations(e).spectrum("absorption", grid["absorption"]))
                  for e in rs.distinct]  # fmt: skip
    pairs = []
    for key, em in sorted(rs.emission.items()):
        ab = next(e for e in rs.absorption if _key(e) == key)
        pairs.append((f"{key[1]}: {ab.info['composition']}", entry_excitations(ab).spectrum("absorption", grid["absorption"]),
                      entry_excitations(em).spectrum("emission", grid["emission"])))  # fmt: skip
    peaks = [peak_wavelength(entry_excitations(e).spectrum("emission", grid["emission"]), grid["emission"])
             for e in rs.emission.values()]  # fmt: skip
    return RandomSetSpectra(grid, absorption, pairs, peaks)


def authors_s1_energies(ds: TDDFTDataset, max_atoms: int) -> list[tuple[str, float]]:
    """The S1→S0 energy (eV, our engine) of each of the authors' relaxed S1 geometries of at most ``max_atoms`` atoms.

    >>> from qdlib.tddft_data import load_tddft_dataset
    >>> [(c, round(e, 2)) for c, e in authors_s1_energies(load_tddft_dataset(parts=["reproduction"]), 8)][:1]
    [('Cd4Se1Te3', 0.77)]
    """
    return [(e.info["composition"], float(entry_excitations(e).energies_ev[0]))
            for e in ds.select(set="authors", geometry="S1") if len(e) <= max_atoms]  # fmt: skip

"""Global search for low-energy isomers of one cluster composition (ase-ga, GFN2-xTB).

Two methods share one database layout (ase-ga's :class:`~ase_ga.data.DataConnection`, an ASE
SQLite database per search) and one budget, counted in relaxations:

* ``"ga"``: the genetic algorithm of ase-ga (Vilhelmsen & Hammer, J. Chem. Phys. 141, 044711
  (2014)) — a population of the ``population_size`` lowest distinct minima
  (:class:`~ase_ga.standard_comparators.InteratomicDistanceComparator`), offspring by
  Deaven–Ho cut-and-splice pairing of two parents, mutated (rattle, mirror or a swap of
  unlike anions) with probability ``mutation_probability``;
* ``"random"``: every candidate a fresh random start (:class:`~ase_ga.startgenerator.StartGenerator`,
  atoms in a box, no pair closer than ``ratio_of_covalent_radii`` × the sum of covalent
  radii), relaxed: random structure search, the baseline a GA must beat.

Every candidate is relaxed with GFN2-xTB (:func:`qdlib.library.relax.relax`) and written to the
database as soon as it is relaxed; a killed search resumes where it stopped (a candidate that
was being relaxed is relaxed again, nothing relaxed is redone). The random numbers of
candidate ``k`` come from ``RandomState([seed, k])``, so a resumed search makes the same
candidates as one that ran through.

>>> search = ClusterSearch(SearchConfig("Cd2Se2", method="random", budget=3, seed=0), "searches")
>>> result = search.run()
>>> result.n_relaxations, len(result.minima) == 3 - result.n_failed
(3, True)
>>> ClusterSearch(SearchConfig("Cd2Se2", method="random", budget=3, seed=0), "searches").run().n_new
0
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers
from ase_ga.standardmutations import PermutationMutation

from .relax import RelaxSettings, relax

log = logging.getLogger(__name__)

__all__ = ["METHODS", "compositions", "SearchConfig", "SearchResult", "ClusterSearch", "AnionSwap", "parse_composition", "read_record", "compare_searches",
           "searched_minima"]

METHODS = ("ga", "random")


def parse_composition(formula: str) -> dict[str, int]:
    """Element counts of a formula such as ``"Cd5Se2Te3"``.

    >>> parse_composition("Cd5Se2Te3")
    {'Cd': 5, 'Se': 2, 'Te': 3}
    >>> parse_composition("Cd4Xx4")
    Traceback (most recent call last):
        ...
    ValueError: not a Cd–Se–Te composition: 'Cd4Xx4'
    """
    parts = re.fullmatch(r"((?:Cd|Se|Te)\d*)+", formula) and re.findall(r"(Cd|Se|Te)(\d*)", formula)
    if not parts:
        raise ValueError(f"not a Cd–Se–Te composition: {formula!r}")
    out: dict[str, int] = {}
    for element, count in parts:
        out[element] = out.get(element, 0) + int(count or 1)
    return out


def compositions(sizes=(4, 5, 6, 7)) -> list[str]:
    """The library's compositions: Cdₙ Seₘ Teₙ₋ₘ for each ``n`` in ``sizes`` and m = 0…n.

    Named as :func:`qdlib.structures.composition` names a cluster (zeros kept).

    >>> len(compositions()), compositions((4,))[:3]
    (26, ['Cd4Se4Te0', 'Cd4Se3Te1', 'Cd4Se2Te2'])
    """
    return [f"Cd{n}Se{m}Te{n - m}" for n in sizes for m in range(n, -1, -1)]


@dataclass(frozen=True)
class SearchConfig:
    """One search: a composition, a method, a seed and a budget of relaxations."""

    composition: str
    """E.g. ``"Cd5Se2Te3"``."""
    method: str = "ga"
    """``"ga"`` or ``"random"`` (see the module docstring)."""
    seed: int = 0
    budget: int = 150
    """Relaxations (candidates relaxed or failed), the starting population included."""
    population_size: int = 10
    """GA: distinct minima kept as parents; also the number of random starts it begins with."""
    mutation_probability: float = 0.3
    """GA: chance that an offspring is mutated after pairing."""
    ratio_of_covalent_radii: float = 0.8
    """No pair of atoms of a new candidate closer than this × the sum of their covalent radii."""
    like_pair_min_angstrom: float = 3.0
    """No two Cd, nor two chalcogens, closer than this in a new candidate, Å: relaxations that end
    chalcogen-bonded are rejected (:class:`~qdlib.library.relax.RelaxSettings`), so candidates start apart."""
    box_angstrom: float | None = None
    """Edge of the cube random starts are placed in, Å; default ``2.5 × n_atoms^(1/3)``."""
    relax: RelaxSettings = field(default_factory=RelaxSettings)

    def __post_init__(self):
        counts = parse_composition(self.composition)
        canonical = "".join(f"{e}{counts.get(e, 0)}" for e in ("Cd", "Se", "Te"))
        object.__setattr__(self, "composition", canonical)  # "Cd4Se4" and "Cd4Se4Te0" are one search
        if self.method not in METHODS:
            raise ValueError(f"unknown search method {self.method!r}; known: {METHODS}")
        if self.budget < 1 or self.population_size < 2:
            raise ValueError("a search needs a budget ≥ 1 and a population of ≥ 2")

    @property
    def name(self) -> str:
        """The search's file stem, e.g. ``Cd5Se2Te3_ga_s0``."""
        return f"{self.composition}_{self.method}_s{self.seed}"

    @property
    def numbers(self) -> list[int]:
        return [atomic_numbers[e] for e, n in parse_composition(self.composition).items() for _ in range(n)]


@dataclass
class SearchResult:
    """What a search has found so far."""

    config: SearchConfig
    minima: list[Atoms]
    """Every relaxed candidate, in the order relaxed (``info``: ``e_xtb_ev``, ``candidate``, ``steps``, ``origin``)."""
    n_relaxations: int
    n_failed: int
    n_new: int
    """Relaxations made by this call (0 when the search was already complete)."""

    def best_energy_trace(self) -> np.ndarray:
        """Lowest energy found after each relaxation, eV (failed relaxations repeat the last value)."""
        if self.minima and "best_trace_ev" in self.minima[0].info:  # read from a text record
            return np.asarray(self.minima[0].info["best_trace_ev"], dtype=float)
        e = np.full(self.n_relaxations, np.inf)
        for m in self.minima:
            e[m.info["candidate"]] = m.info["e_xtb_ev"]
        return np.minimum.accumulate(e)


class ClusterSearch:
    """A resumable global search of one composition (see the module docstring).

    Parameters
    ----------
    config : SearchConfig
    directory : path
        Folder of the search databases (``<config.name>.db``).
    """

    def __init__(self, config: SearchConfig, directory: str | os.PathLike):
        self.config = config
        self.path = Path(directory) / f"{config.name}.db"

    # -- the database --------------------------------------------------------------------
    def _cell(self) -> tuple[Atoms, list]:
        n = len(self.config.numbers)
        box = self.config.box_angstrom or 2.5 * n ** (1 / 3)
        edge = box + 20.0  # vacuum around the box: the pairing works in the cell's scaled coordinates
        slab = Atoms(cell=[edge] * 3, pbc=False)
        corner = np.full(3, (edge - box) / 2)
        return slab, [corner, np.eye(3) * box]

    def _open(self):
        from ase_ga.data import DataConnection, PrepareDB

        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.stem}.partial.db")
            tmp.unlink(missing_ok=True)
            slab, _ = self._cell()
            PrepareDB(str(tmp), simulation_cell=slab, stoichiometry=self.config.numbers)
            os.replace(tmp, self.path)  # a kill during creation leaves no half-made database
        da = DataConnection(str(self.path))
        for row in da.c.select(queued=1, pairing=1):  # a failure marked with the candidate's keys (before the fix above)
            da.c.update(row.id, delete_keys=["pairing"], relax_failed=1)
        return da

    @staticmethod
    def _counts(da) -> tuple[int, int, int]:
        """(candidates made, relaxed, failed)."""
        made = {r.gaid for r in da.c.select(relaxed=0)}
        relaxed = {r.gaid for r in da.c.select(relaxed=1)}
        failed = {r.gaid for r in da.c.select(queued=1)} - relaxed
        return len(made), len(relaxed), len(failed)

    # -- making and relaxing candidates -------------------------------------------------
    def _rng(self, k: int, retry: int = 0) -> np.random.RandomState:
        return np.random.RandomState([self.config.seed, k, retry])

    def _operators(self, rng):
        from ase_ga.cutandsplicepairing import CutAndSplicePairing
        from ase_ga.offspring_creator import OperationSelector
        from ase_ga.standardmutations import MirrorMutation, RattleMutation
        from ase_ga.startgenerator import StartGenerator
        from ase_ga.utilities import closest_distances_generator

        c = self.config
        n = len(c.numbers)
        slab, box = self._cell()
        blmin = closest_distances_generator(sorted(set(c.numbers)), c.ratio_of_covalent_radii)
        cd = atomic_numbers["Cd"]
        for pair in blmin:  # like ions apart in every new candidate: the library keeps alternating minima only
            if (pair[0] == cd) == (pair[1] == cd):
                blmin[pair] = max(blmin[pair], c.like_pair_min_angstrom)
        start = StartGenerator(slab, c.numbers, blmin, box_to_place_in=box, rng=rng)
        pairing = CutAndSplicePairing(slab, n, blmin, rng=rng)
        mutations = [RattleMutation(blmin, n, rng=rng), MirrorMutation(blmin, n, rng=rng)]
        anions = {atomic_numbers["Se"], atomic_numbers["Te"]}
        if len(set(c.numbers) & anions) == 2:  # a swap of unlike atoms is only meaningful between Se and Te
            mutations.append(AnionSwap(n, rng=rng))
        return start, pairing, OperationSelector([1.0] * len(mutations), mutations, rng=rng)

    def _add_candidate(self, da, k: int) -> None:
        """Make candidate ``k`` from ``RandomState([seed, k, retry])`` and write it, unrelaxed, to the database."""
        from ase_ga.population import Population
        from ase_ga.standard_comparators import InteratomicDistanceComparator

        c = self.config
        for retry in range(100):
            rng = self._rng(k, retry)
            start, pairing, mutations = self._operators(rng)
            population = None
            if c.method == "ga" and k >= c.population_size:
                comparator = InteratomicDistanceComparator(n_top=len(c.numbers), pair_cor_cum_diff=0.015,
                                                           pair_cor_max=0.7, dE=0.02, mic=False)  # fmt: skip
                population = Population(da, c.population_size, comparator, rng=rng)
            if population is None or len(population.pop) < 2 or retry >= 20:
                # random search, the first population, too few minima yet, or 20 offspring that broke the distance bounds
                child = start.get_new_candidate()
                child.info.update(data={}, key_value_pairs={})
                with da.c:  # one transaction: a kill leaves the candidate whole or absent
                    da.add_unrelaxed_candidate(child, description="start: random")
                return
            parents = population.get_two_candidates()
            if parents is None:
                continue
            child, desc = pairing.get_new_individual(list(parents))
            if child is None:
                continue
            with da.c:  # one transaction: a kill leaves the candidate (and its mutant) whole or absent
                da.add_unrelaxed_candidate(child, description=desc)
                if rng.random_sample() < c.mutation_probability:  # the mutant is a later step of the same candidate
                    mutant, desc = mutations.get_new_individual([child])
                    if mutant is not None:
                        da.add_unrelaxed_step(mutant, description=desc)
            return
        raise RuntimeError(f"{c.name}: no valid candidate {k} after 100 tries")

    def _relax_pending(self, da) -> tuple[int, int]:
        from ase.calculators.singlepoint import SinglePointCalculator

        done = failed = 0
        while da.get_number_of_unrelaxed_candidates():
            a = da.get_an_unrelaxed_candidate()
            k = sorted({r.gaid for r in da.c.select(relaxed=0)}).index(a.info["confid"])  # candidates in the order made
            kvp = a.info.setdefault("key_value_pairs", {})
            try:
                relaxed, steps = relax(Atoms(a.numbers, a.positions), self.config.relax)
            except RuntimeError as exc:
                log.info("%s: candidate %d failed to relax (%s)", self.config.name, k, exc)
                a.info["key_value_pairs"] = {"relax_failed": 1}  # not the candidate's own keys: no "pairing" without parents
                da.mark_as_queued(a)
                failed += 1
                continue
            a.positions = relaxed.positions
            e = relaxed.info["e_xtb_ev"]
            a.calc = SinglePointCalculator(a, energy=e, forces=np.zeros((len(a), 3)))
            kvp.update(raw_score=-e, e_xtb_ev=e, steps=steps, candidate=k, max_force=relaxed.info["fmax"])
            da.add_relaxed_step(a)
            done += 1
        return done, failed

    # -- the loop ---------------------------------------------------------------------
    @property
    def record_path(self) -> Path:
        """The text record of a finished search (``<name>.extxyz`` beside the database)."""
        return self.path.with_suffix(".extxyz")

    def run(self, progress_every: int = 25) -> SearchResult:
        """Make and relax candidates until ``config.budget`` relaxations are spent; resumable.

        A finished search writes its text record (:meth:`write_record`); with the database gone
        (a fresh machine) and the record there, the search is not run again.
        """
        c = self.config
        if not self.path.exists() and self.record_path.exists():
            recorded = read_record(self.record_path, c)
            if recorded.n_relaxations >= c.budget:
                return recorded
        da = self._open()
        new, _ = self._relax_pending(da)  # a candidate whose relaxation was killed
        while True:
            made, relaxed, failed = self._counts(da)
            if relaxed + failed >= c.budget:
                break
            self._add_candidate(da, made)
            done, _ = self._relax_pending(da)
            new += done
            if (relaxed + failed + 1) % progress_every == 0:
                log.info("%s: %d of %d relaxations, lowest %.3f eV", c.name, relaxed + failed + 1, c.budget,
                         min(r.e_xtb_ev for r in da.c.select(relaxed=1)))  # fmt: skip
        result = self.result(new)
        if new or not self.record_path.exists():
            self.write_record(result)
        return result

    def write_record(self, result: SearchResult, window_ev: float = 1.5) -> Path:
        """Write the distinct minima within ``window_ev`` of the search's lowest as text (extxyz).

        Each frame: ``e_xtb_ev``, ``candidate`` (the first relaxation that reached it), ``n_found``,
        ``origin``; every frame also carries the search's ``n_relaxations``, ``n_failed`` and its
        best-energy trace (eV, first frame only). What :mod:`.members` needs, in a form git carries.
        """
        import ase.io

        from .identity import unique_minima

        lowest = min((m.info["e_xtb_ev"] for m in result.minima), default=np.inf)
        near = [m for m in result.minima if m.info["e_xtb_ev"] - lowest <= window_ev]
        frames = []
        for g in unique_minima(near):
            first = min(g, key=lambda i: near[i].info["candidate"])
            m = Atoms(near[g[0]].numbers, near[g[0]].positions)
            m.info.update(search=self.config.name, e_xtb_ev=near[g[0]].info["e_xtb_ev"], fmax=near[g[0]].info["fmax"],
                          candidate=near[first].info["candidate"], n_found=len(g), origin=near[first].info["origin"],
                          n_relaxations=result.n_relaxations, n_failed=result.n_failed)  # fmt: skip
            frames.append(m)
        if frames:
            frames[0].info["best_trace_ev"] = np.round(result.best_energy_trace(), 5)
        tmp = self.record_path.with_name(self.record_path.name + ".partial")
        ase.io.write(tmp, frames, format="extxyz")
        os.replace(tmp, self.record_path)
        return self.record_path

    def result(self, n_new: int = 0) -> SearchResult:
        """The search's relaxed candidates as they stand in its database (or its text record, without one)."""
        if not self.path.exists() and self.record_path.exists():
            return read_record(self.record_path, self.config)
        da = self._open()
        _, relaxed, failed = self._counts(da)
        minima = []
        for row in sorted(da.c.select(relaxed=1), key=lambda r: r.candidate):
            m = Atoms(row.numbers, row.positions)
            m.info.update(e_xtb_ev=row.e_xtb_ev, candidate=row.candidate, steps=row.steps, fmax=row.max_force,
                          origin=row.get("description", ""), search=self.config.name)  # fmt: skip
            minima.append(m)
        return SearchResult(self.config, minima, relaxed + failed, failed, n_new)


def searched_minima(composition: str, directory: str | os.PathLike) -> tuple[list[str], list[Atoms]]:
    """The names of the searches of ``composition`` in ``directory`` and every minimum they found, in name order.

    A search is a database or text record named ``<composition>_<method>_s<seed>``
    (:attr:`SearchConfig.name`); its minima are those of :meth:`ClusterSearch.result`.
    """
    names = sorted({p.stem for p in Path(directory).glob(f"{composition}_*_s*.*") if p.suffix in (".db", ".extxyz")})
    minima = []
    for name in names:
        _, method, seed = name.rsplit("_", 2)
        minima += ClusterSearch(SearchConfig(composition, method=method, seed=int(seed[1:])), directory).result().minima
    return names, minima


def compare_searches(records: Sequence[dict], reached_tol_ev: float = 0.005) -> list[dict]:
    """Methods compared at equal relaxations, per composition, from one record per search.

    ``records``: ``composition``, ``method``, ``seed``, ``best_trace_ev`` (best energy after each
    relaxation, eV). Per composition and method: the number of seeds, the gap of the best energy to
    the lowest any search of the composition found (eV; median, min and max over seeds) after a
    quarter, half and all of the budget, and how many seeds reached that lowest (within
    ``reached_tol_ev``).

    >>> recs = [{"composition": "c", "method": m, "seed": 0, "best_trace_ev": t}
    ...         for m, t in (("ga", [-1.0, -2.0, -2.0, -3.0]), ("random", [-1.0, -1.0, -2.0, -2.0]))]
    >>> [(r["method"], r["gap_ev"][-1][0], r["reached"]) for r in compare_searches(recs)]
    [('ga', 0.0, 1), ('random', 1.0, 0)]
    """
    rows = []
    for comp in sorted({r["composition"] for r in records}):
        mine = [r for r in records if r["composition"] == comp]
        lowest = min(min(r["best_trace_ev"]) for r in mine)
        for method in sorted({r["method"] for r in mine}):
            runs = [r for r in mine if r["method"] == method]
            gaps = []
            for frac in (0.25, 0.5, 1.0):
                g = [r["best_trace_ev"][max(int(frac * len(r["best_trace_ev"])) - 1, 0)] - lowest for r in runs]
                gaps.append((round(float(np.median(g)), 4), round(min(g), 4), round(max(g), 4)))
            reached = sum(r["best_trace_ev"][-1] - lowest < reached_tol_ev for r in runs)
            rows.append({"composition": comp, "method": method, "seeds": len(runs), "gap_ev": gaps, "reached": reached,
                         "budget": len(runs[0]["best_trace_ev"])})  # fmt: skip
    return rows


def read_record(path: str | os.PathLike, config: SearchConfig) -> SearchResult:
    """A finished search as its text record holds it (:meth:`ClusterSearch.write_record`): its distinct minima."""
    import ase.io

    frames = ase.io.read(path, index=":", format="extxyz")
    for m in frames:
        m.info.setdefault("origin", "")
    n, failed = (frames[0].info["n_relaxations"], frames[0].info["n_failed"]) if frames else (0, 0)
    return SearchResult(config, frames, n, failed, 0)


class AnionSwap(PermutationMutation):
    """Swap one Se and one Te: ase-ga's :class:`~ase_ga.standardmutations.PermutationMutation`
    restricted to the anions (a Cd–anion swap only makes like ions bond)."""

    def __init__(self, n_top: int, rng=np.random):
        super().__init__(n_top, rng=rng)
        self.descriptor = "AnionSwap"

    def mutate(self, atoms: Atoms) -> Atoms:
        z = atoms.numbers
        i = self.rng.choice(np.flatnonzero(z == atomic_numbers["Se"]))
        j = self.rng.choice(np.flatnonzero(z == atomic_numbers["Te"]))
        out = atoms.copy()
        out.positions[[i, j]] = atoms.positions[[j, i]]  # positions, not numbers: the atom order stays the GA's
        return out

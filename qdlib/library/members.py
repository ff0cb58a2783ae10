"""The library's members: the distinct minima of a composition's searches, checked, ranked and released.

From every relaxed candidate of every search of one composition, the members are the distinct
minima (:func:`~qdlib.library.identity.unique_minima`) up to ``window_ev`` (1.0 eV, GFN2-xTB)
above the lowest, each confirmed a minimum by its Hessian (:func:`~qdlib.library.relax.relax_to_minimum`;
a saddle is pushed to the minimum below it, which then joins the comparison) after a tight relaxation
(:data:`MEMBER_RELAX`, 0.002 eV/Å), then compared again and ranked by energy.
A member's ``info``: ``composition``, ``isomer`` (``"Cd4Se4Te0-00"``, 00 the lowest),
``e_xtb_ev``, ``e_above_ev`` (above the composition's lowest member), ``lowest_freq_cm1``,
``point_group`` (PySCF's :func:`pyscf.symm.geom.detect_symm` at 0.1 Bohr: a relaxation to 0.02 eV/Å
leaves a cluster slightly off its symmetry; the lowest xTB Cd4Se4 is C1 at 0.01 Bohr, C3v at 0.05–0.1,
D3 at 0.2), ``found_by``
(the first search and candidate that reached it) and ``n_found`` (how many relaxations did).

They are released as text, one extxyz file per composition under ``data/library/``
(:func:`write_members`), hashed in ``data/registry.txt`` like the rest of the release
(:func:`load_members` checks the hashes).

>>> from ase import Atoms
>>> a = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.9]], info={"e_xtb_ev": -1.0, "search": "s", "candidate": 0})
>>> b = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.5]], info={"e_xtb_ev": -1.2, "search": "s", "candidate": 1})
>>> [m.info["isomer"] for m in select_members([a, b], "Cd1Se1Te0")]  # both relax to the one dimer minimum
['Cd1Se1Te0-00']
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from ase import Atoms

from .identity import IdentityTolerances, unique_minima
from .relax import RelaxSettings, relax_to_minimum

log = logging.getLogger(__name__)

__all__ = ["MEMBER_RELAX", "RELEASE_DIR", "KNOWN", "point_group", "select_members", "write_members", "load_members", "summary"]

#: How a member is relaxed before it is checked and compared: tighter than a search's relaxations
#: (0.02 eV/Å), which leave a floppy cluster scattered by up to ~0.25 Å and a few meV around its
#: minimum (measured on Cd5Se5: nine such copies of one minimum came within 0.003 Å at 0.002 eV/Å).
MEMBER_RELAX = RelaxSettings(fmax=0.002, max_steps=3000)

#: Where the library is released, relative to ``data/``.
RELEASE_DIR = "library"
#: The authors' 8–14-atom structures relaxed with GFN2-xTB (:func:`qdlib.library.known.authors_minima`), released beside it.
KNOWN = f"{RELEASE_DIR}/known/authors.extxyz"


def point_group(atoms: Atoms, tol_bohr: float = 0.1) -> str:
    """Schoenflies symbol of the cluster's point group (PySCF's symmetry detection).

    >>> point_group(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.3]]))
    'Coov'
    """
    from ase.units import Bohr
    from pyscf.symm import geom

    saved = geom.TOLERANCE
    geom.TOLERANCE = tol_bohr
    try:
        return geom.detect_symm([(s, p / Bohr) for s, p in zip(atoms.get_chemical_symbols(), atoms.positions)])[0]
    finally:
        geom.TOLERANCE = saved


def select_members(minima: Sequence[Atoms], composition: str, window_ev: float = 1.0,
                   settings: RelaxSettings = MEMBER_RELAX,
                   tol: IdentityTolerances = IdentityTolerances()) -> list[Atoms]:  # fmt: skip
    """The members of one composition from its searches' relaxed candidates (see the module docstring)."""
    if not minima:
        return []
    groups = unique_minima(minima, tol)
    lowest = minima[groups[0][0]].info["e_xtb_ev"]
    checked = []
    for g in groups:
        lowest = min((m.info["e_xtb_ev"] for m in checked), default=lowest)  # a minimum that fails its check moves it up
        if minima[g[0]].info["e_xtb_ev"] - lowest > window_ev:
            break
        for rep in (minima[i] for i in g[:3]):  # the lowest copy, or the next where xTB's SCF fails
            try:
                m, _ = relax_to_minimum(rep, settings)  # relaxed tighter, the Hessian, and a push if a saddle
            except RuntimeError as exc:
                log.info("%s: a copy of a minimum could not be checked (%s)", composition, exc)
                continue
            m.info.update(found_by=f"{rep.info['search']}#{rep.info['candidate']}",
                          n_found=len(g), pushed_from_saddle=bool(m.info["pushes"]))  # fmt: skip
            checked.append(m)
            break
        else:
            log.warning("%s: a minimum %.3f eV above the lowest left out: no copy could be checked",
                        composition, minima[g[0]].info["e_xtb_ev"] - lowest)  # fmt: skip
    if not checked:
        return []
    members = []
    for g in unique_minima(checked, tol):  # a pushed saddle may have reached a minimum already there
        m = checked[g[0]]
        m.info["n_found"] = sum(checked[i].info["n_found"] for i in g)
        members.append(m)
    lowest = members[0].info["e_xtb_ev"]
    out = []
    for rank, m in enumerate(m for m in members if m.info["e_xtb_ev"] - lowest <= window_ev):
        m = m.copy()
        m.info = {"composition": composition, "isomer": f"{composition}-{rank:02d}",
                  "e_xtb_ev": round(m.info["e_xtb_ev"], 6), "e_above_ev": round(m.info["e_xtb_ev"] - lowest, 6),
                  "lowest_freq_cm1": round(m.info["lowest_freq_cm1"], 1), "point_group": point_group(m),
                  "fmax": round(m.info["fmax"], 4), "found_by": m.info["found_by"], "n_found": m.info["n_found"],
                  "pushed_from_saddle": m.info["pushed_from_saddle"]}  # fmt: skip
        out.append(m)
    return out


def write_members(members: Sequence[Atoms], directory: str | os.PathLike) -> Path:
    """Write one composition's members to ``<directory>/<composition>.extxyz``; returns the path."""
    from ase.io import write

    if not members:
        raise ValueError("no members to write")
    comps = {m.info["composition"] for m in members}
    if len(comps) != 1:
        raise ValueError(f"members of several compositions: {sorted(comps)}")
    path = Path(directory) / f"{comps.pop()}.extxyz"
    path.parent.mkdir(parents=True, exist_ok=True)
    write(path, list(members), format="extxyz")
    return path


def load_members(directory: str | os.PathLike | None = None) -> list[Atoms]:
    """Every released member (``data/library/*.extxyz``, hash-checked), or those of a folder of one's own."""
    from ase.io import read

    from ..release import read_registry, verified_path

    if directory is not None:
        paths = sorted(Path(directory).glob("*.extxyz"))
    else:
        paths = [verified_path(k) for k in sorted(read_registry())
                 if k.startswith(f"{RELEASE_DIR}/") and k.count("/") == 1]  # not known/: the authors' structures
    return [m for p in paths for m in read(p, index=":", format="extxyz")]


def summary(members: Sequence[Atoms]) -> list[dict]:
    """Per composition (fewest atoms, then most Se first): members, largest energy above the lowest (eV),
    point groups with their counts.

    >>> m = [Atoms("CdSe", info={"composition": "Cd1Se1Te0", "e_above_ev": e, "point_group": "Coov"}) for e in (0.0, 0.4)]
    >>> summary(m)
    [{'composition': 'Cd1Se1Te0', 'members': 2, 'max_e_above_ev': 0.4, 'point_groups': {'Coov': 2}}]
    """
    from collections import Counter

    from .search import parse_composition

    comps = sorted({m.info["composition"] for m in members},
                   key=lambda c: (parse_composition(c)["Cd"], -parse_composition(c)["Se"]))  # fmt: skip
    rows = []
    for c in comps:
        mine = [m for m in members if m.info["composition"] == c]
        rows.append({"composition": c, "members": len(mine), "max_e_above_ev": max(m.info["e_above_ev"] for m in mine),
                     "point_groups": dict(Counter(m.info["point_group"] for m in mine).most_common())})  # fmt: skip
    return rows

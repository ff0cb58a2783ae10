"""Does the library's search find what is known? The authors' structures against the library.

The authors' ground-state structures of 8–14 atoms (Cd4–Cd7, every Se/Te ratio they computed) are
DFT minima. Each is relaxed with GFN2-xTB to a minimum (:func:`~qdlib.library.relax.relax_to_minimum`),
and that xTB minimum is looked for among the library's members of its composition: recovered when a
member is the same minimum (:func:`~qdlib.library.identity.same_minimum`: RMSD ≤ 0.1 Å after
like-atom assignment and rotation). Per structure: the member it matched (or none), the RMSD to the
nearest member, and how far its xTB energy lies above the composition's lowest member.
"""

from __future__ import annotations

from collections.abc import Sequence

from ase import Atoms

from .identity import IdentityTolerances, aligned_rmsd, same_minimum
from .relax import RelaxSettings, lowest_frequency, relax, relax_to_minimum

__all__ = ["authors_minima", "recovery"]


def authors_minima(sizes: range = range(8, 15), settings: RelaxSettings | None = None) -> list[Atoms]:
    """The authors' ground-state structures of ``sizes`` atoms, each relaxed to its GFN2-xTB minimum
    (as tightly as the members, :data:`~qdlib.library.members.MEMBER_RELAX`, by default).

    ``info``: ``composition``, ``group`` (their row group), ``e_xtb_ev``, ``lowest_freq_cm1``,
    ``shift_angstrom`` (RMSD between their DFT geometry and its xTB minimum), and ``saddle`` where
    pushes along an imaginary mode did not reach a minimum.
    """
    from ..generate import authors_structures
    from ..structures import composition
    from .members import MEMBER_RELAX

    settings = settings or MEMBER_RELAX  # as the members are relaxed: compared at one convergence

    out = []
    for a in authors_structures("absorption"):
        if len(a) not in sizes:
            continue
        try:
            m, _ = relax_to_minimum(Atoms(a.numbers, a.positions), settings)
        except RuntimeError:  # xTB keeps a soft imaginary mode however it is pushed: kept, and said
            m, _ = relax(Atoms(a.numbers, a.positions), settings)
            m.info.update(lowest_freq_cm1=lowest_frequency(m, settings), saddle=True)
        m.info.update(composition=composition(a), group=a.info["group"], shift_angstrom=round(aligned_rmsd(a, m), 4))
        out.append(m)
    return out


def recovery(known: Sequence[Atoms], members: Sequence[Atoms],
             tol: IdentityTolerances = IdentityTolerances()) -> list[dict]:  # fmt: skip
    """For each known minimum: the library member that is the same minimum, if any (see the module docstring).

    Returns one row per known structure: ``composition``, ``group``, ``matched`` (the member's
    ``isomer`` or None), ``rmsd_angstrom`` (to the nearest member of its composition),
    ``e_above_ev`` (its xTB energy above that composition's lowest member; negative if the
    search missed a lower minimum), ``n_members``.

    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.31]], info={"e_xtb_ev": -1.0, "composition": "Cd1Se1Te0"})
    >>> member = dimer.copy()
    >>> member.info.update(isomer="Cd1Se1Te0-00")
    >>> recovery([dimer], [member])[0]["matched"]
    'Cd1Se1Te0-00'
    """
    rows = []
    for k in known:
        mine = [m for m in members if m.info["composition"] == k.info["composition"]]
        match = next((m for m in mine if same_minimum(k, m, tol)), None)
        rows.append({
            "composition": k.info["composition"], "group": k.info.get("group"),
            "matched": None if match is None else match.info["isomer"],
            "rmsd_angstrom": round(min((aligned_rmsd(k, m) for m in mine), default=float("nan")), 4),
            "e_above_ev": round(k.info["e_xtb_ev"] - min(m.info["e_xtb_ev"] for m in mine), 4) + 0.0 if mine else None,
            "n_members": len(mine),
        })  # fmt: skip
    return rows

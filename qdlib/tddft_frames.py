"""One frame of the released TD-DFT dataset, and the files and part it is written to.

A frame is an :class:`ase.Atoms` whose ``info`` holds the identity, the excitations, every setting
that changes the answer and the provenance of one TD-DFT result (:func:`make_entry`; back to
:class:`~qdlib.qchem.Excitations` with :func:`entry_excitations`); its role (:data:`ROLES`,
:func:`role_of`) says which spectra it stands for, its part (:data:`PARTS`, :func:`part_of`) which
folder of ``data/tddft/`` it is written to. The layout as a whole is described in
:mod:`qdlib.tddft_data`.

>>> role_of({"set": "design-region"}), part_of({"set": "design-region"})
('absorption+emission', 'reproduction')
"""

from __future__ import annotations

import dataclasses

import numpy as np
from ase import Atoms

from .qchem import Excitations, TDDFTSettings, result_key
from .structures import composition

__all__ = [
    "DISPLACED_SETS",
    "PARTS",
    "ROLES",
    "decode_transitions",
    "encode_transitions",
    "entry_excitations",
    "make_entry",
    "part_of",
    "role_of",
]

#: Spectra each role stands for.
ROLES: dict[str, tuple[str, ...]] = {
    "absorption": ("absorption",),
    "emission": ("emission",),
    "absorption+emission": ("absorption", "emission"),
}

#: Sets released as a part of their own (``tddft/<part>/``); every other set is in ``reproduction``.
PARTS: dict[str, str] = {"campaign": "campaign", "library": "library"}


def part_of(labels: dict) -> str:
    """The release part (sub-folder of ``tddft/``) a frame of these labels is written to.

    >>> part_of({"set": "campaign"}), part_of({"set": "authors"})
    ('campaign', 'reproduction')
    """
    return PARTS.get(labels.get("set", ""), "reproduction")

_STRUCTURES = "structures.extxyz"


def _spectra_file(kind: str) -> str:
    return f"spectra_{kind}.csv"


def make_entry(atoms: Atoms, result: Excitations, role: str, **labels) -> Atoms:
    """One dataset frame: the geometry with its excitations, settings, provenance and labels.

    Parameters
    ----------
    atoms : ase.Atoms
        The geometry the excitations belong to, Å.
    result : Excitations
    role : {"absorption", "emission", "absorption+emission"}
    labels
        Scalar labels (``set``, ``dot``, ``group``, ``edge_angstrom``, …).

    Examples
    --------
    Hand-made excitations of a CdSe dimer stand in for a TD-DFT result:

    >>> import numpy as np
    >>> from ase import Atoms
    >>> from qdlib.qchem import Excitations, TDDFTSettings
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
    >>> exc = Excitations.from_sticks([2.5, 3.1], [0.02, 0.1], e_tot_hartree=-100.0)
    >>> entry = make_entry(dimer, exc, "absorption", set="toy")
    >>> entry.info["role"], entry.info["composition"], entry.info["n_states"], entry.info["energies_ev"]
    ('absorption', 'Cd1Se1Te0', 2, array([2.5, 3.1]))
    >>> back = entry_excitations(entry)
    >>> back.energies_ev, back.osc_strengths, back.settings == exc.settings
    (array([2.5, 3.1]), array([0.02, 0.1 ]), True)
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {sorted(ROLES)}, got {role!r}")
    settings = result.settings.key_dict()
    if settings["response_grid_level"] is None:
        settings["response_grid_level"] = settings["grid_level"]
    if settings["auxbasis"] is None:
        settings["auxbasis"] = "default"
    info = {
        "id": result_key(atoms, result.settings),
        "role": role,
        "composition": composition(atoms),
        **{k: v for k, v in labels.items() if v is not None},
        "energies_ev": np.asarray(result.energies_ev, dtype=float),
        "osc_strengths": np.asarray(result.osc_strengths, dtype=float),
        "td_converged": np.asarray(result.td_converged, dtype=bool),
        "e_tot_hartree": float(result.e_tot_hartree),
        **settings,
        "backend": result.backend,
        "scf_strategy": result.scf_strategy,
        "wall_time_s": round(float(result.wall_time_s), 1),
        **{f"version_{k}": str(v) for k, v in sorted(result.versions.items())},
    }
    if result.transitions:
        info["transitions"] = encode_transitions(result.transitions)
    if result.start:
        info["start"] = result.start
    out = Atoms(atoms.numbers, positions=atoms.positions)
    out.info = info
    return out


def entry_excitations(entry: Atoms) -> Excitations:
    """The :class:`~qdlib.qchem.Excitations` a frame records (inverse of :func:`make_entry`).

    >>> from qdlib.tddft_data import load_tddft_dataset
    >>> ds = load_tddft_dataset()
    >>> exc = entry_excitations(ds.select(set="design-region")[0])
    >>> exc.settings.xc, exc.spectrum("absorption").shape
    ('camb3lyp', (500,))
    """
    info = entry.info
    fields = {f.name: info[f.name] for f in dataclasses.fields(TDDFTSettings)}
    fields["auxbasis"] = None if fields["auxbasis"] == "default" else fields["auxbasis"]
    return Excitations(
        energies_ev=np.atleast_1d(np.asarray(info["energies_ev"], dtype=float)),
        osc_strengths=np.atleast_1d(np.asarray(info["osc_strengths"], dtype=float)),
        e_tot_hartree=float(info["e_tot_hartree"]),
        td_converged=np.atleast_1d(np.asarray(info["td_converged"], dtype=bool)),
        scf_strategy=str(info["scf_strategy"]),
        settings=TDDFTSettings(**fields),
        backend=str(info["backend"]),
        wall_time_s=float(info["wall_time_s"]),
        versions={k[len("version_") :]: str(v) for k, v in info.items() if k.startswith("version_")},
        transitions=decode_transitions(info.get("transitions", "")),
        start=str(info.get("start", "")),
    )


def encode_transitions(transitions: list[list[tuple[int, int, float]]]) -> str:
    """:attr:`Excitations.transitions <qdlib.qchem.Excitations>` as one ASCII string for an extxyz frame.

    States are separated by ``|``, pairs by ``;``, a pair is ``h,l,w`` (HOMO−h → LUMO+l, weight w,
    four decimals):

    >>> encode_transitions([[(0, 0, 0.9213), (1, 0, 0.0512)], [(0, 1, 0.88)]])
    '0,0,0.9213;1,0,0.0512|0,1,0.8800'
    """
    return "|".join(";".join(f"{h},{l},{w:.4f}" for h, l, w in state) for state in transitions)


def decode_transitions(text: str) -> list[list[tuple[int, int, float]]]:
    """Inverse of :func:`encode_transitions` (``""`` → ``[]``).

    >>> decode_transitions("0,0,0.9213;1,0,0.0512|0,1,0.88")
    [[(0, 0, 0.9213), (1, 0, 0.0512)], [(0, 1, 0.88)]]
    >>> decode_transitions("")
    []
    """
    if not text:
        return []
    states = []
    for state in str(text).split("|"):
        pairs = []
        for pair in filter(None, state.split(";")):
            h, l, w = pair.split(",")  # noqa: E741 (LUMO offset)
            pairs.append((int(h), int(l), float(w)))
        states.append(pairs)
    return states


def role_of(labels: dict) -> str:
    """The role of a result from its labels: displaced benchmark dots (:data:`DISPLACED_SETS`)
    give both spectra (the vertical S1→S0 line is the emission at that geometry), relaxed S1 geometries (``geometry="S1"``) emission, the rest absorption.

    >>> role_of({"set": "design-region"}), role_of({"set": "authors", "geometry": "S1"}), role_of({"set": "random"})
    ('absorption+emission', 'emission', 'absorption')
    """
    if labels.get("set") in DISPLACED_SETS:
        return "absorption+emission"
    return "emission" if labels.get("geometry") == "S1" else "absorption"


#: Sets of benchmark dots with displaced atoms: the design region, the sensitivity sweep,
#: the TD-DFT rechecks of structures designed by DDPG and by PSO, and the designs of the
#: TD-DFT-in-the-loop campaigns (:mod:`qdlib.campaign`).
DISPLACED_SETS: tuple[str, ...] = ("design-region", "sensitivity", "validation", "pso", "campaign")

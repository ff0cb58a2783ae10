"""Our TD-DFT dataset: the released, text-only form of the results stores.

``data/tddft/`` holds one folder per part of the release — ``reproduction/`` (the paper's
structures and the designs of notebooks 01–06), ``campaign/`` (the design campaigns' TD-DFT
calls, notebook 07) and ``library/`` (the stable-cluster library) — so that a notebook's
fingerprint changes only when the part it reads does. Each folder holds

* ``structures.extxyz``: every computed geometry, one frame each, its
  ``info`` holding the identity (``id``: the key of the geometry at the settings
  it was computed with; ``store_key``: the key it was asked under, where that differs,
  e.g. a Tamm–Dancoff fallback of a full-TDDFT request; ``set``:
  ``authors``, ``design-region`` or ``random``; ``role``: which spectra it
  stands for), the excitations (``energies_ev``, ``osc_strengths``,
  ``td_converged``, ``e_tot_hartree``), every setting that changes the answer,
  how it was run (``backend``, ``wall_time_s``, ``scf_strategy``) and the
  versions of the code (``version_pyscf``, ``version_qdlib``, …); a
  ``random`` frame whose relaxation reached the minimum of an earlier one
  carries ``same_minimum_as`` (that frame's ``id``);
* ``spectra_absorption.csv`` and ``spectra_emission.csv``: the broadened
  spectra on the paper grids (ε, L mol⁻¹ cm⁻¹), one row per frame of that
  role, first column the ``id``: the form the authors published, for
  training surrogates directly.

A frame's role follows from its geometry: a ground-state geometry gives an
absorption spectrum, a relaxed S1 geometry the S1→S0 emission (Kasha), and a
displaced design-region geometry both (absorption, and vertical emission
from the same TD-DFT run).

>>> ds = load_tddft_dataset()
>>> frame = ds.select(set="design-region", dot="Cd6Se6")[0]
>>> frame.info["xc"], frame.info["basis"], frame.info["role"]
('camb3lyp', 'lanl2dz', 'absorption+emission')
>>> ds.get(frame).energies_ev.size, int(frame.info["n_states"])
(6, 6)
"""

from __future__ import annotations

import csv
import dataclasses
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from numpy.typing import NDArray

from .qchem import Excitations, TDDFTSettings, result_key
from .spectra import wavelength_grid
from .store import ResultStore
from .structures import composition

__all__ = [
    "ROLES",
    "DATASET_STORES",
    "role_of",
    "make_entry",
    "entry_excitations",
    "encode_transitions",
    "decode_transitions",
    "entries_from_store",
    "collect_entries",
    "stored_authors_groups",
    "PARTS",
    "part_of",
    "write_tddft_dataset",
    "load_tddft_dataset",
    "TDDFTDataset",
]

#: Spectra each role stands for.
ROLES: dict[str, tuple[str, ...]] = {
    "absorption": ("absorption",),
    "emission": ("emission",),
    "absorption+emission": ("absorption", "emission"),
}

#: Where the released dataset lives, relative to ``data/``.
RELEASE_DIR = "tddft"

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
    >>> exc = Excitations(energies_ev=np.array([2.5, 3.1]), osc_strengths=np.array([0.02, 0.1]),
    ...                   e_tot_hartree=-100.0, td_converged=np.ones(2, bool), scf_strategy="diis",
    ...                   settings=TDDFTSettings(n_states=2), backend="cpu", wall_time_s=0.0)
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

#: Store labels carried into the dataset.
_LABEL_KEYS = (
    "set", "geometry", "group", "dot", "edge_angstrom", "n_movable", "case_index", "seed", "index",
    "distance_angstrom", "direction_index", "kind", "start_index", "cover_nm", "covered",
    "isomer", "e_xtb_ev", "e_above_ev", "point_group", "found_by", "n_found", "lowest_freq_cm1",  # library members
)  # fmt: skip

#: The results stores (``<name>.json`` under :func:`qdlib.paths.stores_dir`) the dataset is made
#: from, with labels that rows computed before labelling was complete lack.
DATASET_STORES: dict[str, dict] = {
    "authors_absorption": {"set": "authors", "geometry": "S0"},
    "authors_emission": {"set": "authors", "geometry": "S1"},
    "design_region": {"set": "design-region"},
    "sensitivity": {"set": "sensitivity"},
    "validation": {"set": "validation"},
    "random": {"set": "random"},
    "verdicts": {},  # states solved for until a target's window is covered (qdlib.verdict): labels in the rows
    "campaigns": {},  # the design campaigns' calls (set="campaign") and their references: labels in the rows
    "library": {"set": "library", "geometry": "S0"},  # the stable-cluster library's members (qdlib.library.tddft)
}


def entries_from_store(store: ResultStore | str | Path, **labels) -> list[Atoms]:
    """Frames of every result in a store; ``labels`` fill in what the rows do not carry.

    The authors' structures get their ``group`` (their row group in the
    published files) by matching geometries.

    Examples
    --------
    >>> import numpy as np
    >>> from ase import Atoms
    >>> from qdlib.qchem import Excitations, TDDFTSettings
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
    >>> exc = Excitations(energies_ev=np.array([2.5, 3.1]), osc_strengths=np.array([0.02, 0.1]),
    ...                   e_tot_hartree=-100.0, td_converged=np.ones(2, bool), scf_strategy="diis",
    ...                   settings=TDDFTSettings(n_states=2), backend="cpu", wall_time_s=0.0)
    >>> store = ResultStore("random.db")
    >>> key = store.put(dimer, exc, seed=0, index=3, geometry="S0")
    >>> [(e.info["set"], e.info["index"], e.info["role"]) for e in entries_from_store(store, set="random")]
    [('random', 3, 'absorption')]
    """
    store = store if isinstance(store, ResultStore) else ResultStore(store)
    groups: dict[str, int] = {}
    out = []
    for atoms, exc, kv in store.select():
        row = {**labels, **{k: kv[k] for k in _LABEL_KEYS if k in kv}}
        if row.get("set") == "authors" and "group" not in row:
            if not groups or kv["result_key"] not in groups:
                groups.update(_authors_groups(row.get("geometry", "S0"), exc.settings))
            row["group"] = groups.get(kv["result_key"])
        entry = make_entry(atoms, exc, role_of(row), **row)
        if kv["result_key"] != entry.info["id"]:  # computed under other settings than asked (Tamm–Dancoff fallback)
            entry.info["store_key"] = kv["result_key"]
        out.append(entry)
    return out


def _authors_groups(geometry: str, settings: TDDFTSettings) -> dict[str, int]:
    from .generate import authors_structures

    kind = "emission" if geometry == "S1" else "absorption"
    return {result_key(a, settings): a.info["group"] for a in authors_structures(kind)}


def collect_entries(stores_dir: str | Path | None = None) -> list[Atoms]:
    """Frames of every result in the dataset's stores (:data:`DATASET_STORES` present in ``stores_dir``).

    An authors' structure computed at several settings enters once, at the paper settings
    (:class:`~qdlib.qchem.TDDFTSettings` defaults) when present.

    >>> collect_entries("an-empty-folder")  # stores that are absent are skipped
    []
    """
    from .paths import stores_dir as default_stores_dir

    stores_dir = Path(stores_dir) if stores_dir is not None else default_stores_dir()
    out, seen = [], set()
    for name, labels in DATASET_STORES.items():
        if (stores_dir / f"{name}.json").is_file():
            for e in entries_from_store(stores_dir / f"{name}.json", **labels):
                key = (e.info["id"], e.info.get("store_key"))
                if key not in seen:  # one calculation kept in two stores (e.g. a dot's reference) enters once
                    seen.add(key)
                    out.append(e)
    return _mark_repeated_minima(_one_per_authors_structure(out))


def stored_authors_groups(store: str | Path, kind: str) -> set[int]:
    """Groups of the authors' structures in ``store`` computed at the paper settings, response grid aside.

    The response-kernel grid changes the excitation energies by ~0.01 meV (data/README.md), so a
    structure done on another response grid need not be done again.
    """
    if not Path(store).is_file():
        return set()

    def method(settings):
        return {k: v for k, v in settings.key_dict().items() if k != "response_grid_level"}

    labels = DATASET_STORES.get(Path(store).stem, {"set": "authors", "geometry": "S1" if kind == "emission" else "S0"})
    return {
        int(e.info["group"]) for e in entries_from_store(store, **labels)
        if e.info.get("group") is not None and method(entry_excitations(e).settings) == method(TDDFTSettings())
    }  # fmt: skip


def _mark_repeated_minima(entries: list[Atoms]) -> list[Atoms]:
    """Give each ``random`` frame that repeats an earlier one's relaxed minimum ``same_minimum_as`` = its ``id``.

    Frames of one geometry (S0 or S1) are compared in order of ``seed``, then
    ``index``; repeats are :func:`~qdlib.structures.same_structure` within 0.02 Å.
    """
    from .structures import distinct_structures

    groups: dict[str, list[Atoms]] = {}
    for e in entries:
        if e.info.get("set") == "random":
            groups.setdefault(e.info.get("geometry"), []).append(e)
    for frames in groups.values():
        frames.sort(key=lambda e: (e.info.get("seed", 0), e.info.get("index", 0)))
        for k, first in distinct_structures(frames).items():
            frames[k].info["same_minimum_as"] = frames[first].info["id"]
    return entries


def _one_per_authors_structure(entries: list[Atoms]) -> list[Atoms]:
    """Keep one frame per authors' structure and geometry: the one at the paper settings if there is one."""
    paper = TDDFTSettings().key_dict()
    chosen: dict[tuple, Atoms] = {}
    rest = []
    for e in entries:
        if e.info.get("set") != "authors":
            rest.append(e)
            continue
        key = (e.info.get("geometry"), e.info.get("group"))
        at_paper = entry_excitations(e).settings.key_dict() == paper
        if key not in chosen or at_paper:
            chosen[key] = e
    return rest + list(chosen.values())


def write_tddft_dataset(entries: Sequence[Atoms], directory: str | Path) -> dict[str, int]:
    """Write frames, one folder per part (:func:`part_of`): ``structures.extxyz`` plus one spectra CSV per role.

    Frames are sorted by set, size and id so the files are stable under
    re-export. Returns the number of rows per file (path relative to ``directory``).

    Examples
    --------
    One hand-made absorption frame written and read back:

    >>> import numpy as np
    >>> from ase import Atoms
    >>> from qdlib.qchem import Excitations, TDDFTSettings
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
    >>> exc = Excitations(energies_ev=np.array([2.5, 3.1]), osc_strengths=np.array([0.02, 0.1]),
    ...                   e_tot_hartree=-100.0, td_converged=np.ones(2, bool), scf_strategy="diis",
    ...                   settings=TDDFTSettings(n_states=2), backend="cpu", wall_time_s=0.0)
    >>> write_tddft_dataset([make_entry(dimer, exc, "absorption", set="toy")], "toy")
    {'reproduction/structures.extxyz': 1, 'reproduction/spectra_absorption.csv': 1, 'reproduction/spectra_emission.csv': 0}
    >>> ds = load_tddft_dataset("toy")
    >>> ds
    TDDFTDataset(1 geometries; spectra: {'absorption': 1, 'emission': 0})
    >>> ds.get(dimer, TDDFTSettings(n_states=2)).energies_ev
    array([2.5, 3.1])
    """
    from ase.io import write

    directory = Path(directory)
    ids = [e.info["id"] for e in entries]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate ids among the entries (the same geometry and settings twice)")
    parts: dict[str, list[Atoms]] = {}
    for e in sorted(entries, key=lambda e: (e.info.get("set", ""), len(e), e.info["id"])):
        parts.setdefault(part_of(e.info), []).append(e)
    counts = {}
    for part, frames in sorted(parts.items()):
        folder = directory / part
        folder.mkdir(parents=True, exist_ok=True)
        write(folder / _STRUCTURES, frames, format="extxyz")
        counts[f"{part}/{_STRUCTURES}"] = len(frames)
        for kind in ("absorption", "emission"):
            grid = wavelength_grid(kind)
            rows = [e for e in frames if kind in ROLES[e.info["role"]]]
            with open(folder / _spectra_file(kind), "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["id", *(f"{x:.1f}" for x in grid)])
                for e in rows:
                    eps = entry_excitations(e).spectrum(kind, grid)
                    w.writerow([e.info["id"], *(f"{v:.6g}" for v in eps)])
            counts[f"{part}/{_spectra_file(kind)}"] = len(rows)
    return counts


@dataclass
class TDDFTDataset:
    """Our released TD-DFT dataset in memory.

    Attributes
    ----------
    entries : list of ase.Atoms
        Every frame, ``info`` as described in the module docstring.
    spectra : dict of str to (list of str, ndarray)
        Per kind, the frame ids and their broadened spectra (n, 500), L mol⁻¹ cm⁻¹.
    wavelength_nm : dict of str to ndarray
        Per kind, the grid of the spectra, nm.

    Examples
    --------
    >>> ds = load_tddft_dataset()
    >>> X, Y, frames = ds.training_set("absorption", ds.select(set="design-region", dot="Cd6Se6"))
    >>> X.shape[1], Y.shape[1], len(frames) == len(X) > 0
    (900, 500, True)
    """

    entries: list[Atoms]
    spectra: dict[str, tuple[list[str], NDArray[np.float64]]]
    wavelength_nm: dict[str, NDArray[np.float64]]

    def __repr__(self) -> str:
        counts = {k: len(v[0]) for k, v in self.spectra.items()}
        return f"TDDFTDataset({len(self.entries)} geometries; spectra: {counts})"

    def select(self, **labels) -> list[Atoms]:
        """Frames whose ``info`` matches every ``labels`` item."""
        return [e for e in self.entries if all(e.info.get(k) == v for k, v in labels.items())]

    @functools.cached_property
    def _by_id(self) -> dict[str, Atoms]:
        """Frames by key: their ``id``, and the ``store_key`` they were asked under where that differs."""
        out = {e.info["id"]: e for e in self.entries}
        out.update({e.info["store_key"]: e for e in self.entries if "store_key" in e.info})
        return out

    def get(self, atoms: Atoms, settings: TDDFTSettings | None = None) -> Excitations | None:
        """The excitations of ``atoms`` at ``settings`` (default: the paper's) if a frame holds them, else None.

        The lookup of :meth:`qdlib.store.ResultStore.get` (same key), so code that reads
        results takes the released dataset and a results store alike.
        """
        entry = self._by_id.get(result_key(atoms, settings or TDDFTSettings()))
        return None if entry is None else entry_excitations(entry)

    def get_by_key(self, key: str) -> Excitations | None:
        """The excitations stored under a results-store key (:meth:`qdlib.store.ResultStore.get_by_key`), or None."""
        entry = self._by_id.get(key)
        return None if entry is None else entry_excitations(entry)

    def training_set(self, kind: str, entries: Iterable[Atoms] | None = None):
        """Coulomb matrices and spectra of the frames of ``kind`` (all, or ``entries``).

        Frames whose excited states did not all converge (``td_converged``) stay in the
        dataset as a record but are left out here: their spectra are not labels.

        Returns
        -------
        X : ndarray, shape (n, 900)
            Padded Coulomb matrices in the authors' layout (:class:`~qdlib.features.CoulombMatrix`).
        Y : ndarray, shape (n, 500)
            Spectra, L mol⁻¹ cm⁻¹.
        frames : list of ase.Atoms
        """
        from .features import CoulombMatrix

        ids, Y = self.spectra[kind]
        row = {i: k for k, i in enumerate(ids)}
        frames = [e for e in (self.entries if entries is None else entries)
                  if e.info["id"] in row and np.all(e.info["td_converged"])]  # fmt: skip
        X = CoulombMatrix().create(frames)
        return X, Y[[row[e.info["id"]] for e in frames]], frames


def load_tddft_dataset(directory: str | Path | None = None, verify: bool = True,
                       parts: Sequence[str] | None = None) -> TDDFTDataset:
    """Read the released dataset (``data/tddft`` by default, hash-checked against the registry).

    Parameters
    ----------
    directory : path, optional
        A dataset of one's own (:func:`write_tddft_dataset`'s folder); not hash-checked.
    verify : bool
        Check the released files against ``data/registry.txt``.
    parts : sequence of str, optional
        Read only these parts (:func:`part_of`); default every part present.

    Raises
    ------
    qdlib.datasets.DataFileError
        If a file is missing, differs from the registry, or the files disagree with each other.

    Examples
    --------
    >>> ds = load_tddft_dataset()
    >>> ds.wavelength_nm["absorption"].size, ds.wavelength_nm["emission"].size
    (500, 500)
    >>> {e.info["set"] for e in load_tddft_dataset(parts=["campaign"]).entries} <= {"campaign", "reference"}
    True

    :func:`write_tddft_dataset` reads a dataset of one's own from its folder.
    """
    from .datasets import DataFileError
    from .paths import data_dir
    from .release import read_registry, verified_path

    if directory is not None:
        root = Path(directory)
        found = sorted(p.parent.name for p in root.glob(f"*/{_STRUCTURES}"))
        path = lambda name: root / name  # noqa: E731
    else:
        found = sorted({k.split("/")[1] for k in read_registry() if k.startswith(f"{RELEASE_DIR}/") and k.count("/") == 2})
        if verify:
            path = lambda name: verified_path(f"{RELEASE_DIR}/{name}")  # noqa: E731
        else:
            path = lambda name: data_dir() / RELEASE_DIR / name  # noqa: E731
    wanted = found if parts is None else [p for p in parts if p in found]
    if parts is not None and len(wanted) < len(parts):
        raise DataFileError(f"no part {sorted(set(parts) - set(found))} in the dataset (parts: {found})")
    entries, spectra, grids = [], {}, {}
    for part in wanted:
        e, s, g = _read_part(lambda name, part=part: path(f"{part}/{name}"))
        entries += e
        for kind in s:
            if kind in grids and not np.array_equal(grids[kind], g[kind]):
                raise DataFileError(f"{part}/{_spectra_file(kind)} is on another wavelength grid than the other parts")
            ids, Y = spectra.get(kind, ([], np.empty((0, g[kind].size))))
            spectra[kind], grids[kind] = (ids + s[kind][0], np.vstack([Y, s[kind][1]])), g[kind]
    return TDDFTDataset(entries, spectra, grids)


def _read_part(path):
    from ase.io import read

    from .datasets import DataFileError

    structures = path(_STRUCTURES)
    try:
        entries = read(structures, index=":", format="extxyz")
    except Exception as exc:
        raise DataFileError(f"cannot read {structures}: {exc}") from exc
    by_id = {e.info["id"]: e for e in entries}
    spectra, grids = {}, {}
    for kind in ("absorption", "emission"):
        with open(path(_spectra_file(kind)), newline="") as fh:
            rows = list(csv.reader(fh))
        grid = np.array(rows[0][1:], dtype=float)
        ids = [r[0] for r in rows[1:]]
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise DataFileError(f"{_spectra_file(kind)} has spectra of {len(unknown)} id(s) not in {_STRUCTURES}")
        Y = np.array([r[1:] for r in rows[1:]], dtype=float).reshape(len(ids), grid.size)
        spectra[kind], grids[kind] = (ids, Y), grid
    return entries, spectra, grids

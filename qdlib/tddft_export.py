"""From the results stores to the released TD-DFT dataset: frames collected, files written.

:func:`collect_entries` reads every result of the dataset's stores (:data:`DATASET_STORES`) as
frames (:func:`entries_from_store`), one per calculation, marking random structures that relaxed to
an earlier one's minimum; :func:`write_tddft_dataset` writes them, one folder per part, as
``structures.extxyz`` and the broadened spectra as CSV. :func:`stored_authors_groups` says which of
the authors' structures a store already holds at the paper settings.

>>> collect_entries("an-empty-folder")
[]
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from ase import Atoms

from .qchem import TDDFTSettings, result_key
from .spectra import wavelength_grid
from .store import ResultStore
from .tddft_frames import _STRUCTURES, ROLES, _spectra_file, entry_excitations, make_entry, part_of, role_of

__all__ = ["DATASET_STORES", "collect_entries", "entries_from_store", "stored_authors_groups", "write_tddft_dataset"]

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
    >>> exc = Excitations.from_sticks([2.5, 3.1], [0.02, 0.1], e_tot_hartree=-100.0)
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
    >>> exc = Excitations.from_sticks([2.5, 3.1], [0.02, 0.1], e_tot_hartree=-100.0)
    >>> from qdlib.tddft_data import load_tddft_dataset
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

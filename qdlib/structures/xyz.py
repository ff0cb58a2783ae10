"""Structure files: xyz and extended xyz through :mod:`ase.io`, validated on reading.

:func:`read` keeps a plain xyz file's comment line as text (``info["comment"]``) and checks every
frame (:func:`~qdlib.structures.validate`); :func:`write` writes extended xyz, ``atoms.info`` kept
as per-frame metadata.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from ase import Atoms

from .checks import StructureError, validate

__all__ = ["read", "write"]


def read(path: str | os.PathLike, index: int | str | None = None, **validate_kwargs) -> Atoms | list[Atoms]:
    """Read and validate structures from an xyz/extxyz (or any ASE-readable) file.

    Parameters
    ----------
    path : path-like
    index : int, str or None
        ASE index: ``None`` for the last frame, ``":"`` for all frames.
    **validate_kwargs
        Passed to :func:`validate`.

    Raises
    ------
    StructureError
        If the file is missing or cannot be parsed, or a structure is invalid.

    Examples
    --------
    >>> from ase import Atoms
    >>> write("dimer.xyz", Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]]))
    >>> atoms = read("dimer.xyz")
    >>> atoms.get_chemical_formula(), atoms.positions[1].tolist()
    ('CdSe', [0.0, 0.0, 2.6])
    >>> read("missing.xyz")
    Traceback (most recent call last):
        ...
    qdlib.structures.StructureError: no such structure file: missing.xyz
    """
    import ase.io

    path = os.fspath(path)
    if not os.path.exists(path):
        raise StructureError(f"no such structure file: {path}")
    try:
        comments = _plain_xyz_comments(path)
        result = ase.io.read(path, index=index, format="xyz" if comments is not None else None)
        if comments is not None:  # a plain xyz comment is text, not extxyz key=value pairs
            from ase.io.formats import string2index

            chosen = comments[string2index(index) if isinstance(index, str) else -1 if index is None else index]
            frames = result if isinstance(result, list) else [result]
            for atoms, text in zip(frames, chosen if isinstance(chosen, list) else [chosen]):
                atoms.info = {"comment": text} if text else {}
    except KeyError as exc:  # ASE's lookup of an element symbol
        raise StructureError(f"cannot parse {path}: unknown element symbol {exc}") from exc
    except Exception as exc:  # ASE raises many types for malformed input
        raise StructureError(f"cannot parse {path}: {type(exc).__name__}: {exc}") from exc
    frames = result if isinstance(result, list) else [result]
    if not frames:
        raise StructureError(f"{path} holds no structure")
    for k, atoms in enumerate(frames):
        try:
            validate(atoms, **validate_kwargs)
        except StructureError as exc:
            raise StructureError(f"{path} frame {k}: {exc}") from None
    return result


def _plain_xyz_comments(path: str) -> list[str] | None:
    """The comment line of every frame of a plain xyz file; ``None`` if the file is extended xyz (or not xyz).

    A comment is extended xyz when it holds ``Properties=`` or ``Lattice=``, or consists of
    ``key=value`` pairs only; anything else (free text, as plain xyz files carry) is plain.
    """
    if not path.lower().endswith(".xyz"):
        return None
    with open(path) as fh:
        lines = fh.read().splitlines()
    comments, i = [], 0
    while i < len(lines) and lines[i].strip():
        try:
            n = int(lines[i].split()[0])
        except ValueError:
            return None  # not xyz as we know it: let ASE say what is wrong
        comments.append(lines[i + 1].strip() if i + 1 < len(lines) else "")
        i += n + 2
    extended = [("Properties=" in c or "Lattice=" in c or (c and all("=" in tok for tok in c.split()))) for c in comments]
    return None if any(extended) else comments


def write(path: str | os.PathLike, atoms: Atoms | Sequence[Atoms], **kwargs) -> None:
    """Write structures as extended xyz (``atoms.info`` kept as per-frame metadata).

    >>> from ase import Atoms
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]], info={"name": "dimer"})
    >>> write("dimer.extxyz", [dimer, dimer])
    >>> [a.info["name"] for a in read("dimer.extxyz", index=":")]
    ['dimer', 'dimer']
    """
    import ase.io

    ase.io.write(os.fspath(path), atoms, format="extxyz", **kwargs)

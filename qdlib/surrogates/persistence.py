"""Loading saved surrogates, and the released ones by name (hash-checked)."""

from __future__ import annotations

import json
from pathlib import Path

from .forest import RFSurrogate
from .neural import AESurrogate, DropoutSurrogate, NNSurrogate

_CLASSES = {c.__name__: c for c in (NNSurrogate, DropoutSurrogate, AESurrogate, RFSurrogate)}


def load_surrogate(path: str | Path, device: str = "auto"):
    """Load a surrogate written by ``save(path)``; no pickled code is read.

    Neural surrogates come back on ``device``; forests from a skops file
    that may hold nothing but scikit-learn trees and NumPy arrays.

    >>> model = RFSurrogate(n_estimators=2, random_state=0).fit([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [2.0, 1.0]])
    >>> model.save("models/rf")
    >>> load_surrogate("models/rf")
    RFSurrogate(n_estimators=2, random_state=0)
    >>> load_surrogate("models/none")
    Traceback (most recent call last):
        ...
    FileNotFoundError: no surrogate at models/none (none.json is missing)
    """
    path = Path(path)
    meta_file = path.with_suffix(".json")
    if not meta_file.exists():
        raise FileNotFoundError(f"no surrogate at {path} ({meta_file.name} is missing)")
    meta = json.loads(meta_file.read_text())
    try:
        cls = _CLASSES[meta["class"]]
    except KeyError:
        raise ValueError(f"{meta_file}: unknown surrogate class {meta.get('class')!r}") from None
    return cls._from_meta(meta, path, device)


#: Name of the released design-region surrogates (:mod:`qdlib.forward`): the designers' forward model.
DESIGN_MODEL = "ML-NN-design"


def released_name(kind: str, model: str = "ML-NN") -> str:
    """Stem of a released surrogate under ``data/``, e.g. ``models/absorption_ml-nn``.

    >>> released_name("emission", "ML-RF")
    'models/emission_ml-rf'
    """
    return f"models/{kind}_{model.lower()}"


def load_released(kind: str, model: str = "ML-NN", device: str = "auto"):
    """A surrogate trained by notebook 02's paper profile on all of the authors' data, hash-checked.

    Parameters
    ----------
    kind : {"absorption", "emission"}
    model : {"ML-NN", "ML-dropout", "ML-AE", "ML-RF", "ML-NN-design"}
    device : str

    Examples
    --------
    >>> model = load_released("absorption", device="cpu")
    >>> type(model).__name__, model.n_features_in_, model.n_outputs_
    ('NNSurrogate', 900, 500)
    """
    from ..paths import data_dir
    from ..release import verified_path

    stem = released_name(kind, model)
    meta = json.loads(verified_path(stem + ".json").read_text())
    verified_path(stem + _CLASSES[meta["class"]].state_suffix)
    return load_surrogate(data_dir() / stem, device=device)


def release_surrogate(estimator, kind: str, model: str = "ML-NN") -> list:
    """Save a fitted surrogate as the released ``model`` of ``kind`` and rewrite ``data/registry.txt``.

    What :func:`load_released` then reads: ``data/<released_name(kind, model)>.json`` beside its state
    file (PyTorch state dict or skops forest), their SHA-256 in the registry.

    Parameters
    ----------
    estimator : fitted surrogate
        Trained by notebook 02's paper profile on all of the authors' rows of ``kind``.
    kind : {"absorption", "emission"}
    model : str
        Its name (``"ML-NN"``, ``"ML-RF"``, …).

    Returns
    -------
    list of pathlib.Path
        The files written.

    Examples
    --------
    (``QDLIB_RELEASE_DIR`` points the release at a scratch folder here.)

    >>> import os
    >>> os.environ["QDLIB_RELEASE_DIR"] = "release"
    >>> forest = RFSurrogate(n_estimators=2, random_state=0).fit([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [2.0, 1.0]])
    >>> [path.as_posix() for path in release_surrogate(forest, "absorption", "ML-RF")]
    ['release/models/absorption_ml-rf.json', 'release/models/absorption_ml-rf.skops']
    >>> load_released("absorption", "ML-RF")
    RFSurrogate(n_estimators=2, random_state=0)
    >>> del os.environ["QDLIB_RELEASE_DIR"]
    """
    from ..paths import data_dir
    from ..release import update_registry

    path = data_dir() / released_name(kind, model)
    estimator.save(path)
    update_registry()
    return [path.with_suffix(".json"), path.with_suffix(type(estimator).state_suffix)]

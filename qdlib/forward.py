"""Forward models for design: surrogates that are trustworthy where the agent moves.

The authors trained their surrogate on optimised structures only, then asked it
about dots whose atoms the agent had pushed up to 5 Å away. The design-region
set (:func:`qdlib.generate.design_region_set`, TD-DFT of the benchmark dots with
1–3 atoms displaced inside the 4 Å and 10 Å cuboids) covers that region. This
module trains the released model's recipe on the authors' data together with
the design-region frames and scores forward models on held-out displaced
geometries, with the numbers a designer cares about: spectrum errors, and
whether the model's design loss (the authors' loss against the dot's target)
calls a geometry a success that TD-DFT does not.

The recipe with a small network trained for five epochs (notebook 03 trains and scores the
released design surrogates, with the released ML-NN's hyperparameters, in minutes):

>>> from qdlib.surrogates import NNSurrogate
>>> tiny = NNSurrogate(hidden=(16,), optimizer="adam", learning_rate=1e-3, max_epochs=5, record_every=0)
>>> fit = fit_design_surrogate("absorption", estimator=tiny)
>>> fit.n_authors_rows, fit.n_anchor_rows, fit.design_repeat
(240, 16, 10)
>>> rows = held_out_report({"tiny": fit.model}, fit.test_frames, "absorption")
>>> sorted(rows[0])
['dot', 'false_success', 'loss_mae', 'mae', 'missed_success', 'model', 'n', 'peak_mae_nm', 'rmse', 'tddft_success']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from .design import LOSS_SCALE, DesignConfig, benchmark_target
from .surrogates import DESIGN_MODEL

__all__ = ["DESIGN_MODEL", "DesignSurrogateFit", "case_frames", "design_split", "fit_design_surrogate", "format_report",
           "held_out_report", "release_design_surrogate", "released_split"]  # fmt: skip


def design_split(
    frames: Sequence[Atoms], test_fraction: float = 0.25, seed: int = 0
) -> tuple[list[Atoms], list[Atoms]]:
    """Split design-region frames into train and held-out test, dot by dot.

    Of a dot with ``n ≥ 2`` frames, ``round(test_fraction·n)`` (at least one, at most ``n − 1``),
    drawn at random, are held out; a dot with one frame keeps it for training.

    Returns
    -------
    train, test : list of ase.Atoms

    Examples
    --------
    >>> from ase import Atoms
    >>> frames = [Atoms("CdSe", info={"dot": "Cd4Se4", "k": k}) for k in range(4)]
    >>> frames.append(Atoms("CdSe", info={"dot": "Cd6Se6", "k": 0}))  # a dot with one frame: training only
    >>> train, test = design_split(frames, test_fraction=0.25, seed=0)
    >>> [(f.info["dot"], f.info["k"]) for f in test], len(train)
    ([('Cd4Se4', 2)], 4)
    """
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    dots: dict[str, list[Atoms]] = {}
    for f in frames:
        dots.setdefault(f.info["dot"], []).append(f)
    train, test = [], []
    for dot in sorted(dots):
        group = dots[dot]
        n_test = 0 if len(group) < 2 or test_fraction == 0 else min(len(group) - 1, max(1, round(test_fraction * len(group))))
        order = rng.permutation(len(group))
        test += [group[i] for i in sorted(order[:n_test])]
        train += [group[i] for i in sorted(order[n_test:])]
    return train, test


@dataclass
class DesignSurrogateFit:
    """A forward model trained to cover the design region.

    Attributes
    ----------
    model : fitted surrogate
    kind : {"absorption", "emission"}
    train_frames, test_frames : list of ase.Atoms
        Design-region frames used for training and held out.
    n_authors_rows : int
        Rows of the authors' dataset in the training set.
    n_anchor_rows : int
        Of those, the benchmark dots' own rows (entered ``design_repeat`` times).
    design_repeat : int
        Times each design-region frame was repeated in the training set.
    """

    model: object
    kind: str
    train_frames: list
    test_frames: list
    n_authors_rows: int
    n_anchor_rows: int
    design_repeat: int


def fit_design_surrogate(
    kind: str = "absorption",
    dataset=None,
    test_fraction: float = 0.25,
    design_repeat: int = 10,
    estimator=None,
    seed: int = 0,
) -> DesignSurrogateFit:
    """Train a surrogate on the authors' data plus our design-region frames of ``kind``.

    Parameters
    ----------
    kind : {"absorption", "emission"}
    dataset : qdlib.tddft_data.TDDFTDataset, optional
        Our released TD-DFT dataset (loaded, hash-checked, by default).
    test_fraction : float
        Share of each dot's design-region frames held out (:func:`design_split`).
    design_repeat : int
        Weight of the design region: each design-region frame, and the authors' rows of the
        benchmark dots themselves (the centre of every cuboid, where a design must end),
        enter this many times. A few dozen displaced geometries beside ~240 optimised ones
        would otherwise barely move the fit, and the fit at the true geometries must stay exact.
    estimator : unfitted surrogate, optional
        Default: the released ML-NN's hyperparameters (:func:`sklearn.base.clone` of it).
    seed : int
        Seeds the split and the estimator.

    Returns
    -------
    DesignSurrogateFit

    Examples
    --------
    See the module docstring (a small network, five epochs).
    """
    from sklearn.base import clone

    from .datasets import BENCHMARK_DOTS, fetch_paper_dataset
    from .surrogates import load_released
    from .tddft_data import load_tddft_dataset

    if design_repeat < 1:
        raise ValueError(f"design_repeat must be ≥ 1, got {design_repeat}")
    dataset = dataset if dataset is not None else load_tddft_dataset()
    _, _, frames = dataset.training_set(kind, dataset.select(set="design-region"))
    train, test = design_split(frames, test_fraction, seed)
    paper = fetch_paper_dataset(kind)
    X, Y = [paper.X], [paper.Y]
    anchors = np.isin(paper.row_group, [paper.structure(dot).info["group"] for dot in BENCHMARK_DOTS])
    X += [paper.X[anchors]] * (design_repeat - 1)
    Y += [paper.Y[anchors]] * (design_repeat - 1)
    if train:
        Xd, Yd, _ = dataset.training_set(kind, train)
        X += [Xd] * design_repeat
        Y += [Yd] * design_repeat
    model = clone(estimator if estimator is not None else load_released(kind)).set_params(random_state=seed)
    model.fit(np.concatenate(X), np.concatenate(Y))
    return DesignSurrogateFit(model, kind, train, test, len(paper.X), int(anchors.sum()), design_repeat)


def held_out_report(
    models: Mapping[str, object],
    frames: Sequence[Atoms],
    kind: str,
    dataset=None,
    termination_loss: float = DesignConfig.termination_loss,
) -> list[dict]:
    """Score forward models on displaced geometries whose TD-DFT spectra are known.

    Parameters
    ----------
    models : mapping of name to fitted surrogate
    frames : sequence of ase.Atoms
        Design-region frames of our dataset (not used in training).
    kind : {"absorption", "emission"}
    dataset : TDDFTDataset, optional
    termination_loss : float
        The design success threshold on the authors' loss.

    Returns
    -------
    list of dict
        One row per dot and model: ``dot``, ``model``, ``n``, ``rmse``, ``mae``
        (L mol⁻¹ cm⁻¹), ``peak_mae_nm``, ``loss_mae`` (|model − TD-DFT| of the design
        loss against the dot's target), ``tddft_success`` (frames TD-DFT puts below the
        threshold), ``false_success`` (model below, TD-DFT not) and ``missed_success``.
    """
    from .spectra import authors_loss, mae, peak_wavelength, rmse, wavelength_grid
    from .tddft_data import load_tddft_dataset

    dataset = dataset if dataset is not None else load_tddft_dataset()
    grid = wavelength_grid(kind)
    rows = []
    for dot in sorted({f.info["dot"] for f in frames}):
        X, Y, mine = dataset.training_set(kind, [f for f in frames if f.info["dot"] == dot])
        target = benchmark_target(dot, kind)[1]
        true_loss = authors_loss(Y, target, LOSS_SCALE[kind])
        for name, model in models.items():
            P = model.predict(X)
            loss = authors_loss(P, target, LOSS_SCALE[kind])
            ok, ok_model = true_loss < termination_loss, loss < termination_loss
            rows.append(dict(
                dot=dot, model=name, n=len(mine),
                rmse=rmse(P, Y, axis=None), mae=mae(P, Y, axis=None),
                peak_mae_nm=float(np.mean(np.abs(peak_wavelength(P, grid) - peak_wavelength(Y, grid)))),
                loss_mae=float(np.mean(np.abs(loss - true_loss))),
                tddft_success=int(ok.sum()), false_success=int((ok_model & ~ok).sum()),
                missed_success=int((ok & ~ok_model).sum()),
            ))  # fmt: skip
    return rows


def case_frames(frames: Sequence[Atoms], dot: str, n_movable: int, edge_angstrom: float) -> list[Atoms]:
    """The design-region frames of one case: ``dot`` with ``n_movable`` atoms displaced in the ``edge_angstrom`` cuboid.

    >>> from ase import Atoms
    >>> cases = [(1, 4.0), (2, 4.0), (1, 10.0)]
    >>> frames = [Atoms("CdSe", info={"dot": "Cd6Se6", "n_movable": n, "edge_angstrom": e}) for n, e in cases]
    >>> [(f.info["n_movable"], f.info["edge_angstrom"]) for f in case_frames(frames, "Cd6Se6", 1, 4.0)]
    [(1, 4.0)]
    """
    return [f for f in frames if f.info["dot"] == dot and int(f.info["n_movable"]) == n_movable
            and float(f.info["edge_angstrom"]) == edge_angstrom]  # fmt: skip


def format_report(rows: Sequence[dict]) -> str:
    """A fixed-width text table of :func:`held_out_report` rows.

    >>> row = dict(dot="Cd6Se6", model="ML-NN", n=2, rmse=812.4, mae=403.2, peak_mae_nm=3.25, loss_mae=0.0512,
    ...            tddft_success=1, false_success=0, missed_success=1)
    >>> print(format_report([row]))
    dot        model          n    RMSE     MAE  peak nm  |Δloss|  TD ok false ok missed
    ------------------------------------------------------------------------------------
    Cd6Se6     ML-NN          2     812     403      3.2    0.051      1        0      1
    """
    head = f"{'dot':<10} {'model':<12} {'n':>3} {'RMSE':>7} {'MAE':>7} {'peak nm':>8} {'|Δloss|':>8} {'TD ok':>6} {'false ok':>8} {'missed':>6}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['dot']:<10} {r['model']:<12} {r['n']:>3} {r['rmse']:>7.0f} {r['mae']:>7.0f} {r['peak_mae_nm']:>8.1f} "
                     f"{r['loss_mae']:>8.3f} {r['tddft_success']:>6} {r['false_success']:>8} {r['missed_success']:>6}")  # fmt: skip
    return "\n".join(lines)


def _split_file(kind: str) -> str:
    from .surrogates import released_name

    return released_name(kind, DESIGN_MODEL) + ".split.json"


def release_design_surrogate(fit: DesignSurrogateFit, dataset=None) -> list[dict]:
    """Save ``fit.model`` as the released design surrogate of its kind, with its split and held-out scores.

    Writes ``data/models/<kind>_ml-nn-design.{json,pt}`` and ``….split.json`` (the ids of the
    training and held-out design-region frames, the training mix, and the held-out report of the
    released ML-NN and this model). Run :func:`qdlib.release.update_registry` afterwards.

    Returns
    -------
    list of dict
        The held-out report (:func:`held_out_report`).

    Notes
    -----
    Writes into the repository's ``data/``, so it has no docstring example: notebook
    ``03_ddpg_training`` (and ``qdlib design-surrogate``) call it.
    """
    import json

    from .paths import data_dir
    from .surrogates import load_released, released_name

    fit.model.save(data_dir() / released_name(fit.kind, DESIGN_MODEL))
    rows = held_out_report({"ML-NN": load_released(fit.kind), DESIGN_MODEL: fit.model}, fit.test_frames, fit.kind, dataset)
    split = {
        "train_ids": [f.info["id"] for f in fit.train_frames],
        "test_ids": [f.info["id"] for f in fit.test_frames],
        "n_authors_rows": fit.n_authors_rows, "n_anchor_rows": fit.n_anchor_rows, "design_repeat": fit.design_repeat,
        "held_out_report": rows,
    }  # fmt: skip
    (data_dir() / _split_file(fit.kind)).write_text(json.dumps(split, indent=1))
    return rows


def released_split(kind: str, dataset=None) -> tuple[list[Atoms], list[Atoms], dict]:
    """The design-region frames the released design surrogate was trained on and those held out.

    Returns
    -------
    train, test : list of ase.Atoms
        Frames of our released dataset (hash-checked).
    meta : dict
        The split file (training mix, the held-out report as saved).

    Examples
    --------
    >>> train, test, meta = released_split("absorption")
    >>> len(train) > 0 and len(test) > 0, meta["design_repeat"], meta["n_authors_rows"]
    (True, 10, 240)
    """
    import json

    from .datasets import DataFileError
    from .release import verified_path
    from .tddft_data import load_tddft_dataset

    meta = json.loads(verified_path(_split_file(kind)).read_text())
    dataset = dataset if dataset is not None else load_tddft_dataset()
    by_id = {e.info["id"]: e for e in dataset.entries}
    missing = [i for i in meta["train_ids"] + meta["test_ids"] if i not in by_id]
    if missing:
        raise DataFileError(f"{len(missing)} design-region frame(s) of the {kind} design surrogate's split are not in the dataset")
    return [by_id[i] for i in meta["train_ids"]], [by_id[i] for i in meta["test_ids"]], meta

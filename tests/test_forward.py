"""Forward models for design: the design-region split, the training mix, the held-out report."""

import numpy as np
import pytest
from ase import Atoms

from qdlib.forward import case_frames, design_split, fit_design_surrogate, held_out_report
from qdlib.tddft_data import load_tddft_dataset


def _frame(dot, edge, n, k):
    a = Atoms("Cd", positions=[[0, 0, k]])
    a.info.update(dot=dot, edge_angstrom=edge, n_movable=n, id=f"{dot}-{edge}-{n}-{k}")
    return a


def test_design_split_holds_out_per_dot_and_keeps_one_for_training():
    frames = [_frame(d, e, n, k) for d in ("Cd6Se6", "Cd4Se4") for e in (4.0, 10.0) for n in (1, 2) for k in range(5)]
    frames += [_frame("Cd5Te5", 4.0, 1, 0)]  # a dot with one frame keeps it for training
    frames += [_frame("Cd5Se1Te4", 4.0, 1, k) for k in range(2)]  # two frames: one held out
    train, test = design_split(frames, test_fraction=0.4, seed=3)
    ids = lambda fs: [f.info["id"] for f in fs]  # noqa: E731
    assert not set(ids(train)) & set(ids(test))
    assert sorted(ids(train) + ids(test)) == sorted(ids(frames))
    count = lambda fs, dot: sum(f.info["dot"] == dot for f in fs)  # noqa: E731
    assert [count(test, d) for d in ("Cd6Se6", "Cd4Se4", "Cd5Te5", "Cd5Se1Te4")] == [8, 8, 0, 1]
    assert ids(design_split(frames, 0.4, seed=3)[1]) == ids(test)
    assert ids(design_split(frames, 0.4, seed=4)[1]) != ids(test)
    with pytest.raises(ValueError, match="test_fraction"):
        design_split(frames, 1.0)


class _Recorder:
    """An estimator that remembers what it was fitted on and predicts zeros."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def get_params(self, deep=True):
        return {"random_state": self.random_state}

    def set_params(self, **p):
        self.__dict__.update(p)
        return self

    def fit(self, X, y):
        self.X_, self.y_ = X, y
        return self

    def predict(self, X):
        return np.zeros((len(X), 500))


def test_fit_mixes_authors_rows_with_repeated_design_frames():
    ds = load_tddft_dataset()
    fit = fit_design_surrogate("absorption", ds, test_fraction=0.0, design_repeat=3, estimator=_Recorder())
    design = ds.select(set="design-region")
    n_design = sum(bool(np.all(f.info["td_converged"])) for f in design)  # unconverged frames are no labels
    assert n_design >= 1 and len(fit.train_frames) == n_design and not fit.test_frames
    assert all(np.all(f.info["td_converged"]) for f in fit.train_frames)
    assert fit.n_anchor_rows >= 4  # the four benchmark dots, with their permutation twins
    assert len(fit.model.X_) == fit.n_authors_rows + 2 * fit.n_anchor_rows + 3 * n_design
    Xd, Yd, _ = ds.training_set("absorption", fit.train_frames)
    np.testing.assert_array_equal(fit.model.X_[-len(Xd):], Xd)
    np.testing.assert_array_equal(fit.model.y_[-len(Yd):], Yd)


class _Oracle:
    """Predicts the stored TD-DFT spectrum of each frame (looked up by its Coulomb matrix)."""

    def __init__(self, X, Y):
        self.table = {x.tobytes(): y for x, y in zip(X, Y)}

    def predict(self, X):
        return np.array([self.table[x.tobytes()] for x in X])


class _Target:
    """Predicts the design target for every geometry (the flattest possible landscape)."""

    def __init__(self, target):
        self.target = target

    def predict(self, X):
        return np.tile(self.target, (len(X), 1))


def test_held_out_report_scores_an_oracle_perfect_and_a_flat_model_as_false_successes():
    from qdlib.design import benchmark_target

    ds = load_tddft_dataset()
    frames = ds.select(set="design-region", dot="Cd6Se6")
    X, Y, labelled = ds.training_set("absorption", frames)
    target = benchmark_target("Cd6Se6", "absorption")[1]
    rows = held_out_report({"oracle": _Oracle(X, Y), "flat": _Target(target)}, frames, "absorption", ds)
    oracle, flat = rows
    assert oracle["model"] == "oracle" and oracle["n"] == len(labelled) == sum(bool(np.all(f.info["td_converged"])) for f in frames)
    assert oracle["rmse"] == 0 and oracle["loss_mae"] == 0 and oracle["false_success"] == oracle["missed_success"] == 0
    assert flat["false_success"] == len(labelled) - flat["tddft_success"]
    assert flat["rmse"] > 100


def test_case_frames_select_one_dot_cuboid_and_number_of_atoms():
    frames = [_frame(d, e, n, k) for d in ("Cd6Se6", "Cd4Se4") for e in (4.0, 10.0) for n in (1, 2) for k in range(2)]
    picked = case_frames(frames, "Cd6Se6", 1, 4.0)
    assert [f.info["id"] for f in picked] == ["Cd6Se6-4.0-1-0", "Cd6Se6-4.0-1-1"]
    assert case_frames(frames, "Cd5Te5", 1, 4.0) == []

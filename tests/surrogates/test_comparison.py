"""The paper's comparison of surrogates: the model factories and what Fig. 3's panels are drawn from."""

from types import SimpleNamespace

import numpy as np
import pytest
from ase import Atoms

from qdlib import surrogates
from qdlib.surrogates import (
    AESurrogate,
    DropoutSurrogate,
    NNSurrogate,
    RFSurrogate,
    benchmark_fits,
    fold_staged_errors,
    held_out_predictions,
    load_released,
    paper_models,
    release_surrogate,
)


def test_paper_models_give_fresh_seeded_estimators_with_the_settings():
    neural = {"max_epochs": 7, "batch_size": 16, "optimizer": "adam", "learning_rate": 1e-3, "patience": 3}
    models = paper_models(
        **neural, record_every=2, pretrain_epochs=4, rf_trees=9, rf_max_features=0.3, seed=5, device="cpu"
    )
    assert list(models) == [*surrogates.PAPER_MODELS, "mean spectrum"]
    kinds = {"ML-NN": NNSurrogate, "ML-dropout": DropoutSurrogate, "ML-AE": AESurrogate, "ML-RF": RFSurrogate}
    for name, cls in kinds.items():
        est = models[name](2)
        assert type(est) is cls and est.random_state == 7 and est is not models[name](2)
    nn = models["ML-NN"](0).get_params()
    settings = (nn["max_epochs"], nn["batch_size"], nn["optimizer"], nn["learning_rate"], nn["patience"])
    assert settings == (7, 16, "adam", 1e-3, 3)
    assert nn["record_every"] == 2 and nn["device"] == "cpu" and nn["dropout"] == 0.0
    assert models["ML-dropout"](0).dropout == 0.3 and models["ML-AE"](0).pretrain_epochs == 4
    assert models["ML-RF"](0).get_params()["max_features"] == 0.3 and models["ML-RF"](0).n_estimators == 9
    baseline = models["mean spectrum"](0).fit(np.zeros((2, 3)), [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(baseline.predict(np.zeros((1, 3))), [[2.0, 3.0]])


def test_fold_staged_errors_score_the_forest_on_its_test_rows_only():
    rng = np.random.default_rng(0)
    X, Y = rng.uniform(size=(30, 6)), rng.uniform(size=(30, 4))
    test = np.arange(20, 30)
    forest = RFSurrogate(n_estimators=10, random_state=0).fit(X[:20], Y[:20])
    staged = fold_staged_errors({"estimator": forest, "test_index": test}, X, Y, 10)
    assert staged["n_trees"] == [1, 2, 3, 4, 6, 7, 8, 10]  # np.linspace(1, 10, 8), truncated
    assert staged == forest.staged_errors(X[test], Y[test], staged["n_trees"])


def test_held_out_predictions_pool_the_folds_and_pick_one_row_per_structure():
    grid = np.array([400.0, 500.0, 600.0])
    Y = np.array([[3, 1, 0], [3, 1, 0], [0, 1, 3], [0, 3, 0]], dtype=float)  # rows 0, 1: twins of structure 0
    ds = SimpleNamespace(Y=Y, row_group=np.array([0, 0, 1, 2]), wavelength_nm=grid,
                         structures=[Atoms("Cd", info={"composition": f"s{g}"}) for g in range(3)])  # fmt: skip
    folds = [{"test_index": np.array([2, 0]), "prediction": np.array([[0, 3, 0], [3, 1, 0.0]])},
             {"test_index": np.array([1, 3]), "prediction": np.array([[0, 3, 0], [0, 3, 0.0]])}]  # fmt: skip
    out = held_out_predictions(folds, ds, n_examples=2)
    np.testing.assert_array_equal(out["index"], [2, 0, 1, 3])
    np.testing.assert_array_equal(out["true_peak_nm"], [600, 400, 400, 500])
    np.testing.assert_array_equal(out["predicted_peak_nm"], [500, 400, 500, 500])
    assert out["peak_mae_nm"] == pytest.approx(50.0)
    assert out["labels"] == ["s1", "s0"]  # the first two structures met, one row each
    np.testing.assert_array_equal(out["true"], Y[[2, 0]])
    np.testing.assert_array_equal(out["predicted"], folds[0]["prediction"])


def test_benchmark_fits_skip_absent_dots_and_predict_from_the_first_row():
    class Echo:  # "predicts" the first feature of its input
        def predict(self, x):
            return np.asarray(x)[:, :1] * np.ones((1, 2))

    structures = {"Cd6Se6": 1, "Cd4Se4": 0}

    def structure(dot):
        if dot not in structures:
            raise KeyError(dot)
        return Atoms("Cd", info={"group": structures[dot]})

    ds = SimpleNamespace(structure=structure, X=np.array([[5.0], [7.0], [8.0]]), row_group=np.array([0, 1, 1]),
                         spectra=np.array([[1.0, 2.0], [3.0, 4.0]]))  # fmt: skip
    fits = benchmark_fits(ds, {"echo": Echo()})
    assert list(fits) == ["Cd4Se4", "Cd6Se6"]  # in the order of BENCHMARK_DOTS
    np.testing.assert_array_equal(fits["Cd6Se6"]["tddft"], [3.0, 4.0])
    np.testing.assert_array_equal(fits["Cd6Se6"]["echo"], [7.0, 7.0])


def test_release_surrogate_writes_what_load_released_reads(tmp_path, monkeypatch):
    monkeypatch.setenv("QDLIB_RELEASE_DIR", str(tmp_path))
    X, Y = np.eye(4), np.arange(8.0).reshape(4, 2)
    forest = RFSurrogate(n_estimators=3, random_state=0).fit(X, Y)
    written = release_surrogate(forest, "emission", "ML-RF")
    assert [p.name for p in written] == ["emission_ml-rf.json", "emission_ml-rf.skops"]
    registry = (tmp_path / "registry.txt").read_text()
    assert "models/emission_ml-rf.json" in registry and "models/emission_ml-rf.skops" in registry
    np.testing.assert_array_equal(load_released("emission", "ML-RF").predict(X), forest.predict(X))

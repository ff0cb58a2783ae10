"""Figure files: written where asked and byte-reproducible."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from qdlib import plotting  # noqa: E402


def _draw():
    fig, ax = plt.subplots()
    grid = np.linspace(200, 600, 50)
    plotting.plot_spectrum(grid, np.exp(-((grid - 400) / 30) ** 2), ax=ax, label="a")
    ax.imshow(np.arange(16.0).reshape(4, 4), extent=(200, 300, 0, 0.5))  # an embedded image and its clip path
    return fig


def test_saving_the_same_figure_twice_writes_identical_files(tmp_path, monkeypatch):
    monkeypatch.setenv("QDLIB_FIGURES_DIR", str(tmp_path))
    written = []
    for _ in range(2):
        fig = _draw()
        paths = plotting.save_figure(fig, "twice")
        plt.close(fig)
        written.append({p.suffix: (tmp_path / p.name).read_bytes() for p in paths})
    assert set(written[0]) == {".png", ".svg"}
    assert written[0] == written[1]
    assert b"<dc:date>" not in written[0][".svg"]


def test_inside_a_kernel_the_written_png_is_displayed_and_the_figure_closed(tmp_path, monkeypatch):
    monkeypatch.setenv("QDLIB_FIGURES_DIR", str(tmp_path))
    shown = []
    monkeypatch.setattr(plotting.core, "_in_kernel", lambda: True)
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    fig = _draw()
    plotting.save_figure(fig, "inline")
    assert len(shown) == 1 and shown[0].data == (tmp_path / "inline.png").read_bytes()
    assert not plt.fignum_exists(fig.number)
    fig = _draw()
    monkeypatch.setattr(plotting.core, "_in_kernel", lambda: False)  # a script: nothing displayed, the figure is the caller's
    plotting.save_figure(fig, "script")
    assert len(shown) == 1 and plt.fignum_exists(fig.number)
    plt.close(fig)


def test_every_figure_a_notebook_writes_is_shown_in_it():
    """The committed notebooks display each figure they write (a PNG output in the cell that wrote it)."""
    import json
    import re

    from qdlib.paths import notebooks_dir

    seen = []
    for path in sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code" or "save_figure(" not in "".join(cell["source"]):
                continue
            outputs = cell.get("outputs", [])
            text = "".join("".join(o.get("text", "")) for o in outputs)
            written = re.findall(r"figures/(\S+)\.png", text)
            images = sum("image/png" in o.get("data", {}) for o in outputs)
            assert images >= len(written), f"{path.name}: {written} written, {images} shown"
            seen.extend(written)
    assert len(seen) >= 14  # the gallery's figures, each shown where it is written


def test_figure_functions_draw_into_the_axes_given():
    """Notebooks 02 and 03 lay out their figures and hand the axes over: nothing else is created."""
    from types import SimpleNamespace

    from qdlib.design import LossPlane

    grid = np.linspace(300.0, 700.0, 5)
    folds = {m: {p: [{"rmse": 2.0, "mae": 1.0}] * 3 for p in ("row", "group")} for m in ("ML-NN", "ML-RF")}
    held_out = {"true_peak_nm": grid[:2], "predicted_peak_nm": grid[1:3], "peak_mae_nm": 100.0, "wavelength_nm": grid,
                "true": np.ones((2, 5)), "predicted": np.ones((2, 5)), "labels": ["a", "b"]}  # fmt: skip
    curve = {"episode": [1, 2], "mean_return": [-2.0, -1.0]}
    history = {"curve": curve, "evaluations": [{"episodes": 2, "success_rate": 0.5}]}
    outcome = SimpleNamespace(n_movable=1, fixed_positions=np.zeros((3, 3)), true_positions=np.ones((1, 3)),
                              designs=np.ones((2, 1, 3)), success_rate=0.5, mean_success_distance_angstrom=0.5,
                              within_1A=1.0, target=np.ones(5), median_spectrum=np.ones(5), median_index=0,
                              loss=np.array([0.1, 0.2]), largest_distance_angstrom=np.array([0.5, 3.0]),
                              success=np.array([True, False]))  # fmt: skip
    plane = LossPlane(np.linspace(-1, 1, 3), np.full((3, 3), 0.5), 0.122)
    learning = {"ML-NN": {"epoch": [0], "train_rmse": [1.0], "test_rmse": [1.0]}}
    staged = {"n_trees": [1], "rmse": [1.0], "mae": [1.0]}
    layouts = [
        ((2, 3), lambda axes: plotting.plot_fig3(folds, learning, staged, held_out, "emission", axes)),
        ((2, 3), lambda axes: plotting.plot_fig5({1: history}, {1: outcome}, grid, "absorption", 4.0, axes)),
        ((2, 1), lambda axes: plotting.plot_fig5c({1: outcome}, grid, "emission", axes)),
        ((1, 2), lambda axes: plotting.plot_loss_landscapes({"a": plane, "b": plane}, np.zeros((1, 1, 3)), axes[0])),
    ]  # fmt: skip
    for shape, draw in layouts:
        fig, axes = plt.subplots(*shape, squeeze=False)
        before = plt.get_fignums()
        drawn = draw(axes)
        assert plt.get_fignums() == before and all(ax.figure is fig for ax in np.ravel(drawn))
        plt.close(fig)

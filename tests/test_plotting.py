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

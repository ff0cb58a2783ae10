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

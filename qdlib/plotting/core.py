"""The building blocks: spectra, sticks, structures, saving a figure where the notebooks keep them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from numpy.typing import ArrayLike

__all__ = ["ELEMENT_COLOURS", "plot_spectrum", "plot_sticks", "plot_structure", "save_figure", "show_inline", "view3d"]


ELEMENT_COLOURS = {"Cd": "#d4a373", "Se": "#e9c46a", "Te": "#8d5fd3"}


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5, 3.2))
    return ax


def plot_spectrum(grid_nm: ArrayLike, spectrum: ArrayLike, ax=None, label: str | None = None, **kwargs):
    """A broadened spectrum, ε (L mol⁻¹ cm⁻¹) against wavelength (nm).

    >>> ax = plot_spectrum([390.0, 400.0, 410.0], [8705.0, 13509.0, 9077.0], label="3 bins")
    >>> len(ax.lines), ax.lines[0].get_label()
    (1, '3 bins')
    """
    ax = _axes(ax)
    ax.plot(grid_nm, spectrum, label=label, **kwargs)
    ax.set_xlabel("wavelength (nm)")
    ax.set_ylabel(r"$\varepsilon$ (L mol$^{-1}$ cm$^{-1}$)")
    return ax


def plot_sticks(wavelengths_nm: ArrayLike, osc_strengths: ArrayLike, ax=None, label: str | None = None, color="k"):
    """Oscillator-strength sticks on a secondary axis (dimensionless f).

    >>> twin = plot_sticks([400.0, 350.0], [0.1, 0.05])
    >>> twin.get_ylabel(), round(float(twin.get_ylim()[1]), 3)  # 15 % above the strongest stick
    ('oscillator strength', 0.115)
    """
    ax = _axes(ax)
    twin = ax.twinx()
    twin.vlines(wavelengths_nm, 0.0, osc_strengths, colors=color, lw=1.5, label=label)
    twin.set_ylim(0.0, 1.15 * max(float(np.max(osc_strengths)), 1e-6))
    twin.set_ylabel("oscillator strength")
    return twin


def view3d(atoms: Atoms, highlight: Sequence[int] = (), width: int = 400, height: int = 300):
    """An interactive py3Dmol view of a dot, ``highlight``-ed atoms drawn larger.

    >>> from ase import Atoms
    >>> view = view3d(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]]), highlight=[1])
    >>> type(view).__module__
    'py3Dmol'
    """
    from io import StringIO

    import ase.io
    import py3Dmol

    buf = StringIO()
    ase.io.write(buf, atoms, format="xyz")
    view = py3Dmol.view(width=width, height=height)
    view.addModel(buf.getvalue(), "xyz")
    view.setStyle({"stick": {"radius": 0.15}, "sphere": {"scale": 0.3}})
    for i in highlight:
        view.setStyle({"serial": int(i)}, {"sphere": {"scale": 0.5, "color": "red"}, "stick": {"radius": 0.15}})
    view.zoomTo()
    return view


def plot_structure(atoms: Atoms, ax=None, title: str | None = None, rotation: str = "10x,20y,0z"):
    """A static ball rendering of a dot (ASE's matplotlib renderer) in :data:`ELEMENT_COLOURS`, with a legend.

    >>> from ase import Atoms
    >>> ax = plot_structure(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]]), title="CdSe")
    >>> [text.get_text() for text in ax.get_legend().get_texts()]
    ['Se', 'Cd']
    """
    from ase.data import chemical_symbols
    from ase.data.colors import jmol_colors
    from ase.visualize.plot import plot_atoms
    from matplotlib.lines import Line2D

    ax = _axes(ax)
    colour = {z: ELEMENT_COLOURS.get(chemical_symbols[z], jmol_colors[z]) for z in set(atoms.numbers)}
    plot_atoms(atoms, ax, rotation=rotation, radii=0.6, colors=[colour[z] for z in atoms.numbers])
    ax.set_axis_off()
    handles = [Line2D([], [], ls="", marker="o", ms=8, mfc=colour[z], mec="k", label=chemical_symbols[z]) for z in sorted(colour)]
    ax.legend(handles=handles, fontsize=7, loc="upper right", frameon=False)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def save_figure(fig, name: str, formats: Sequence[str] = ("png", "svg"), show: bool = True) -> list:
    """Write ``fig`` to ``figures/<name>.<fmt>`` and return the paths (relative to the repository).

    The files are byte-reproducible: no date in the SVG and its element ids salted by ``name``
    rather than at random, so re-running a notebook changes a figure's file only if its content changed.
    With ``show``, inside a Jupyter kernel, the PNG just written is displayed as the cell's output
    (whatever the matplotlib backend, so a notebook executed headless still shows its figures) and
    the figure is closed.

    Examples
    --------
    (The doctests point ``QDLIB_FIGURES_DIR`` at a scratch folder.)

    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> [path.name for path in save_figure(fig, "example")]
    ['example.png', 'example.svg']
    """
    import matplotlib

    from ..paths import figures_dir, repo_root

    paths = []
    for fmt in formats:
        path = figures_dir() / f"{name}.{fmt}"
        with matplotlib.rc_context({"svg.hashsalt": name}):
            fig.savefig(path, dpi=150, bbox_inches="tight", metadata={"Date": None} if fmt == "svg" else None)
        try:
            paths.append(path.relative_to(repo_root()))
        except ValueError:
            paths.append(path)
    if show and "png" in formats and _in_kernel():
        import matplotlib.pyplot as plt
        from IPython.display import Image, display

        display(Image(filename=str(figures_dir() / f"{name}.png")))
        plt.close(fig)
    return paths


def show_inline(fig) -> None:
    """Show ``fig`` as the cell's PNG output inside a Jupyter kernel (whatever the backend), then close it.

    For figures a notebook shows without writing them to ``figures/`` (:func:`save_figure` does both).
    Outside a kernel the figure is left to the caller.

    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> show_inline(fig)  # outside a kernel: nothing shown, the figure stays open
    >>> plt.fignum_exists(fig.number)
    True
    """
    if not _in_kernel():
        return
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    display(Image(data=buffer.getvalue()))
    plt.close(fig)


def _in_kernel() -> bool:
    """Whether this runs inside a Jupyter kernel (where a displayed image becomes a cell output)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")

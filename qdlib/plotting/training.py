"""Notebook 03's figures: the design-loss landscape, DDPG learning curves and the designs (paper Fig. 5)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike

from .core import _axes

__all__ = ["plot_designed_positions", "plot_fig5", "plot_fig5c", "plot_loss_landscapes", "plot_median_design"]


def plot_loss_landscapes(planes: Mapping, displacements: ArrayLike, axes=None):
    """The design loss of a one-atom task on the plane through the atom's true position, one panel per forward model.

    Per panel: log10 of the loss (colour, −3 to 2), the success threshold (white contour), the
    true position (red cross) and the displaced geometries given (open white circles, x and y of
    the first movable atom); a colour bar beside the panels.

    Parameters
    ----------
    planes : mapping of str to LossPlane
        Per forward model (the panel's title), :meth:`qdlib.design.DesignTask.loss_plane`.
    displacements : array_like, shape (n_frames, n_movable, 3)
        Geometries to mark, relative to the true positions, Å (:meth:`qdlib.design.DesignTask.displacements`).
    axes : sequence of matplotlib axes, optional
        One per plane (default: a row of panels sharing y).

    Returns
    -------
    sequence of matplotlib axes

    Examples
    --------
    >>> import numpy as np
    >>> from qdlib.design import LossPlane
    >>> u = np.linspace(-2.0, 2.0, 5)
    >>> plane = LossPlane(u, 0.05 * (u[None] ** 2 + u[:, None] ** 2) + 0.01, 0.122)
    >>> axes = plot_loss_landscapes({"toy": plane}, np.array([[[0.5, -0.5, 0.0]]]))
    >>> axes[0].get_title(), axes[0].texts[0].get_text()
    ('toy', '36 % of the plane below 0.122')
    """
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, len(planes), figsize=(4.5 * len(planes), 3.8), sharey=True, squeeze=False)
        axes = axes[0]
    for ax, (name, plane) in zip(axes, planes.items()):
        u, loss = plane.offset_angstrom, plane.loss
        im = ax.pcolormesh(u, u, np.log10(loss), cmap="viridis", vmin=-3, vmax=2, shading="auto")
        ax.contour(u, u, loss, levels=[plane.threshold], colors="w", linewidths=1.2)
        ax.plot(0, 0, "r+", ms=12, mew=2)
        for d in np.asarray(displacements)[:, 0]:
            ax.plot(d[0], d[1], "o", mfc="none", mec="w")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("x − x_true (Å)")
        ax.text(0.02, 0.02, f"{100 * plane.share_below:.0f} % of the plane below {plane.threshold:g}",
                transform=ax.transAxes, color="w", fontsize=8)  # fmt: skip
    axes[0].set_ylabel("y − y_true (Å)")
    axes[0].figure.colorbar(im, ax=axes, label="log10 design loss")
    return axes


def plot_designed_positions(outcome, ax=None):
    """The designs of the successful starts (crosses, one colour per atom) over the true positions, xy projection.

    The fixed atoms grey, the movable atoms' true positions filled, edged black; the title gives the
    success rate, the successful designs' mean distance from the true positions and the share of them
    within 1 Å (paper Fig. 5c, top).

    Parameters
    ----------
    outcome : DesignOutcome
        :func:`qdlib.agents.design_outcome`.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> outcome = SimpleNamespace(n_movable=1, fixed_positions=np.zeros((2, 3)), true_positions=np.ones((1, 3)),
    ...                           designs=np.ones((3, 1, 3)), success_rate=0.75, mean_success_distance_angstrom=0.4,
    ...                           within_1A=1.0)
    >>> plot_designed_positions(outcome).get_title().splitlines()
    ['1 atom(s): 75 % success', 'mean distance 0.40 Å (100 % within 1 Å)']
    """
    ax = _axes(ax)
    ax.scatter(*outcome.fixed_positions[:, :2].T, s=60, c="0.8", edgecolors="0.5")
    for a in range(outcome.n_movable):
        ax.scatter(*outcome.designs[:, a, :2].T, marker="x", s=14, alpha=0.6, label=f"designed atom {a + 1}")
        ax.scatter(*outcome.true_positions[a, :2], s=90, edgecolors="k", zorder=3)
    ax.set_aspect("equal")
    ax.set_title(f"{outcome.n_movable} atom(s): {100 * outcome.success_rate:.0f} % success\n"
                 f"mean distance {outcome.mean_success_distance_angstrom:.2f} Å "
                 f"({100 * outcome.within_1A:.0f} % within 1 Å)", fontsize=9)  # fmt: skip
    ax.set_xlabel("x (Å)")
    return ax


def plot_median_design(grid_nm: ArrayLike, target: ArrayLike, spectrum: ArrayLike, kind: str, ax=None,
                       target_label: str = "target", design_label: str = "median design (surrogate)"):  # fmt: skip
    """A design's forward-model spectrum (red, dashed) against the target (black), L mol⁻¹ cm⁻¹ against nm.

    >>> ax = plot_median_design([390.0, 400.0, 410.0], [1.0, 3.0, 1.0], [1.0, 2.5, 1.5], "absorption")
    >>> [line.get_label() for line in ax.lines], ax.get_xlim()
    (['target', 'median design (surrogate)'], (np.float64(250.0), np.float64(600.0)))
    """
    ax = _axes(ax)
    ax.plot(grid_nm, target, "k", lw=2, label=target_label)
    ax.plot(grid_nm, spectrum, "C3--", label=design_label)
    ax.set_xlim(*((250, 600) if kind == "absorption" else (500, 2000)))
    ax.set_xlabel("wavelength (nm)")
    return ax


def plot_fig5c(outcomes: Mapping, grid_nm: ArrayLike, kind: str, axes=None):
    """Paper Fig. 5(c): per number of movable atoms, the designs (top) and the median design's spectrum (bottom).

    Parameters
    ----------
    outcomes : mapping of int to DesignOutcome
        Per number of movable atoms, :func:`qdlib.agents.design_outcome`.
    grid_nm : array_like, shape (n_bins,)
        Wavelengths of the spectra, nm.
    kind : {"absorption", "emission"}
    axes : array of matplotlib axes, shape (2, len(outcomes)), optional

    Returns
    -------
    array of matplotlib axes

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> outcome = SimpleNamespace(n_movable=1, fixed_positions=np.zeros((2, 3)), true_positions=np.ones((1, 3)),
    ...                           designs=np.ones((3, 1, 3)), success_rate=0.75, mean_success_distance_angstrom=0.4,
    ...                           within_1A=1.0, target=np.ones(3), median_spectrum=np.ones(3), median_index=0,
    ...                           loss=np.array([0.05]))
    >>> axes = plot_fig5c({1: outcome}, [800.0, 900.0, 1000.0], "emission")
    >>> axes.shape, [text.get_text() for text in axes[1, 0].get_legend().get_texts()]
    ((2, 1), ['target (TD-DFT)', 'median design (loss 0.050)'])
    """
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(2, len(outcomes), figsize=(3.6 * len(outcomes), 6.4), squeeze=False)
    for j, outcome in enumerate(outcomes.values()):
        plot_designed_positions(outcome, ax=axes[0, j])
        label = f"median design (loss {outcome.loss[outcome.median_index]:.3f})"
        ax = plot_median_design(grid_nm, outcome.target, outcome.median_spectrum, kind, ax=axes[1, j],
                                target_label="target (TD-DFT)", design_label=label)  # fmt: skip
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("y (Å)")
    axes[1, 0].set_ylabel("ε (L mol⁻¹ cm⁻¹)")
    return axes


def plot_fig5(histories: Mapping, outcomes: Mapping, grid_nm: ArrayLike, kind: str, edge_angstrom: float, axes=None):
    """Paper Fig. 5 as saved: learning curves and designs for 1, 2 and 3 movable atoms.

    Top: (a) accumulated reward per episode (the block means of the saved learning curve),
    (b) greedy success on the evaluation starts, (c) histogram of the successful designs' largest
    distance from the true positions; bottom (d–f): the median design's spectrum against the target.
    Legends below the panels.

    Parameters
    ----------
    histories : mapping of int to dict
        Per number of movable atoms, the agent's training history (:func:`qdlib.ddpg.load_history`).
    outcomes : mapping of int to DesignOutcome
        Per number of movable atoms, :func:`qdlib.agents.design_outcome`.
    grid_nm : array_like, shape (n_bins,)
        Wavelengths of the spectra, nm.
    kind : {"absorption", "emission"}
    edge_angstrom : float
        Cuboid edge: the histogram spans 0 to its half diagonal, Å.
    axes : array of matplotlib axes, shape (2, 3), optional

    Returns
    -------
    array of matplotlib axes, shape (2, 3)

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> history = {"curve": {"episode": [10, 20], "mean_return": [-5.0, -1.0]},
    ...            "evaluations": [{"episodes": 10, "success_rate": 0.2}, {"episodes": 20, "success_rate": 0.9}]}
    >>> outcome = SimpleNamespace(largest_distance_angstrom=np.array([0.5, 2.5]), success=np.array([True, False]),
    ...                           target=np.ones(3), median_spectrum=np.ones(3))
    >>> axes = plot_fig5({1: history}, {1: outcome}, [400.0, 450.0, 500.0], "absorption", 4.0)
    >>> axes[1, 0].get_title(), [int(p.get_height()) for p in axes[0, 2].patches if p.get_height()]
    ('(d) 1 movable atom(s): median design', [1])
    """
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(2, 3, figsize=(12, 6.6))
    for n in (1, 2, 3):
        if n in histories:
            curve, evaluations = histories[n]["curve"], histories[n]["evaluations"]
            axes[0, 0].plot(curve["episode"], curve["mean_return"], label=f"{n} atom(s)")
            axes[0, 1].plot([e["episodes"] for e in evaluations], [e["success_rate"] for e in evaluations], "o-", ms=3,
                            label=f"{n} atom(s)")  # fmt: skip
        if n in outcomes:
            outcome = outcomes[n]
            bins = np.linspace(0, edge_angstrom * 0.87, 25)  # to the cuboid's half diagonal
            successful = outcome.largest_distance_angstrom[outcome.success]
            axes[0, 2].hist(successful, bins=bins, alpha=0.6, label=f"{n} atom(s)")
            ax = plot_median_design(grid_nm, outcome.target, outcome.median_spectrum, kind, ax=axes[1, n - 1])
            ax.set_title(f"({'def'[n - 1]}) {n} movable atom(s): median design", fontsize=10)
    axes[0, 0].set(xlabel="episode", ylabel="accumulated reward (block mean)")
    axes[0, 1].set(xlabel="episode", ylabel="greedy success (100 starts)")
    axes[0, 2].set(xlabel="largest distance designed–true (Å)", ylabel="successful designs")
    titles = ("(a) learning curves", "(b) greedy success", "(c) designed atoms vs true positions")
    for ax, title in zip(axes[0], titles):
        ax.set_title(title, fontsize=10)
    for ax in axes.flat:  # legends below the panels, off the curves
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    axes[1, 0].set_ylabel("ε (L mol⁻¹ cm⁻¹)")
    return axes

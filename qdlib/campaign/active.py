"""Active learning: a forward model of the spectrum with uncertainty, retrained on every TD-DFT result.

Where :mod:`~qdlib.campaign.bayes` models one number (the criterion's margin), this models
what TD-DFT returns — the spectrum on the target's window, and the strain — and judges
its posterior samples by the criterion itself (composite Bayesian optimisation, as BoTorch's
composite tutorials do for a vector output against a target):

* :class:`SpectrumModel`: the window spectra of the designs computed so far, reduced to their
  leading principal components; one Gaussian process per component and one for the DFT
  strain, all on the unit coordinates (BoTorch ``SingleTaskGP``). Posterior samples are
  spectra (and strains), so peak, shape and strain of a candidate come with their spread.
  Samples of the latent functions rank candidates (as BoTorch's acquisition functions do);
  *predictive* samples — with the processes' fitted noise and the spectra's part beyond the
  leading components — are what the model expects TD-DFT to return, and are what its
  intervals and their calibration are scored on (``benchmarks/forward_model.py``).
* :class:`ActiveDesigns`: each round, for every candidate (the pool of random physical designs
  and physical jitters of the best so far), the posterior samples give the margin
  (:meth:`~qdlib.campaign.Criterion.margin` on the sampled spectrum); the batch maximises its
  mean plus ``exploration`` standard deviations, the second design kept away from the first.

The model never sees the true positions; the first round is random.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from ..verdict import Target, window_peak
from .bayes import BayesianDesigns
from .criterion import Criterion
from .space import DesignSpace

log = logging.getLogger(__name__)

__all__ = ["ActiveDesigns", "SpectrumModel", "held_out_scores", "scores_by_round"]


class SpectrumModel:
    """Gaussian processes on the principal components of window spectra, and on the strain.

    Parameters
    ----------
    n_components : int
        Principal components of the (log-scaled) spectra modelled; fewer when there are fewer designs.

    Examples
    --------
    Spectra of one band whose position follows the first coordinate:

    >>> from qdlib import spectra
    >>> grid = spectra.wavelength_grid("absorption")
    >>> rng = np.random.default_rng(0)
    >>> u = rng.random((12, 3))
    >>> y = np.array([spectra.broaden([400 + 40 * x[0]], [0.1], grid) for x in u])
    >>> model = SpectrumModel().fit(u, y, strain_ev=u[:, 1])
    >>> s, e = model.sample(np.array([[0.5, 0.5, 0.5]]), n_samples=64, seed=0)
    >>> s.shape, e.shape
    ((64, 1, 500), (64, 1))
    >>> peaks = spectra.peak_wavelength(s[:, 0], grid)
    >>> bool(abs(np.median(peaks) - 420) < 5)
    True
    """

    def __init__(self, n_components: int = 4):
        self.n_components = n_components

    def fit(self, u: NDArray, spectra_: NDArray, strain_ev: NDArray) -> SpectrumModel:
        """Fit to designs ``u`` ``(n, d)``, their spectra ``(n, n_bins)`` (L mol⁻¹ cm⁻¹) and strains ``(n,)`` (eV)."""
        import torch
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from botorch.models.transforms import Normalize, Standardize
        from gpytorch.mlls import ExactMarginalLogLikelihood

        u, y, e = (np.asarray(a, dtype=float) for a in (u, spectra_, strain_ev))
        z = np.log1p(np.clip(y, 0.0, None) / 1000.0)  # bands of very different height on one scale
        self.mean_ = z.mean(axis=0)
        _, sv, vt = np.linalg.svd(z - self.mean_, full_matrices=False)
        k = int(min(self.n_components, max(1, len(u) - 1), vt.shape[0]))
        self.components_ = vt[:k]
        scores = (z - self.mean_) @ self.components_.T
        self.residuals_ = (z - self.mean_) - scores @ self.components_  # what the leading components leave out
        targets = np.hstack([scores, e[:, None]])
        d = u.shape[1]
        bounds = torch.stack([torch.zeros(d), torch.ones(d)]).double()
        x = torch.as_tensor(u, dtype=torch.float64)
        self.models_ = []
        for j in range(targets.shape[1]):
            gp = SingleTaskGP(x, torch.as_tensor(targets[:, j:j + 1], dtype=torch.float64),
                              input_transform=Normalize(d=d, bounds=bounds), outcome_transform=Standardize(m=1))  # fmt: skip
            fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
            self.models_.append(gp)
        return self

    def sample(self, u: NDArray, n_samples: int = 128, seed: int = 0, predictive: bool = False) -> tuple[NDArray, NDArray]:
        """Posterior samples at ``u`` ``(m, d)``: spectra ``(n_samples, m, n_bins)`` and strains ``(n_samples, m)``.

        Parameters
        ----------
        u : ndarray, shape (m, d)
            Unit coordinates.
        n_samples : int
        seed : int
        predictive : bool
            False: samples of the latent functions (the model's belief about the smooth trend;
            what candidates are ranked on). True: samples of what TD-DFT would return — each
            process's fitted noise added, and each spectrum given the part of a training
            spectrum beyond the leading components (a training residual drawn at random).
            Intervals of predictions are taken from these.
        """
        import torch

        x = torch.as_tensor(np.asarray(u, dtype=float), dtype=torch.float64)
        out = []
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(seed)
            for gp in self.models_:
                post = gp.posterior(x, observation_noise=predictive)
                out.append(post.rsample(torch.Size([n_samples]))[..., 0].numpy())  # (n_samples, m)
        scores, strain = np.stack(out[:-1], axis=-1), out[-1]
        z = self.mean_ + scores @ self.components_
        if predictive:
            rng = np.random.default_rng([seed, 1])
            z = z + self.residuals_[rng.integers(len(self.residuals_), size=z.shape[:2])]
        return 1000.0 * np.expm1(np.clip(z, 0.0, None)), strain


def held_out_scores(model: SpectrumModel, u: NDArray, spectra_: NDArray, window, level: float = 0.9,
                    n_samples: int = 256, seed: int = 0, predictive: bool = True) -> dict:  # fmt: skip
    """How well a fitted :class:`SpectrumModel` predicts the central peak of designs it has not seen.

    Parameters
    ----------
    model : SpectrumModel
        Fitted.
    u : ndarray, shape (m, d)
        Unit coordinates of held-out designs (e.g. the random control's, TD-DFT-computed).
    spectra_ : ndarray, shape (m, n_bins)
        Their TD-DFT spectra, L mol⁻¹ cm⁻¹.
    window : qdlib.verdict.Window
        Where the central peak is taken (:func:`qdlib.verdict.window_peak`).
    level : float
        Central probability of the predicted interval.
    predictive : bool
        Take the interval from predictive samples (:meth:`SpectrumModel.sample`), as a prediction
        of TD-DFT should; False scores the latent trend's interval alone.

    Returns
    -------
    dict
        ``n`` (held-out designs with a peak on the window), ``peak_mae_nm`` (mean absolute error of
        the posterior median peak, nm) and ``coverage`` (fraction of TD-DFT peaks inside the
        model's central ``level`` interval of sampled peaks; calibrated: close to ``level``).

    Examples
    --------
    >>> from qdlib.verdict import Window
    >>> from qdlib import spectra
    >>> grid = spectra.wavelength_grid("absorption")
    >>> rng = np.random.default_rng(1)
    >>> u = rng.random((16, 2))
    >>> band = lambda x: spectra.broaden([420 + 30 * x[0]], [0.1], grid)
    >>> model = SpectrumModel().fit(u[:12], np.array([band(x) for x in u[:12]]), strain_ev=u[:12, 1])
    >>> s = held_out_scores(model, u[12:], np.array([band(x) for x in u[12:]]), Window("absorption", 380.0, 798.4))
    >>> s["n"], bool(s["peak_mae_nm"] < 3.0)
    (4, True)
    """
    truth = np.array([window_peak(y, window) for y in np.asarray(spectra_, dtype=float)])
    keep = np.isfinite(truth)
    if not keep.any():
        return {"n": 0, "peak_mae_nm": float("nan"), "coverage": float("nan")}
    samples, _ = model.sample(np.asarray(u, dtype=float)[keep], n_samples, seed, predictive=predictive)
    peaks = np.array([[window_peak(y, window) for y in s] for s in samples.transpose(1, 0, 2)])  # (m, n_samples)
    lo, mid, hi = (np.nanquantile(peaks, q, axis=1) for q in ((1 - level) / 2, 0.5, (1 + level) / 2))
    t = truth[keep]
    return {"n": int(keep.sum()), "peak_mae_nm": float(np.mean(np.abs(mid - t))),
            "coverage": float(np.mean((t >= lo) & (t <= hi)))}  # fmt: skip


def scores_by_round(history: Sequence, held_out: Sequence, spectrum_of: Callable, window, level: float = 0.9,
                    n_samples: int = 128) -> list[dict]:
    """The forward model of a campaign refitted after each round, scored on held-out designs.

    Parameters
    ----------
    history : sequence of CallRecord
        A campaign's calls (the model's training data, round by round).
    held_out : sequence of CallRecord
        Other TD-DFT-computed designs of the same space (e.g. the random control's); those
        also in ``history`` are left out.
    spectrum_of : callable
        ``spectrum_of(record) -> (spectrum, strain_ev)`` or ``None`` (:meth:`Campaign.spectrum_of`).
    window : qdlib.verdict.Window
    level : float
        Central probability of the predicted interval.
    n_samples : int
        Posterior samples per held-out design.

    Returns
    -------
    list of dict
        Per round with at least two computed designs: ``round``, ``n_train`` and
        :func:`held_out_scores`' ``n``, ``peak_mae_nm``, ``coverage``.
    """
    seen = {r.key for r in history}
    test = [(r, s) for r in held_out if r.key not in seen and (s := spectrum_of(r)) is not None]
    if not test:
        return []
    u_test = np.array([r.u for r, _ in test])
    y_test = np.array([s[0] for _, s in test])
    computed = [(r, s) for r in history if (s := spectrum_of(r)) is not None]  # read once, refitted on every round
    out = []
    for round_ in sorted({r.round for r in history}):
        train = [(r, s) for r, s in computed if r.round <= round_]
        if len(train) < 2:
            continue
        model = SpectrumModel().fit(np.array([r.u for r, _ in train]), np.array([s[0] for _, s in train]),
                                    np.array([s[1] for _, s in train]))  # fmt: skip
        out.append({"round": round_, "n_train": len(train)} | held_out_scores(model, u_test, y_test, window, level, n_samples))
    return out


class ActiveDesigns(BayesianDesigns):
    """Proposes designs from a :class:`SpectrumModel` retrained on every result (see the module docstring).

    Parameters
    ----------
    space : DesignSpace
    spectrum_of : callable
        ``spectrum_of(record) -> (spectrum, strain_ev)`` of a computed design (the campaign reads
        its stored TD-DFT); ``None`` for a call without a result.
    target : Target
    criterion : Criterion
    exploration : float
        Standard deviations of the sampled margin added to its mean.
    n_samples : int
        Posterior samples per candidate.
    **kwargs
        Candidate pool and jitter, as :class:`~qdlib.campaign.bayes.BayesianDesigns`.
    """

    def __init__(self, space: DesignSpace, spectrum_of: Callable, target: Target, criterion: Criterion = Criterion(),
                 exploration: float = 1.0, n_samples: int = 64, **kwargs):  # fmt: skip
        super().__init__(space, **kwargs)
        self.spectrum_of, self.target, self.criterion = spectrum_of, target, criterion.for_target(target)
        self.exploration, self.n_samples = exploration, n_samples
        self.model_: SpectrumModel | None = None

    def margins(self, spectra_: NDArray, strain_ev: NDArray) -> NDArray:
        """The criterion's margin of sampled spectra ``(..., n_bins)`` and strains ``(...)`` (eV)."""
        return self.criterion.margins(spectra_, self.target, strain_ev)

    def propose(self, history: Sequence, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        pool, local = self.candidates(history, rng)
        data = [(r, self.spectrum_of(r)) for r in history]
        data = [(r, s) for r, s in data if s is not None]
        if len(history) < self.n_initial or len(data) < 2:
            return pool[rng.choice(len(pool), size=n, replace=False)]
        u = np.array([r.u for r, _ in data])
        y = np.array([s[0] for _, s in data])
        e = np.array([s[1] for _, s in data])
        self.model_ = SpectrumModel().fit(u, y, e)
        candidates = np.vstack([pool, local])
        samples, strain = self.model_.sample(candidates, self.n_samples, seed=int(rng.integers(2**31 - 1)))
        m = self.margins(samples, strain)  # (n_samples, n_candidates)
        score = m.mean(axis=0) + self.exploration * m.std(axis=0)
        chosen: list[int] = []
        for i in np.argsort(-score):
            if all(np.abs(candidates[i] - candidates[j]).max() > self.local_step for j in chosen):
                chosen.append(int(i))
            if len(chosen) == n:
                break
        return candidates[chosen]

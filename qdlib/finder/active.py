"""Active learning over the library: a forward model of the spectrum, and the probability of meeting the criterion.

* :func:`member_descriptors` — what is known of a member before any TD-DFT, as a few numbers in
  [0, 1]: its size, its Se share of the anions, and the leading principal components (over the
  pool) of its Coulomb matrix's sorted eigenvalues (:func:`qdlib.features.coulomb_matrix`; invariant
  to rotation and atom order).
* :class:`ActiveMembers` — each round, :class:`qdlib.campaign.SpectrumModel` (Gaussian processes on
  the spectra's principal components, BoTorch) is fitted on every member computed so far, and
  each member not computed yet is scored by the probability that TD-DFT confirms it: the share
  of posterior samples of its spectrum whose criterion margin
  (:meth:`~qdlib.campaign.Criterion.margin_of`, its own GFN2-xTB energy above the lowest) is at
  least 0. Ties — above all early on, when no sample of any member meets the criterion — go to
  the member whose sampled spectra have a band nearest the target's peak
  (:func:`~qdlib.finder.criterion.nearest_band_nm`, so a band predicted off the window still says how far off). The first ``n_initial``
  calls, before two spectra are known, are random members (seeded).

>>> from ase import Atoms
>>> from qdlib.finder.pool import Pool
>>> pool = Pool([Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.5 + 0.1 * i]], info={"isomer": f"m{i}", "composition": "c",
...                                                                               "e_above_ev": 0.0}) for i in range(4)])
>>> member_descriptors(pool).round(2)[:, :3]
array([[0.  , 0.  , 0.  ],
       [0.  , 0.  , 0.37],
       [0.  , 0.  , 0.7 ],
       [0.  , 0.  , 1.  ]])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from ..verdict import Target
from .criterion import nearest_band_nm
from .methods import _n_calls

__all__ = ["ActiveMembers", "member_descriptors"]


def member_descriptors(pool, n_components: int = 4) -> NDArray[np.float64]:
    """Each member's descriptor, ``(n_members, 2 + n_components)``, every column scaled to [0, 1] over the pool.

    Columns: atom count, Se share of the anions, then the leading ``n_components`` principal
    components of the sorted Coulomb-matrix eigenvalues (padded with zeros to the largest member).
    A column constant over the pool is 0.
    """
    from ..features import coulomb_matrix

    members = pool.members
    n_max = max(len(m) for m in members)
    eig = np.zeros((len(members), n_max))
    for i, m in enumerate(members):
        eig[i, : len(m)] = np.sort(np.linalg.eigvalsh(coulomb_matrix(m.numbers, m.positions)))[::-1]
    z = (eig - eig.mean(axis=0)) / np.where(eig.std(axis=0) > 0, eig.std(axis=0), 1.0)
    _, _, vt = np.linalg.svd(z, full_matrices=False)
    vt = vt * np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])[:, None]  # a sign fixed by the data, not by LAPACK
    pcs = z @ vt[: min(n_components, vt.shape[0])].T
    symbols = [m.get_chemical_symbols() for m in members]
    size = np.array([len(s) for s in symbols], dtype=float)
    se = np.array([s.count("Se") / max(1, s.count("Se") + s.count("Te")) for s in symbols])
    x = np.column_stack([size, se, pcs])
    lo, span = x.min(axis=0), np.ptp(x, axis=0)
    return np.where(span > 0, (x - lo) / np.where(span > 0, span, 1.0), 0.0)


class ActiveMembers:
    """Proposes the members most likely to be confirmed under a forward model refitted on every computed member.

    Parameters
    ----------
    seed : int
        Seeds the first random members and the posterior samples.
    spectrum_of : callable
        ``spectrum_of(call) -> spectrum (n_bins,) or None``: a computed member's broadened TD-DFT
        spectrum (L mol⁻¹ cm⁻¹; :meth:`qdlib.finder.TargetDesign.spectrum_of`).
    target : qdlib.verdict.Target
    criterion : qdlib.campaign.Criterion
        Resolved for ``target`` (:func:`~qdlib.finder.criterion.target_criterion`).
    n_initial : int
        Spectra known (called, or judged from the store) before the model is used; until then, random members.
    n_samples : int
        Posterior samples per member.
    """

    name = "al"

    def __init__(self, seed: int = 0, spectrum_of: Callable | None = None, target: Target | None = None, criterion=None,
                 n_initial: int = 2, n_samples: int = 64):  # fmt: skip
        self.seed, self.spectrum_of, self.target, self.criterion = seed, spectrum_of, target, criterion
        self.n_initial, self.n_samples = n_initial, n_samples
        self._x: NDArray | None = None
        self.model_ = None
        self.probability_: NDArray | None = None

    def bind(self, spectrum_of: Callable, target: Target, criterion) -> ActiveMembers:
        """Give the method what a run knows: how to read a computed member's spectrum, the target, the criterion."""
        self.spectrum_of, self.target, self.criterion = spectrum_of, target, criterion
        return self

    def propose(self, pool, tried: Sequence, n: int) -> list[int]:
        from ..campaign.active import SpectrumModel

        done = {c.index for c in tried}
        left = np.array([i for i in range(len(pool)) if i not in done])
        rng = np.random.default_rng([self.seed, _n_calls(tried)])
        data = [(c.index, y) for c in tried if (y := self.spectrum_of(c)) is not None]
        if len(data) < max(2, self.n_initial) or left.size == 0:  # no model yet: random members
            self.probability_ = None  # no model yet
            return [int(i) for i in rng.choice(left, size=min(n, left.size), replace=False)]
        if self._x is None or len(self._x) != len(pool):
            self._x = member_descriptors(pool)
        idx = np.array([i for i, _ in data])
        e_above = pool.e_above_ev
        self.model_ = SpectrumModel().fit(self._x[idx], np.array([y for _, y in data]), e_above[idx])
        samples, _ = self.model_.sample(self._x[left], self.n_samples, seed=int(rng.integers(2**31 - 1)))
        m = self.margins(samples, e_above[left])  # (n_samples, n_left)
        self.probability_ = np.full(len(pool), np.nan)
        self.probability_[left] = (m >= 0).mean(axis=0)
        bands = np.array([[nearest_band_nm(y, self.target.peak_nm) for y in s] for s in samples])  # (n_samples, n_left)
        distance = np.nan_to_num(np.abs(bands - self.target.peak_nm), nan=1e3).mean(axis=0)  # nm, no band counts 1000
        order = np.lexsort((distance, -self.probability_[left]))
        return [int(left[i]) for i in order[:n]]

    def chance_any(self, pool, tried: Sequence, n_samples: int = 256) -> float | None:
        """The share of joint *predictive* posterior samples (what TD-DFT would return, noise included) in which at
        least one member not judged yet meets the criterion; ``None`` without a model (fewer than two spectra).

        A model knows only the spectra it has seen: a band unlike any of them is improbable to it. A run that
        reports "no member is likely to meet it" from this number makes a claim the replay benchmark measures
        (how often it is wrong on reachable targets).
        """
        from ..campaign.active import SpectrumModel

        done = {c.index for c in tried}
        left = np.array([i for i in range(len(pool)) if i not in done])
        data = [(c.index, y) for c in tried if (y := self.spectrum_of(c)) is not None]
        if len(data) < 2 or left.size == 0:
            return None
        if self._x is None or len(self._x) != len(pool):
            self._x = member_descriptors(pool)
        idx, e_above = np.array([i for i, _ in data]), pool.e_above_ev
        model = SpectrumModel().fit(self._x[idx], np.array([y for _, y in data]), e_above[idx])
        samples, _ = model.sample(self._x[left], n_samples, seed=self.seed, predictive=True)
        return float((self.margins(samples, e_above[left]) >= 0).any(axis=1).mean())

    def margins(self, spectra_: NDArray, e_above_ev: NDArray) -> NDArray:
        """The criterion's margin of sampled spectra ``(n_samples, m, n_bins)`` of ``m`` members with energies ``(m,)``."""
        return self.criterion.margins(spectra_, self.target, np.asarray(e_above_ev, dtype=float)[None, :])

"""Design for a user's target: which library member absorbs like this spectrum, or at this wavelength?

A user's target (:mod:`qdlib.targets`: a spectrum file, a band, a structure's spectrum) is met by
the library's stable clusters (:mod:`qdlib.library`: every member a GFN2-xTB minimum), each
judged by its own TD-DFT spectrum at the paper's settings:

* :mod:`.pool` — the members as candidates, and the oracle that gives their spectra (the results
  store, or TD-DFT into it);
* :mod:`.criterion` — when TD-DFT confirms a member for the target, in one place;
* :mod:`.methods` — how the next members are chosen (random, stable-first);
* :mod:`.active` — active learning: a forward model of the spectrum over member descriptors;
* :mod:`.loop` — the run: propose, compute, judge, record, until the budget;
* :mod:`.report` — what a run hands back: a ranked table, a figure, the confirmed structures;
* :mod:`.benchmark` — the replay benchmark: every method on targets fixed by a rule, computing nothing.
"""

from .active import ActiveMembers, member_descriptors
from .criterion import MAX_E_ABOVE_EV, describe, member_verdict, target_criterion
from .loop import METHODS, FinderCall, FinderConfig, TargetDesign, first_confirmed, make_method, read_calls
from .methods import RandomMembers, StableFirst, SurrogateRanked
from .pool import Pool, StoreOracle

__all__ = [
    "MAX_E_ABOVE_EV",
    "METHODS",
    "ActiveMembers",
    "FinderCall",
    "FinderConfig",
    "Pool",
    "RandomMembers",
    "StableFirst",
    "StoreOracle",
    "SurrogateRanked",
    "TargetDesign",
    "describe",
    "first_confirmed",
    "make_method",
    "member_descriptors",
    "member_verdict",
    "read_calls",
    "target_criterion",
]  # fmt: skip

"""A library of stable Cd–Se–Te clusters: global search, relaxation to a minimum, identity of minima.

Every member is a local minimum of the GFN2-xTB energy found by a global search of its
composition (:mod:`.search`: ase-ga's genetic algorithm, or random structure search), relaxed
to 0.02 eV/Å with no imaginary mode (:mod:`.relax`), and distinct from every other member up to
rotation, translation and the order of like atoms (:mod:`.identity`).

>>> from qdlib.library import compositions
>>> compositions((4,))
['Cd4Se4Te0', 'Cd4Se3Te1', 'Cd4Se2Te2', 'Cd4Se1Te3', 'Cd4Se0Te4']
"""

from .identity import IdentityTolerances, aligned_rmsd, same_minimum, unique_minima
from .relax import RelaxSettings, frequencies, lowest_frequency, relax, relax_to_minimum
from .search import METHODS, ClusterSearch, SearchConfig, SearchResult, compositions, parse_composition, searched_minima

__all__ = [
    "IdentityTolerances", "aligned_rmsd", "same_minimum", "unique_minima",
    "RelaxSettings", "frequencies", "lowest_frequency", "relax", "relax_to_minimum",
    "METHODS", "ClusterSearch", "SearchConfig", "SearchResult", "compositions", "parse_composition", "searched_minima",
]  # fmt: skip

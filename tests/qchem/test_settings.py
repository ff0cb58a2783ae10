"""qdlib.qchem.settings: the paper's settings, Excitations round trips and their dominant transitions."""

import numpy as np
import pytest

from qdlib import qchem
from qdlib.qchem import TDDFTSettings


@pytest.mark.tddft
def test_round_trip_dict(dimer_result):
    _, exc = dimer_result
    back = qchem.Excitations.from_dict(exc.to_dict())
    np.testing.assert_array_equal(back.energies_ev, exc.energies_ev)
    assert back.settings == exc.settings and back.versions == exc.versions
    assert back.transitions == exc.transitions
    old = exc.to_dict()
    del old["transitions"]  # results stored before the field existed still load
    assert qchem.Excitations.from_dict(old).transitions == []


@pytest.mark.tddft
def test_transitions_of_a_real_calculation(dimer_result):
    """Every state is made of orbital pairs whose weights (2(X²−Y²)) are a share of the state."""
    _, exc = dimer_result
    assert len(exc.transitions) == len(exc.energies_ev)
    for state in exc.transitions:
        weights = [w for _, _, w in state]
        assert 0.1 <= weights[0] <= 1.0 + 1e-6 and weights == sorted(weights, reverse=True)
        assert sum(weights) <= 1.0 + 1e-6 and all(h >= 0 and l >= 0 for h, l, _ in state)
    assert "→L" in exc.table() and all(label.startswith("H") for label in exc.transition_labels())


def test_dominant_transitions_reads_pairs_relative_to_homo_and_lumo():
    x = np.zeros((3, 4))
    x[2, 0], x[1, 2], x[0, 3] = np.sqrt([0.4, 0.08, 0.02])  # H→L 80 %, H-1→L+2 16 %, H-2→L+3 4 %
    y = np.zeros_like(x)
    (state,) = qchem.dominant_transitions([(x, y)], n_occ=3)
    assert state == [(0, 0, 0.8), (1, 2, 0.16)]  # the 4 % pair is below min_weight
    (tda,) = qchem.dominant_transitions([(x, 0)], n_occ=3, min_weight=0.0)  # Tamm-Dancoff: Y is 0
    assert [p[:2] for p in tda] == [(0, 0), (1, 2), (2, 3)]
    (weak,) = qchem.dominant_transitions([(x * 0.1, y)], n_occ=3)
    assert weak == [(0, 0, 0.008)]  # the strongest pair is kept whatever its weight
    assert qchem.format_transition(1, 2, 0.16) == "H-1→L+2 (16%)" and qchem.format_transition(0, 0) == "H→L"
    with pytest.raises(ValueError, match="occupied"):
        qchem.dominant_transitions([(x, y)], n_occ=2)


def test_settings_defaults_are_the_papers():
    s = TDDFTSettings()
    assert (s.xc, s.basis, s.ecp, s.charge, s.spin, s.n_states, s.tda) == ("camb3lyp", "lanl2dz", "lanl2dz", 0, 0, 6, False)

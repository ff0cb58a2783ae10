"""qdlib.library.relax: xTB relaxation to a true minimum (saddles followed down)."""

import numpy as np
import pytest
from ase import Atoms

from qdlib import library


def test_a_saddle_is_rejected_and_followed_to_a_minimum():
    angle = np.arange(8) * np.pi / 4
    ring = Atoms("CdSe" * 4, positions=3.53 * np.c_[np.cos(angle), np.sin(angle), np.zeros(8)])
    settings = library.RelaxSettings()
    planar, _ = library.relax(ring, settings)
    assert np.ptp(planar.positions[:, 2]) < 1e-6  # the relaxation kept the plane: a stationary point
    assert library.lowest_frequency(planar, settings) < -settings.imaginary_tol_cm1
    with pytest.raises(RuntimeError, match="saddle"):
        library.relax_to_minimum(ring, library.RelaxSettings(max_pushes=0))
    minimum, _ = library.relax_to_minimum(ring, settings)
    assert minimum.info["pushes"] >= 1 and minimum.info["e_xtb_ev"] < planar.info["e_xtb_ev"]
    assert library.lowest_frequency(minimum, settings) >= -settings.imaginary_tol_cm1

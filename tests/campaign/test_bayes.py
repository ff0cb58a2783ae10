"""qdlib.campaign.bayes (and its active-learning subclass): model-based methods on the stand-in oracle."""

import numpy as np
import pytest

from qdlib import campaign as campaign_module
from tests.fakes import toy_campaign as _toy_campaign


@pytest.mark.parametrize("method", ["bo", "al"])
def test_model_based_methods_find_a_shifted_target_of_the_stand_in_oracle(tmp_path, monkeypatch, method):
    """T+10 of the toy oracle: met on a shell about 0.5 Å from the true position, away from the cube's centre."""

    def campaign(folder):
        c = _toy_campaign(folder, monkeypatch, method=method, target_shift_nm=10.0, budget=12, seed=0, stop_at_first=True)
        if method == "bo":
            c.method = campaign_module.BayesianDesigns(c.space, pool_size=64, cache_dir=folder)
        else:
            c.method = campaign_module.ActiveDesigns(c.space, c.spectrum_of, c.target, pool_size=64, cache_dir=folder)
        return c

    c = campaign(tmp_path)
    history = c.run()
    assert any(r.confirmed for r in history), [round(r.margin, 2) for r in history]
    space = c.space
    u = np.array([r.u for r in history])
    assert (space.shortest_distance(u) >= space.min_distance_angstrom).all()
    assert (space.xtb_strain_ev(u) <= space.bounds.xtb_max_strain_ev + 1e-9).all()  # every proposal physical
    assert [r.u for r in campaign(tmp_path / "again").run()] == [r.u for r in history]  # seeded: the same designs

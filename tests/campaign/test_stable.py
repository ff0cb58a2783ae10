"""qdlib.campaign.stable: the stable-first control."""

import numpy as np

from tests.fakes import toy_campaign as _toy_campaign


def test_stable_first_proposes_the_pool_in_ascending_xtb_strain(tmp_path, monkeypatch):
    from qdlib.campaign.stable import StableFirstDesigns

    c = _toy_campaign(tmp_path, monkeypatch, method="stable-first", budget=6)
    c.method = StableFirstDesigns(c.space, pool_size=12, pool_seed=3, cache_dir=tmp_path)
    history = c.run()
    strain = [r.xtb_strain_ev for r in history]
    assert len(history) == 6 and strain == sorted(strain)
    pool, pool_strain = c.space.pool(12, 3, tmp_path)
    assert np.allclose(strain, np.sort(pool_strain)[:6], atol=1e-5)  # the six lowest of its pool, lowest first
    same = _toy_campaign(tmp_path, monkeypatch, method="stable-first", budget=6, target_shift_nm=10.0)
    same.method = StableFirstDesigns(same.space, pool_size=12, pool_seed=3, cache_dir=tmp_path)
    assert [r.key for r in same.run()] == [r.key for r in history]  # blind to the target: one order serves every target

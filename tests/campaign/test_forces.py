"""qdlib.campaign.forces: would a design stay where it was put."""

import numpy as np
import pytest


def test_forces_point_a_displaced_atom_back_and_a_killed_run_resumes(tmp_path, monkeypatch):
    from ase import Atoms

    from qdlib.campaign import forces

    site = np.array([0.0, 0.0, 2.6])

    def spring(atoms, settings=None, options=None):  # a harmonic well around the site for atom 1
        f = np.zeros((len(atoms), 3))
        f[1] = -2.0 * (atoms.positions[1] - site)
        spring.calls += 1
        return 0.0, f

    spring.calls = 0
    monkeypatch.setattr(forces, "ground_state_forces", spring)
    designs = [(f"d{k}", Atoms("CdSe", positions=[[0, 0, 0], site + d]), [1], site[None])
               for k, d in enumerate([[0.3, 0, 0], [0, 0.2, -0.1]])]  # fmt: skip
    rows = forces.design_forces(designs[:1], tmp_path / "f.jsonl")
    assert rows[0]["returning_cosine"] == [pytest.approx(1.0)] and rows[0]["max_force_ev_per_angstrom"] == pytest.approx(0.6)
    assert rows[0]["displacement_angstrom"] == [pytest.approx(0.3)]
    rows = forces.design_forces(designs, tmp_path / "f.jsonl")
    assert spring.calls == 2 and [r["key"] for r in rows] == ["d0", "d1"]  # d0 read back, not recomputed
    assert forces.returning_cosine(site[None] + [[0.3, 0, 0]], [[1.0, 0, 0]], site[None])[0] == pytest.approx(-1.0)

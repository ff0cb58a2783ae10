"""qdlib.campaign.forces: would a design stay where it was put."""

import numpy as np
import pytest


def test_forces_point_a_displaced_atom_back_and_a_killed_run_resumes(tmp_path, monkeypatch):
    from ase import Atoms

    from qdlib.campaign import forces

    site = np.array([0.0, 0.0, 2.6])

    def spring(atoms, settings=None, options=None, dm0=None):  # a harmonic well around the site for atom 1
        f = np.zeros((len(atoms), 3))
        f[1] = -2.0 * (atoms.positions[1] - site)
        spring.calls += 1
        return 0.0, f, None

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


def test_shards_split_the_designs_and_skip_what_another_process_wrote(tmp_path, monkeypatch):

    from qdlib.campaign import forces

    computed = _flat_forces(monkeypatch)
    designs = _pairs(5)
    forces.design_forces(designs, tmp_path / "f.jsonl", shard=(1, 2))
    assert computed == [0.1, 0.3]
    rows = forces.design_forces(designs, tmp_path / "f.jsonl", shard=(0, 2))
    assert computed == [0.1, 0.3, 0.0, 0.2, 0.4] and sorted(r["key"] for r in rows) == [f"d{k}" for k in range(5)]
    forces.design_forces(designs, tmp_path / "f.jsonl")  # all written: nothing computed again
    assert len(computed) == 5
    with pytest.raises(ValueError, match="shard 2 of 2"):
        forces.design_forces(designs, tmp_path / "f.jsonl", shard=(2, 2))


def test_a_design_written_by_another_process_meanwhile_is_not_computed_again(tmp_path, monkeypatch):
    import json

    from qdlib.campaign import forces

    out, computed = tmp_path / "f.jsonl", []

    def flat(atoms, settings=None, options=None, dm0=None):
        computed.append(round(atoms.positions[1, 0], 3))
        if len(computed) == 1:  # meanwhile another process finishes d2
            out.write_text(json.dumps({"key": "d2"}) + "\n")
        return 0.0, np.zeros((len(atoms), 3)), None

    monkeypatch.setattr(forces, "ground_state_forces", flat)
    designs = _pairs(4)
    rows = forces.design_forces(designs, out)
    assert computed == [0.0, 0.1, 0.3] and sorted(r["key"] for r in rows) == ["d0", "d1", "d2", "d3"]


def test_each_scf_starts_from_the_last_density_of_the_same_formula(tmp_path, monkeypatch):
    from ase import Atoms

    from qdlib.campaign import forces

    guesses = []

    def fake(atoms, settings=None, options=None, dm0=None):
        guesses.append(dm0)
        return 0.0, np.zeros((len(atoms), 3)), f"{atoms.get_chemical_formula()} at {atoms.positions[1, 2]:.1f}"

    monkeypatch.setattr(forces, "ground_state_forces", fake)
    designs = [(k, Atoms(f, positions=[[0, 0, 0], [0, 0, z]]), [1], np.array([[0, 0, 2.6]]))
               for k, f, z in [("a", "CdSe", 2.7), ("b", "CdTe", 2.8), ("c", "CdSe", 2.9)]]  # fmt: skip
    forces.design_forces(designs, tmp_path / "f.jsonl")
    assert guesses == [None, None, "CdSe at 2.7"]


@pytest.mark.tddft
def test_ground_state_forces_do_not_depend_on_the_initial_density():
    from ase import Atoms

    from qdlib.campaign.forces import ground_state_forces
    from qdlib.qchem import TDDFTSettings

    settings = TDDFTSettings(grid_level=0)
    e0, f0, dm = ground_state_forces(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]]), settings)
    e1, f1, _ = ground_state_forces(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.65]]), settings, dm0=dm)
    e2, f2, _ = ground_state_forces(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.65]]), settings)
    assert e1 == pytest.approx(e2, abs=1e-6) and np.allclose(f1, f2, atol=1e-4)  # eV, eV/Å
    assert np.allclose(f0[0], -f0[1], atol=0.05) and e0 != e1  # no net force (to the coarse grid's error)


def test_a_reverse_run_takes_the_last_first_and_a_key_written_twice_reads_once(tmp_path, monkeypatch):
    import json

    from qdlib.campaign import forces

    computed = _flat_forces(monkeypatch)
    designs = _pairs(3)
    out = tmp_path / "f.jsonl"
    out.write_text(json.dumps({"key": "d1", "energy_ev": 1.0}) + "\n")
    forces.design_forces(designs, out, reverse=True)
    assert computed == [0.2, 0.0]
    with open(out, "a") as fh:  # two processes finished the same design
        fh.write(json.dumps({"key": "d1", "energy_ev": 2.0}) + "\n")
    rows = forces.read_forces(out)
    assert [r["key"] for r in rows] == ["d1", "d2", "d0"] and rows[0]["energy_ev"] == 1.0


def _pairs(n):
    """``n`` designs: a CdSe pair whose Se is moved 0.1·k Å along x from its site."""
    from ase import Atoms

    return [(f"d{k}", Atoms("CdSe", positions=[[0, 0, 0], [0.1 * k, 0, 2.6]]), [1], np.array([[0, 0, 2.6]])) for k in range(n)]


def _flat_forces(monkeypatch):
    """No force anywhere; returns the list of the moved atoms' x (Å) of the structures computed, in order."""
    from qdlib.campaign import forces

    computed = []

    def flat(atoms, settings=None, options=None, dm0=None):
        computed.append(round(atoms.positions[1, 0], 3))
        return 0.0, np.zeros((len(atoms), 3)), None

    monkeypatch.setattr(forces, "ground_state_forces", flat)
    return computed

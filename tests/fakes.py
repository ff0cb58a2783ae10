"""Cheap stand-ins for a TD-DFT call, for tests of the store and the executors, and helpers shared by test files.

Plain functions and values (imported by name); fixtures live in the ``conftest.py`` of each test folder.
"""

import os
import signal
import time

import numpy as np

from qdlib.qchem import EngineOptions, Excitations, TDDFTSettings

#: Cheap settings for an end-to-end run in seconds: small grid, two states.
CHEAP = TDDFTSettings(n_states=2, grid_level=0, scf_conv_tol=1e-8)
CPU = EngineOptions(backend="cpu", threads=1)


def fake_excitations(atoms, settings=TDDFTSettings(), options=None):
    """Deterministic 'excitations' from the geometry: no quantum chemistry."""
    if any(s == "Te" for s in atoms.get_chemical_symbols()) and len(atoms) == 1:
        raise RuntimeError("fake failure for a lone Te atom")
    d = float(np.linalg.norm(atoms.positions[-1] - atoms.positions[0]))
    e = 2.0 + 0.1 * d + 0.2 * np.arange(settings.n_states)
    return Excitations(
        energies_ev=e,
        osc_strengths=np.full(settings.n_states, 0.01),
        e_tot_hartree=-d,
        td_converged=np.ones(settings.n_states, bool),
        scf_strategy="diis",
        settings=settings,
        backend="cpu",
        wall_time_s=0.0,
        versions={"pyscf": "fake"},
        transitions=[[(0, k, 0.9), (1, 0, 0.1)] for k in range(settings.n_states)] if d < 2.75 else [],
        start="default" if d < 2.75 else "",  # (the 2.8 Å dimer stands for a result stored before either field)
    )


def slow_fake_excitations(atoms, settings=TDDFTSettings(), options=None):
    time.sleep(float(os.environ.get("QDLIB_FAKE_DELAY_S", "0.1")))
    return fake_excitations(atoms, settings, options)


def write_in_worker(atoms, settings=TDDFTSettings(), options=None, *, url, delay_s=0.1, kill_marker=None):
    """Compute a fake result and store it from the worker itself, as cluster workers sharing a store do.

    Opens the store at ``url`` in the calling process and calls its ``get_or_compute`` with
    :func:`fake_excitations` after ``delay_s`` seconds; returns the result. The first call on a
    structure with ``atoms.info["kill"]`` set (the first to create the file ``kill_marker``) kills
    its own process with SIGKILL in the middle of its write: the row written, its transaction and
    lock still held, nothing committed.
    """
    from qdlib.store import ResultStore

    store = ResultStore(url)
    if atoms.info.get("kill") and kill_marker is not None:
        try:
            open(kill_marker, "x").close()  # exclusive: one caller only
        except FileExistsError:
            pass
        else:
            write = store._db._write

            def write_then_die(*args, **kwargs):
                write(*args, **kwargs)
                os.kill(os.getpid(), signal.SIGKILL)

            store._db._write = write_then_die

    def compute(atoms, settings, options):
        time.sleep(delay_s)
        return fake_excitations(atoms, settings, options)

    return store.get_or_compute(atoms, settings, options or EngineOptions(), compute=compute)


#: Sticks of :func:`toy_oracle`'s undisplaced dot: wavelengths (nm) and oscillator strengths.
TOY_STICKS_NM = np.array([620.0, 540.0, 470.0, 430.0, 400.0, 370.0, 340.0, 310.0, 290.0, 270.0])
TOY_STRENGTHS = np.array([0.001, 0.01, 0.02, 0.08, 0.03, 0.05, 0.02, 0.04, 0.03, 0.02])


def toy_oracle(atoms, settings=TDDFTSettings(), options=None, cover_nm=None, max_states=40, save_warm_start_to=None):
    """A stand-in for a covering TD-DFT call on a benchmark dot: no quantum chemistry.

    Every stick moves to the red by 40 nm per Å² of squared displacement from the authors' geometry
    of the dot (summed over atoms), and the energy rises by 2 eV per Å²: the reference dot is the
    optimum of T0, a design within about 0.35 Å meets a 5 nm peak tolerance and 0.5 eV of strain.
    Counts its calls in the file ``$QDLIB_TOY_COUNTER`` (one line per call) and sleeps
    ``$QDLIB_FAKE_DELAY_S`` seconds.
    """
    from qdlib import spectra
    from qdlib.design import benchmark_target

    if os.environ.get("QDLIB_TOY_COUNTER"):
        with open(os.environ["QDLIB_TOY_COUNTER"], "a") as fh:
            fh.write("call\n")
    time.sleep(float(os.environ.get("QDLIB_FAKE_DELAY_S", "0")))
    ref, _ = benchmark_target(atoms.info.get("dot", "Cd4Se4"))
    d2 = float(((atoms.positions - ref.positions) ** 2).sum())
    lam = TOY_STICKS_NM + 40.0 * d2
    n = lam.size
    return Excitations(spectra.nm_to_ev(lam), TOY_STRENGTHS.copy(), -100.0 + 2.0 * d2 / 27.211386245988,
                       np.ones(n, bool), "diis", TDDFTSettings(n_states=n), "cpu", 0.01, versions={"pyscf": "toy"})


# ---------------------------------------------------------------------- design campaigns (tests/campaign)


def cdse_dimer():
    """A CdSe pair 2.6 Å apart."""
    from ase import Atoms

    return Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])


def toy_campaign(tmp_path, monkeypatch, criterion=None, **config):
    """A campaign on Cd4Se4 (1 Å cuboid, budget 4, seed 3 unless ``config`` says otherwise) whose TD-DFT is
    :func:`toy_oracle`; its store and logs in ``tmp_path``. ``criterion``: :class:`~qdlib.campaign.Criterion`'s default."""
    from qdlib import qchem
    from qdlib.campaign import Campaign, CampaignConfig, Criterion

    monkeypatch.setattr(qchem, "excitations", toy_oracle)
    cfg = CampaignConfig(**{"dot": "Cd4Se4", "edge_angstrom": 1.0, "budget": 4, "seed": 3} | config)
    criterion = Criterion() if criterion is None else criterion
    return Campaign(cfg, tmp_path / "store.json", tmp_path / "logs", warm_start=False, criterion=criterion)


# ---------------------------------------------------------------------- the design task (test_design, test_pso, …)


class ToyForward:
    """A spectrum whose peak follows the movable atom: a Gaussian at 400 nm + 40 nm/Å · (x − x0).

    PyTorch is imported when one is made, not with this module (qdlib sets MKL's reproducible mode
    before PyTorch loads; the tests that import this module for the TD-DFT fakes need no PyTorch).
    """

    def __init__(self, atoms, movable):
        import torch

        from qdlib import spectra

        self.device = torch.device("cpu")
        self.x0 = torch.as_tensor(atoms.positions[movable], dtype=torch.float32)
        self.movable = movable
        self.grid = torch.as_tensor(spectra.wavelength_grid("absorption"), dtype=torch.float32)

    def __call__(self, positions):
        import torch

        shift = (positions[:, self.movable] - self.x0).sum(dim=(1, 2))
        centre = 400.0 + 40.0 * shift
        return 1000.0 * torch.exp(-(((self.grid[None] - centre[:, None]) / 30.0) ** 2))


def toy_task(edge=4.0, **cfg):
    """A Cd2Se2 square, atom 1 movable in a cuboid of ``edge`` Å, whose target is its own :class:`ToyForward` spectrum."""
    import torch
    from ase import Atoms

    from qdlib.design import DesignConfig, DesignTask

    atoms = Atoms("Cd2Se2", positions=[[0, 0, 0], [2.6, 0, 0], [2.6, 2.6, 0], [0, 2.6, 0]])
    fwd = ToyForward(atoms, [1])
    target = fwd(torch.as_tensor(atoms.positions, dtype=torch.float32)[None])[0].numpy()
    return DesignTask(atoms, [1], target, fwd, "absorption", DesignConfig(edge_angstrom=edge, **cfg))


# ---------------------------------------------------------------------- designs for a user's target (tests/finder)


def toy_member_excitations(atoms, settings=None, options=None, cover_nm=None, max_states=40, **_):
    """A stand-in for a library member's covering TD-DFT: one band at 380 nm + 1000 nm per Å of the first pair's
    stretch beyond 2.5 Å, a dark state at 250 nm (the states cover any window), energy from the stretch.
    Counts its calls in ``$QDLIB_TOY_COUNTER`` and sleeps ``$QDLIB_FAKE_DELAY_S`` seconds."""
    from qdlib import spectra

    if os.environ.get("QDLIB_TOY_COUNTER"):
        with open(os.environ["QDLIB_TOY_COUNTER"], "a") as fh:
            fh.write("call\n")
    time.sleep(float(os.environ.get("QDLIB_FAKE_DELAY_S", "0")))
    stretch = float(atoms.get_distance(0, 1)) - 2.5
    lam = np.array([380.0 + 1000.0 * stretch, 250.0])
    return Excitations(spectra.nm_to_ev(lam), np.array([0.1, 0.0]), -100.0 - stretch, np.ones(2, bool), "diis",
                       TDDFTSettings(n_states=2), "cpu", 0.01, versions={"pyscf": "toy"})  # fmt: skip


def toy_library(n=30, seed=0):
    """A toy library: CdSe pairs stretched by 0–0.29 Å (bands at 380–670 nm under :func:`toy_member_excitations`),
    each with a random GFN2-xTB energy above its composition's lowest, 0–0.6 eV."""
    from ase import Atoms

    from qdlib.finder import Pool

    rng = np.random.default_rng(seed)
    return Pool([Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.5 + 0.01 * i]],
                       info={"isomer": f"Cd1Se1Te0-{i:02d}", "composition": "Cd1Se1Te0", "e_above_ev": float(e)})
                 for i, e in enumerate(rng.uniform(0.0, 0.6, n))])  # fmt: skip

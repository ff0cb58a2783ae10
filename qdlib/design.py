"""The inverse-design task: move 1–3 atoms of a dot until its spectrum matches a target.

The authors' environment (their code, github.com/KShiba24/INVERSE-DESIGN-DDPG at cb4e1f1): the state is the Cartesian coordinates
of the movable atoms; an action is a direction (θ, φ) per atom, θ ∈ [−π/2, π/2],
φ ∈ [−π, π]; each atom moves 0.4 Å along (sin θ cos φ, sin θ sin φ, cos θ); the
reward is minus the authors' loss ``10·mean((pred/s − target/s)²)`` (s = 1000
for absorption, 100 for emission: the label scales of their scripts); an
episode ends when the loss drops below 0.122, after 200 steps, or when an
atom leaves its cuboid (reward −20).

Three layers, one piece of physics each:

:class:`DesignTask`
    the dot, its movable atoms, the cuboid, the target and the forward model;
    batched, torch: positions ``(N, n_movable, 3)`` → spectra, losses, bounds;
:class:`BatchedDesignEnv`
    ``N`` copies stepped at once (one surrogate call per step for all);
:class:`DesignEnv`
    a :mod:`gymnasium` environment (one copy) over the same batched core.

The paper's Cd6Se6 case with its last Cd movable, the released ML-NN as forward model:
at the true geometry the surrogate's spectrum meets the target; from 256 random starts
in the 4 Å cube, some already do:

>>> task = DesignTask.benchmark("Cd6Se6", n_movable=1, edge_angstrom=4.0)
>>> env = BatchedDesignEnv(task, n_envs=256, seed=0)
>>> env.reset().shape
torch.Size([256, 3])
>>> float(task.loss(task.spectra(task.centre[None])).detach()[0]) < task.config.termination_loss
True
>>> 0 < int((env.loss < task.config.termination_loss).sum()) < 256
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
from ase import Atoms
from numpy.typing import NDArray

from .datasets import benchmark_target  # lives beside the data it reads; still reached here as design.benchmark_target
from .features import CM_A, CM_B, ELEMENT_ORDER, N_SLOTS, authors_block, coulomb_matrix
from .spectra import LOSS_SCALE, authors_loss  # LOSS_SCALE: the authors' label scale per kind, reached here too

__all__ = ["LOSS_SCALE", "BatchedDesignEnv", "DesignConfig", "DesignEnv", "DesignTask", "LossPlane", "SurrogateForward",
           "benchmark_target"]  # fmt: skip


@dataclass(frozen=True)
class DesignConfig:
    """The environment's rules; defaults are the authors'.

    >>> cfg = DesignConfig(edge_angstrom=10.0)
    >>> cfg.edge_angstrom, cfg.step_angstrom, cfg.max_steps, cfg.termination_loss, cfg.exit_reward
    (10.0, 0.4, 200, 0.122, -20.0)
    """

    edge_angstrom: float = 4.0
    """Edge of the cube each movable atom must stay in, centred on its true position, Å (paper: 4 or 10)."""
    step_angstrom: float = 0.4
    """Distance an atom moves per action, Å."""
    max_steps: int = 200
    """Steps before an episode is truncated."""
    termination_loss: float = 0.122
    """An episode succeeds when the loss drops below this."""
    exit_reward: float = -20.0
    """Reward for leaving the cuboid (the episode ends)."""
    polar_range: tuple[float, float] = (-np.pi / 2, np.pi / 2)
    """Range of θ, rad. The authors' (−π/2, π/2) gives cos θ ≥ 0: an atom can never move down in z;
    (0, π) covers every direction."""


class SurrogateForward:
    """Geometries → spectra through a surrogate, batched in torch: Coulomb matrices built on the fly.

    Parameters
    ----------
    surrogate : a fitted neural surrogate (``predict_torch``)
    atoms : ase.Atoms
        The dot; its element order fixes the Coulomb-matrix layout (the authors', centred in ``n_max``).
    n_max : int
        Slots of the padded matrix (30: 900 features).
    a, b : float
        Diagonal ``a·Z**b``.

    Examples
    --------
    The same spectrum as the surrogate's ``predict`` on the Coulomb matrix built by
    :class:`~qdlib.features.CoulombMatrix`:

    >>> import numpy as np
    >>> import torch
    >>> from qdlib.features import CoulombMatrix
    >>> from qdlib.surrogates import load_released
    >>> atoms, _ = benchmark_target("Cd6Se6")
    >>> model = load_released("absorption", device="cpu")
    >>> spectra = SurrogateForward(model, atoms)(torch.tensor(atoms.positions[None], dtype=torch.float32))
    >>> reference = model.predict(CoulombMatrix().create([atoms]))
    >>> spectra.shape, bool(np.allclose(spectra.detach().numpy(), reference, atol=0.01))
    (torch.Size([1, 500]), True)
    """

    def __init__(self, surrogate, atoms: Atoms, n_max: int = N_SLOTS, a: float = CM_A, b: float = CM_B,
                 element_order: Sequence[str] = ELEMENT_ORDER):  # fmt: skip
        import torch

        self.surrogate = surrogate
        self.device = torch.device(getattr(surrogate, "device_", "cpu"))
        order, columns = authors_block(atoms.get_chemical_symbols(), n_max, element_order)
        self.order = torch.as_tensor(order, device=self.device)
        self.columns = torch.as_tensor(columns, device=self.device)  # the block's features in the padded matrix
        self.numbers = atoms.numbers[order]
        self.a, self.b = a, b

    def __call__(self, positions):
        """Spectra, label units, shape ``(N, n_bins)``, of geometries ``(N, n_atoms, 3)`` (Å, torch)."""
        import torch

        r = positions.to(self.device, torch.float32)[:, self.order]
        cm = coulomb_matrix(self.numbers, r, self.a, self.b)
        return self.surrogate.predict_torch(cm.reshape(len(r), -1), columns=self.columns)


@dataclass(frozen=True)
class LossPlane:
    """The design loss on a square of the plane through a movable atom's true position (:meth:`DesignTask.loss_plane`).

    Attributes
    ----------
    offset_angstrom : ndarray, shape (n,)
        The grid of offsets from the true position, along x and along y alike, Å.
    loss : ndarray, shape (n, n)
        The authors' loss with the atom at ``x_true + offset[j]``, ``y_true + offset[i]`` in row ``i``,
        column ``j`` (z at its true value).
    threshold : float
        The termination loss: a design succeeds below it.
    """

    offset_angstrom: NDArray[np.float32]
    loss: NDArray[np.float32]
    threshold: float

    @property
    def share_below(self) -> float:
        """The share of the plane's points below :attr:`threshold`."""
        return float((self.loss < self.threshold).mean())


@dataclass
class DesignTask:
    """One inverse-design problem.

    Parameters
    ----------
    atoms : ase.Atoms
        The dot at its true geometry (the cuboids are centred on its movable atoms), Å.
    movable : sequence of int
        Indices of the atoms the agent moves.
    target : array_like, shape (n_bins,)
        Target spectrum, L mol⁻¹ cm⁻¹.
    forward : callable
        ``forward(positions)``: torch ``(N, n_atoms, 3)`` in Å → spectra ``(N, n_bins)`` (a
        :class:`SurrogateForward`, or anything with that signature).
    kind : {"absorption", "emission"}
    config : DesignConfig

    Examples
    --------
    A CdSe dimer whose Se moves, with a toy forward model (:meth:`benchmark` makes the paper's
    tasks): the loss is zero at the true bond length and grows away from it; an atom 2.4 Å
    from the centre of its 4 Å cube is outside:

    >>> import torch
    >>> from ase import Atoms
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
    >>> def forward(positions):  # a toy forward model: bond length r (Å) -> a 3-bin "spectrum"
    ...     r = (positions[:, 1] - positions[:, 0]).norm(dim=-1, keepdim=True)
    ...     return 1000.0 * torch.exp(-((r - torch.tensor([2.0, 2.6, 3.2])) ** 2))
    >>> target = forward(torch.tensor(dimer.positions[None]))[0].numpy()  # the spectrum at 2.6 Å
    >>> task = DesignTask(dimer, movable=[1], target=target, forward=forward)
    >>> moved = torch.tensor([[[0.0, 0.0, 2.6]], [[0.0, 0.0, 3.0]], [[0.0, 0.0, 5.0]]])
    >>> task.loss(task.spectra(moved)).round(decimals=4), task.inside(moved)
    (tensor([0.0000, 0.6662, 6.3798]), tensor([ True,  True, False]))
    >>> task.move(moved[:1], torch.tensor([[0.0, 0.0]]))  # θ = 0: 0.4 Å along +z
    tensor([[[0., 0., 3.]]])
    """

    atoms: Atoms
    movable: Sequence[int]
    target: NDArray[np.float64]
    forward: Callable
    kind: str = "absorption"
    config: DesignConfig = field(default_factory=DesignConfig)

    def __post_init__(self):
        import torch

        if self.kind not in LOSS_SCALE:
            raise ValueError(f"kind must be 'absorption' or 'emission', got {self.kind!r}")
        self.movable = [int(i) for i in self.movable]
        if not self.movable or len(set(self.movable)) != len(self.movable) or not all(0 <= i < len(self.atoms) for i in self.movable):
            raise ValueError(f"movable must be distinct atom indices of the {len(self.atoms)}-atom dot, got {self.movable}")
        self.device = getattr(self.forward, "device", torch.device("cpu"))
        self.base = torch.as_tensor(self.atoms.positions, dtype=torch.float32, device=self.device)
        self.centre = self.base[self.movable].clone()
        self.target_t = torch.as_tensor(np.asarray(self.target, dtype=float), dtype=torch.float32, device=self.device)
        self.scale = LOSS_SCALE[self.kind]

    @classmethod
    def benchmark(cls, dot: str, n_movable: int = 1, edge_angstrom: float = 4.0, kind: str = "absorption",
                  surrogate=None, config: DesignConfig | None = None) -> DesignTask:  # fmt: skip
        """A paper case: benchmark ``dot``, its designed atoms, the authors' target spectrum of ``kind``.

        Absorption: the authors' ground-state geometry and absorption label; emission: their
        relaxed S1 geometry and emission label. ``surrogate`` defaults to the released ML-NN of ``kind``.
        """
        from .surrogates import load_released

        atoms, target = benchmark_target(dot, kind, n_movable)
        surrogate = surrogate if surrogate is not None else load_released(kind)
        config = config or DesignConfig(edge_angstrom=edge_angstrom)
        return cls(atoms, atoms.info["movable"], target, SurrogateForward(surrogate, atoms), kind, config)

    # -------------------------------------------------------------- batched physics (torch)

    @property
    def n_movable(self) -> int:
        return len(self.movable)

    def geometries(self, moved):
        """Full geometries ``(N, n_atoms, 3)`` with the movable atoms at ``moved`` ``(N, n_movable, 3)``, Å."""
        out = self.base.expand(len(moved), -1, -1).clone()
        out[:, self.movable] = moved
        return out

    def atoms_at(self, moved) -> Atoms:
        """The dot as :class:`ase.Atoms` with its movable atoms at ``moved`` ``(n_movable, 3)``, Å (e.g. for TD-DFT)."""
        out = self.atoms.copy()
        out.info = {"movable": list(self.movable)}
        pos = out.positions
        pos[self.movable] = np.asarray(moved, dtype=float).reshape(self.n_movable, 3)
        out.positions = pos
        return out

    def spectra(self, moved):
        """Forward-model spectra ``(N, n_bins)`` of the movable atoms at ``moved``."""
        return self.forward(self.geometries(moved))

    def loss(self, spectra):
        """The authors' loss ``10·mean((pred/s − target/s)²)`` per row (:func:`qdlib.spectra.authors_loss`, on tensors)."""
        return authors_loss(spectra, self.target_t, self.scale)

    def loss_plane(self, half_angstrom: float = 2.0, n: int = 61) -> LossPlane:
        """The loss landscape of the first movable atom on the plane z = z_true (the others at their true positions).

        Parameters
        ----------
        half_angstrom : float
            Half the side of the square, centred on the atom's true position, Å.
        n : int
            Points per side (n × n in all, one batched call of the forward model).

        Examples
        --------
        >>> task = DesignTask.benchmark("Cd6Se6", n_movable=1, edge_angstrom=4.0)
        >>> plane = task.loss_plane(half_angstrom=2.0, n=5)
        >>> plane.offset_angstrom.tolist(), plane.loss.shape
        ([-2.0, -1.0, 0.0, 1.0, 2.0], (5, 5))
        >>> bool(plane.loss[2, 2] < plane.threshold), 0.0 < plane.share_below < 1.0  # the true position succeeds
        (True, True)
        """
        import torch

        u = torch.linspace(-half_angstrom, half_angstrom, n, device=self.device)
        gx, gy = torch.meshgrid(u, u, indexing="xy")
        moved = self.centre.expand(n * n, -1, -1).clone()
        moved[:, 0, 0] += gx.reshape(-1)
        moved[:, 0, 1] += gy.reshape(-1)
        with torch.no_grad():
            loss = self.loss(self.spectra(moved)).reshape(n, n)
        return LossPlane(u.cpu().numpy(), loss.cpu().numpy(), self.config.termination_loss)

    def displacements(self, frames: Sequence[Atoms]) -> NDArray[np.float64]:
        """Where the movable atoms of ``frames`` (geometries of this dot) sit relative to their true positions.

        Returns
        -------
        ndarray, shape (n_frames, n_movable, 3)
            Displacements, Å.

        Examples
        --------
        >>> task = DesignTask.benchmark("Cd6Se6", n_movable=1)
        >>> moved = task.atoms_at(task.centre[0].numpy() + [0.5, 0.0, -0.25])
        >>> task.displacements([moved]).round(3).tolist()
        [[[0.5, 0.0, -0.25]]]
        """
        centre = self.centre.cpu().numpy()
        return np.array([f.positions[self.movable] - centre for f in frames]).reshape(len(frames), self.n_movable, 3)

    def inside(self, moved):
        """Whether every movable atom is inside its cuboid, ``(N,)`` bool."""
        return ((moved - self.centre).abs() <= 0.5 * self.config.edge_angstrom).all(dim=-1).all(dim=-1)

    def move(self, moved, actions):
        """Positions after ``actions`` ``(N, 2·n_movable)`` = (θ, φ) per atom (clipped to their ranges)."""
        import torch

        a = actions.reshape(len(actions), self.n_movable, 2)
        theta = a[..., 0].clamp(*self.config.polar_range)
        phi = a[..., 1].clamp(-np.pi, np.pi)
        direction = torch.stack([theta.sin() * phi.cos(), theta.sin() * phi.sin(), theta.cos()], dim=-1)
        return moved + self.config.step_angstrom * direction

    def sample_starts(self, n: int, generator=None):
        """``n`` start positions drawn uniformly inside the cuboids (torch ``Generator`` for seeding)."""
        import torch

        u = torch.rand((n, self.n_movable, 3), generator=generator, device="cpu").to(self.device)
        return self.centre + (u - 0.5) * self.config.edge_angstrom

    # -------------------------------------------------------------- spaces

    def action_bounds(self) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Lower and upper action limits: (θ, φ) per atom, rad."""
        lo, hi = self.config.polar_range
        return (np.tile(np.array([lo, -np.pi], dtype=np.float32), self.n_movable),
                np.tile(np.array([hi, np.pi], dtype=np.float32), self.n_movable))  # fmt: skip

    def observation_bounds(self) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Limits of the observed coordinates: the cuboids plus one step (where an exit lands), Å."""
        c = self.centre.cpu().numpy().reshape(-1)
        reach = 0.5 * self.config.edge_angstrom + self.config.step_angstrom
        return (c - reach).astype(np.float32), (c + reach).astype(np.float32)


class BatchedDesignEnv:
    """``n_envs`` copies of a task stepped together, all state in torch on the task's device.

    ``step`` returns the observations the actions led to (before any reset);
    call :meth:`reset_done` to restart the copies whose episode ended.

    Examples
    --------
    The toy dimer task of :class:`DesignTask`, two copies started 0.4 Å and 0.9 Å from the
    true bond length, both moved 0.4 Å outwards: the first lands on it and succeeds:

    >>> import torch
    >>> from ase import Atoms
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
    >>> def forward(positions):  # a toy forward model: bond length r (Å) -> a 3-bin "spectrum"
    ...     r = (positions[:, 1] - positions[:, 0]).norm(dim=-1, keepdim=True)
    ...     return 1000.0 * torch.exp(-((r - torch.tensor([2.0, 2.6, 3.2])) ** 2))
    >>> target = forward(torch.tensor(dimer.positions[None]))[0].numpy()  # the spectrum at 2.6 Å
    >>> task = DesignTask(dimer, movable=[1], target=target, forward=forward)
    >>> env = BatchedDesignEnv(task, n_envs=2, seed=0)
    >>> env.reset(starts=[[[0.0, 0.0, 2.2]], [[0.0, 0.0, 3.5]]])
    tensor([[0.0000, 0.0000, 2.2000],
            [0.0000, 0.0000, 3.5000]])
    >>> obs, reward, terminated, truncated = env.step(torch.zeros(2, 2))
    >>> reward.round(decimals=3), terminated, env.success
    (tensor([-0.0000, -3.7400]), tensor([ True, False]), tensor([ True, False]))
    """

    def __init__(self, task: DesignTask, n_envs: int = 1, seed: int | None = None):
        import torch

        self.task, self.n_envs = task, n_envs
        self.generator = torch.Generator().manual_seed(0 if seed is None else seed)
        self.moved = task.sample_starts(n_envs, self.generator)
        self.steps = torch.zeros(n_envs, dtype=torch.long, device=task.device)
        self.loss = torch.full((n_envs,), float("nan"), device=task.device)
        self.success = torch.zeros(n_envs, dtype=torch.bool, device=task.device)

    def observe(self):
        """Observations ``(n_envs, 3·n_movable)``: the movable atoms' coordinates, Å."""
        return self.moved.reshape(self.n_envs, -1)

    def reset(self, starts=None):
        """Restart every copy (at ``starts`` ``(n_envs, n_movable, 3)`` if given); returns observations."""
        import torch

        self.moved = self.task.sample_starts(self.n_envs, self.generator) if starts is None else torch.as_tensor(
            starts, dtype=torch.float32, device=self.task.device).reshape(self.n_envs, self.task.n_movable, 3).clone()  # fmt: skip
        self.steps.zero_()
        with torch.no_grad():
            self.loss = self.task.loss(self.task.spectra(self.moved))
        return self.observe()

    def reset_done(self, done):
        """Restart the copies where ``done`` (bool ``(n_envs,)``); returns all observations."""
        k = int(done.sum())
        if k:
            self.moved[done] = self.task.sample_starts(k, self.generator)
            self.steps[done] = 0
        return self.observe()

    def step(self, actions):
        """Apply ``actions`` ``(n_envs, 2·n_movable)``; returns ``(obs, reward, terminated, truncated)``.

        ``terminated``: the loss fell below the termination loss (``self.success``) or an atom
        left its cuboid; ``truncated``: the step limit was reached. ``self.loss`` holds the new losses.
        """
        import torch

        cfg = self.task.config
        with torch.no_grad():
            moved = self.task.move(self.moved, torch.as_tensor(actions, dtype=torch.float32, device=self.task.device))
            loss = self.task.loss(self.task.spectra(moved))
        inside = self.task.inside(moved)
        reward = torch.where(inside, -loss, torch.full_like(loss, cfg.exit_reward))
        self.success = inside & (loss < cfg.termination_loss)
        terminated = ~inside | self.success
        self.steps += 1
        truncated = ~terminated & (self.steps >= cfg.max_steps)
        self.moved, self.loss = moved, loss
        return self.observe(), reward, terminated, truncated


class DesignEnv(gym.Env):
    """One copy of a :class:`DesignTask` as a :mod:`gymnasium` environment (float32 observations and actions).

    The same batched core with one copy; ``info`` carries ``loss`` (the authors' loss of the
    current geometry) and ``success``. ``reset(options={"start": positions})`` starts from given
    positions of the movable atoms.

    Examples
    --------
    The toy dimer task of :class:`DesignTask`:

    >>> import torch
    >>> from ase import Atoms
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
    >>> def forward(positions):  # a toy forward model: bond length r (Å) -> a 3-bin "spectrum"
    ...     r = (positions[:, 1] - positions[:, 0]).norm(dim=-1, keepdim=True)
    ...     return 1000.0 * torch.exp(-((r - torch.tensor([2.0, 2.6, 3.2])) ** 2))
    >>> target = forward(torch.tensor(dimer.positions[None]))[0].numpy()  # the spectrum at 2.6 Å
    >>> task = DesignTask(dimer, movable=[1], target=target, forward=forward)
    >>> env = DesignEnv(task)
    >>> env.action_space
    Box([-1.5707964 -3.1415927], [1.5707964 3.1415927], (2,), float32)
    >>> obs, info = env.reset(seed=0, options={"start": [[0.0, 0.0, 2.2]]})
    >>> obs, round(info["loss"], 4)
    (array([0. , 0. , 2.2], dtype=float32), 0.6662)
    >>> obs, reward, terminated, truncated, info = env.step([0.0, 0.0])
    >>> terminated, truncated, info["success"]
    (True, False, True)
    """

    metadata = {"render_modes": []}

    def __init__(self, task: DesignTask):
        self.task = task
        self._env = BatchedDesignEnv(task, 1)
        self.action_space = gym.spaces.Box(*task.action_bounds(), dtype=np.float32)
        self.observation_space = gym.spaces.Box(*task.observation_bounds(), dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._env.generator.manual_seed(seed)
        obs = self._env.reset((options or {}).get("start"))
        return self._obs(obs), {"loss": float(self._env.loss[0]), "success": False}

    def step(self, action):
        obs, reward, terminated, truncated = self._env.step(np.asarray(action, dtype=np.float32)[None])
        info = {"loss": float(self._env.loss[0]), "success": bool(self._env.success[0])}
        return self._obs(obs), float(reward[0]), bool(terminated[0]), bool(truncated[0]), info

    @staticmethod
    def _obs(obs) -> NDArray[np.float32]:
        return obs[0].cpu().numpy().astype(np.float32)



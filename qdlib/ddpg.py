"""DDPG for the inverse-design task, in one readable file (CleanRL style).

Deep deterministic policy gradient (Lillicrap et al., 2016) with the
authors' hyperparameters as defaults (their code, github.com/KShiba24/INVERSE-DESIGN-DDPG at cb4e1f1): actor and critic with two
hidden layers of 300 ReLU units, a tanh actor scaled to the action limits,
Adam (actor 1e-4, critic 1e-3), γ = 0.9, τ = 0.001, batch 256, a buffer of
100 000 transitions, uniform exploration noise over the action range divided
by (1 + 0.005·episode), one update per environment step.

What differs from the authors' loop is only how the experience is gathered:
``n_envs`` copies of the environment step together (one batched surrogate
call), each step adding ``n_envs`` transitions and doing ``updates_per_step``
updates. ``n_envs=1, updates_per_step=1`` is the paper's sequential setting.

The paper's Cd6Se6 case on a budget of 256 transitions with small networks, then the
agent's designs from 100 random starts (notebook 03 trains the released agents, e.g.
``DDPGConfig(n_envs=64, target_success=0.9)``, in minutes):

>>> task = DesignTask.benchmark("Cd6Se6", 1, 4.0)
>>> cfg = DDPGConfig(hidden=32, n_envs=16, learning_starts=64, batch_size=32, max_env_steps=256, eval_every=0)
>>> result = train(task, cfg)
>>> result.env_steps, result.updates
(256, 13)
>>> designed = result.agent.design(task.sample_starts(100))
>>> designed.positions.shape, designed.success.dtype
((100, 1, 3), dtype('bool'))
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .design import BatchedDesignEnv, DesignTask
from .networks import mlp

log = logging.getLogger(__name__)

__all__ = ["DDPGConfig", "Agent", "DesignResult", "TrainResult", "train", "rollout", "load_history"]


@dataclass
class DDPGConfig:
    """Hyperparameters; defaults are the authors' (sequential setting, 5000 episodes).

    >>> cfg = DDPGConfig(n_envs=64, target_success=0.9)
    >>> cfg.hidden, cfg.gamma, cfg.tau, cfg.batch_size, cfg.total_episodes
    (300, 0.9, 0.001, 256, 5000)
    """

    hidden: int = 300
    """Units in each of the two hidden layers of actor and critic."""
    actor_lr: float = 1e-4
    critic_lr: float = 1e-3
    gamma: float = 0.9
    tau: float = 0.001
    """Soft-update rate of the target networks."""
    batch_size: int = 256
    buffer_size: int = 100_000
    noise_decay: float = 0.005
    """Exploration noise: uniform over the action range, divided by (1 + noise_decay·episode)."""
    total_episodes: int = 5000
    """Stop after this many finished episodes (over all copies)."""
    n_envs: int = 1
    """Environment copies stepped together."""
    updates_per_step: int = 1
    """Gradient updates per (batched) environment step."""
    learning_starts: int = 256
    """Transitions of uniformly random actions before the first update."""
    normalize_obs: bool = True
    """Feed the networks coordinates relative to the cuboid centre in units of half its edge
    (a fixed affine map; the authors fed raw coordinates)."""
    target_success: float | None = None
    """Stop early once greedy rollouts from the evaluation starts succeed at least this often."""
    eval_every: int = 2000
    """Environment transitions between greedy evaluations (0: never)."""
    eval_starts: int = 100
    """Fixed random starts of the greedy evaluation."""
    max_env_steps: int | None = None
    """Stop after this many transitions (budgets are counted in work, never in seconds: the same
    seed gives the same agent on any machine; the wall time is measured and reported)."""
    seed: int = 0
    device: str = "cpu"


class Actor(nn.Module):
    """Deterministic policy: observation → action, tanh scaled to the action limits."""

    def __init__(self, n_obs, n_act, hidden, obs_shift, obs_scale, act_low, act_high):
        super().__init__()
        self.net = mlp([n_obs, hidden, hidden, n_act])
        for name, value in dict(obs_shift=obs_shift, obs_scale=obs_scale, act_mid=(act_high + act_low) / 2,
                                act_half=(act_high - act_low) / 2).items():  # fmt: skip
            self.register_buffer(name, torch.as_tensor(value, dtype=torch.float32))

    def forward(self, obs):
        return self.act_mid + self.act_half * torch.tanh(self.net((obs - self.obs_shift) / self.obs_scale))


class Critic(nn.Module):
    """Q(observation, action)."""

    def __init__(self, n_obs, n_act, hidden, obs_shift, obs_scale, act_low, act_high):
        super().__init__()
        self.net = mlp([n_obs + n_act, hidden, hidden, 1])
        self.register_buffer("obs_shift", torch.as_tensor(obs_shift, dtype=torch.float32))
        self.register_buffer("obs_scale", torch.as_tensor(obs_scale, dtype=torch.float32))
        self.register_buffer("act_scale", torch.as_tensor((act_high - act_low) / 2, dtype=torch.float32))

    def forward(self, obs, act):
        x = torch.cat([(obs - self.obs_shift) / self.obs_scale, act / self.act_scale], dim=-1)
        return self.net(x).squeeze(-1)


class ReplayBuffer:
    """A ring buffer of transitions, torch tensors on the training device."""

    def __init__(self, size: int, n_obs: int, n_act: int, device):
        self.size, self.pos, self.full = size, 0, False
        z = lambda *shape: torch.zeros(size, *shape, device=device)  # noqa: E731
        self.obs, self.next_obs, self.act, self.rew, self.done = z(n_obs), z(n_obs), z(n_act), z(), z()

    def __len__(self) -> int:
        return self.size if self.full else self.pos

    def add(self, obs, act, rew, next_obs, done) -> None:
        idx = (self.pos + torch.arange(len(obs), device=obs.device)) % self.size
        self.obs[idx], self.act[idx], self.rew[idx], self.next_obs[idx], self.done[idx] = obs, act, rew, next_obs, done.float()
        self.full |= self.pos + len(obs) >= self.size
        self.pos = int((self.pos + len(obs)) % self.size)

    def sample(self, n: int, generator):
        idx = torch.randint(0, len(self), (n,), generator=generator).to(self.obs.device)
        return self.obs[idx], self.act[idx], self.rew[idx], self.next_obs[idx], self.done[idx]


@dataclass
class DesignResult:
    """Greedy rollouts of an agent from given starts.

    Attributes
    ----------
    positions : ndarray, shape (n, n_movable, 3)
        Final positions of the movable atoms, Å.
    loss : ndarray, shape (n,)
        The authors' loss of the final geometries (forward model).
    success : ndarray of bool, shape (n,)
        Ended below the termination loss inside the cuboid.
    steps : ndarray of int, shape (n,)
        Steps taken.
    wall_time_s : float

    Examples
    --------
    >>> import numpy as np
    >>> result = DesignResult(positions=np.zeros((2, 1, 3)), loss=np.array([0.05, 3.0]),
    ...                       success=np.array([True, False]), steps=np.array([1, 4]), wall_time_s=0.0)
    >>> result.success_rate
    0.5
    """

    positions: np.ndarray
    loss: np.ndarray
    success: np.ndarray
    steps: np.ndarray
    wall_time_s: float

    @property
    def success_rate(self) -> float:
        return float(np.mean(self.success))


def rollout(task: DesignTask, act, starts) -> DesignResult:
    """Greedy rollouts of the policy ``act`` from ``starts`` ``(n, n_movable, 3)`` (Å), all at once.

    ``act`` maps observations ``(n, 3·n_movable)`` (torch) to actions (torch). A rollout ends when
    the loss drops below the termination loss, an atom leaves its cuboid, or after the step limit;
    its final geometry is where it ended. Works for any policy (ours, or another library's).

    Examples
    --------
    A policy that always moves up (θ = 0, 0.4 Å along +z) on a toy dimer task whose loss is zero
    at a 2.6 Å bond: from 2.2 Å it succeeds in one step; from 3.1 Å it leaves the 4 Å cube
    (z > 4.6 Å) at the fourth:

    >>> import torch
    >>> from ase import Atoms
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
    >>> def forward(positions):  # a toy forward model: bond length r (Å) -> a 3-bin "spectrum"
    ...     r = (positions[:, 1] - positions[:, 0]).norm(dim=-1, keepdim=True)
    ...     return 1000.0 * torch.exp(-((r - torch.tensor([2.0, 2.6, 3.2])) ** 2))
    >>> task = DesignTask(dimer, [1], forward(torch.tensor(dimer.positions[None]))[0].numpy(), forward)
    >>> result = rollout(task, lambda obs: torch.zeros(len(obs), 2), [[[0.0, 0.0, 2.2]], [[0.0, 0.0, 3.1]]])
    >>> result.steps, result.success, result.positions[:, 0, 2].round(1)
    (array([1, 4]), array([ True, False]), array([2.6, 4.7], dtype=float32))
    """
    t0 = time.perf_counter()
    starts = torch.as_tensor(np.asarray(starts, dtype=np.float32) if not torch.is_tensor(starts) else starts)
    env = BatchedDesignEnv(task, len(starts))
    obs = env.reset(starts)
    active = torch.ones(len(starts), dtype=torch.bool, device=obs.device)
    final = env.moved.clone()
    loss, success = env.loss.clone(), env.loss < task.config.termination_loss
    steps = torch.zeros(len(starts), dtype=torch.long)
    active &= ~success
    for _ in range(task.config.max_steps):
        if not active.any():
            break
        obs, _, terminated, truncated = env.step(act(obs).to(obs.device))
        ended = active & (terminated | truncated)
        live = active.clone()
        final[live], loss[live] = env.moved[live], env.loss[live]
        success[live] = env.success[live]
        steps[live.cpu()] += 1
        active &= ~ended
    return DesignResult(final.cpu().numpy(), loss.cpu().numpy(), success.cpu().numpy(), steps.numpy(),
                        time.perf_counter() - t0)  # fmt: skip


class Agent:
    """A trained policy for one :class:`~qdlib.design.DesignTask` (plus its critic, to train on).

    Examples
    --------
    An untrained agent of a toy dimer task, saved and restored (:func:`train` makes trained ones):

    >>> import torch
    >>> from ase import Atoms
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
    >>> def forward(positions):  # a toy forward model: bond length r (Å) -> a 3-bin "spectrum"
    ...     r = (positions[:, 1] - positions[:, 0]).norm(dim=-1, keepdim=True)
    ...     return 1000.0 * torch.exp(-((r - torch.tensor([2.0, 2.6, 3.2])) ** 2))
    >>> task = DesignTask(dimer, [1], forward(torch.tensor(dimer.positions[None]))[0].numpy(), forward)
    >>> agent = Agent(task, DDPGConfig(hidden=16))
    >>> agent.save("agents/toy", note="untrained")
    >>> obs = torch.tensor([[0.0, 0.0, 2.2]])
    >>> torch.equal(Agent.load("agents/toy", task).act(obs), agent.act(obs)), agent.act(obs).shape
    (True, torch.Size([1, 2]))
    """

    def __init__(self, task: DesignTask, config: DDPGConfig):
        self.task, self.config = task, config
        n_obs, n_act = 3 * task.n_movable, 2 * task.n_movable
        low, high = task.action_bounds()
        if config.normalize_obs:
            shift = task.centre.reshape(-1).cpu().numpy()
            scale = np.full(n_obs, 0.5 * task.config.edge_angstrom, dtype=np.float32)
        else:
            shift, scale = np.zeros(n_obs, np.float32), np.ones(n_obs, np.float32)
        args = (n_obs, n_act, config.hidden, shift, scale, low, high)
        self.actor = Actor(*args).to(config.device)
        self.critic = Critic(*args).to(config.device)

    def act(self, obs):
        """Greedy actions for observations ``(n, 3·n_movable)`` (torch)."""
        with torch.no_grad():
            return self.actor(obs.to(self.config.device))

    def design(self, starts) -> DesignResult:
        """Greedy rollouts from ``starts`` ``(n, n_movable, 3)`` (Å), all at once; see :func:`rollout`."""
        return rollout(self.task, self.act, starts)

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | Path, history: TrainResult | None = None, **extra) -> None:
        """Write ``<path>.json`` (configuration, task, training history) and ``<path>.pt`` (weights).

        ``history``: the :class:`TrainResult` that made the agent (learning curve, evaluations,
        wall time), read back by :func:`load_history`; ``extra``: more JSON-able metadata.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "config": dataclasses.asdict(self.config),
            "task": {"formula": self.task.atoms.get_chemical_formula(), "movable": self.task.movable,
                     "kind": self.task.kind, "design": dataclasses.asdict(self.task.config),
                     "centre": self.task.centre.cpu().numpy().round(6).tolist()},
            **extra,
        }  # fmt: skip
        if history is not None:
            meta["history"] = history.history()
        path.with_suffix(".json").write_text(json.dumps(meta, indent=1))
        state = {"actor": self.actor.state_dict(), "critic": self.critic.state_dict()}
        torch.save({k: {n: v.detach().cpu() for n, v in d.items()} for k, d in state.items()}, path.with_suffix(".pt"))

    @classmethod
    def load(cls, path: str | Path, task: DesignTask) -> Agent:
        """Restore an agent saved by :meth:`save` for ``task`` (checked to be the same task)."""
        path = Path(path)
        meta = json.loads(path.with_suffix(".json").read_text())
        t = meta["task"]
        here = task.centre.cpu().numpy()
        rules = json.loads(json.dumps(dataclasses.asdict(task.config)))
        if (t["formula"], t["movable"], t["kind"]) != (task.atoms.get_chemical_formula(), task.movable, task.kind) or not np.allclose(t["centre"], here, atol=1e-4):
            raise ValueError(f"{path}: agent trained for {t['formula']} atoms {t['movable']} ({t['kind']}), not this task")
        if t.get("design", rules) != rules:
            raise ValueError(f"{path}: agent trained under other rules ({t['design']}), not this task's ({rules})")
        agent = cls(task, DDPGConfig(**meta["config"]))
        state = torch.load(path.with_suffix(".pt"), map_location=agent.config.device, weights_only=True)
        agent.actor.load_state_dict(state["actor"])
        agent.critic.load_state_dict(state["critic"])
        return agent


def load_history(path: str | Path) -> dict:
    """The training history saved with an agent (:meth:`TrainResult.history`; empty if none).

    >>> import torch
    >>> from ase import Atoms
    >>> from qdlib.design import DesignTask
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
    >>> def forward(positions):  # a toy forward model: bond length r (Å) -> a 3-bin "spectrum"
    ...     r = (positions[:, 1] - positions[:, 0]).norm(dim=-1, keepdim=True)
    ...     return 1000.0 * torch.exp(-((r - torch.tensor([2.0, 2.6, 3.2])) ** 2))
    >>> task = DesignTask(dimer, [1], forward(torch.tensor(dimer.positions[None]))[0].numpy(), forward)
    >>> result = train(task, DDPGConfig(hidden=16, n_envs=8, learning_starts=32, batch_size=16, max_env_steps=64))
    >>> result.agent.save("agents/toy", history=result)
    >>> history = load_history("agents/toy")
    >>> history["env_steps"], history["updates"], sorted(history["curve"])
    (64, 5, ['episode', 'mean_length', 'mean_return', 'success_rate'])
    >>> Agent(task, DDPGConfig(hidden=16)).save("agents/untrained")
    >>> load_history("agents/untrained")
    {}
    """
    return json.loads(Path(path).with_suffix(".json").read_text()).get("history", {})


@dataclass
class TrainResult:
    """What :func:`train` did.

    Attributes
    ----------
    agent : Agent
    episode_returns, episode_lengths : list
        Per finished episode, in the order they finished.
    episode_success : list of bool
    evaluations : list of dict
        Greedy evaluations: ``env_steps``, ``wall_time_s``, ``episodes``, ``success_rate``, ``mean_loss``.
    env_steps, updates : int
        Transitions collected and gradient updates made.
    wall_time_s : float
    """

    agent: Agent
    episode_returns: list = field(default_factory=list)
    episode_lengths: list = field(default_factory=list)
    episode_success: list = field(default_factory=list)
    evaluations: list = field(default_factory=list)
    env_steps: int = 0
    updates: int = 0
    wall_time_s: float = 0.0

    def history(self, n_bins: int = 256) -> dict:
        """The run as compact plain data (what :meth:`Agent.save` writes and :func:`load_history` reads).

        Totals (``env_steps``, ``updates``, ``episodes``, ``wall_time_s``), the greedy
        ``evaluations``, and the learning ``curve``: per block of consecutive finished episodes
        (at most ``n_bins`` blocks), the last episode's number and the block's mean return,
        mean length and success rate.

        >>> run = TrainResult(None, episode_returns=[-1.0, -3.0, -0.5, -0.5], episode_lengths=[1, 3, 1, 1],
        ...                   episode_success=[True, False, True, True])
        >>> run.history(n_bins=2)["curve"]
        {'episode': [2, 4], 'mean_return': [-2.0, -0.5], 'mean_length': [2.0, 1.0], 'success_rate': [0.5, 1.0]}
        """
        n = len(self.episode_returns)
        edges = np.unique(np.linspace(0, n, min(n, n_bins) + 1).round().astype(int))
        blocks = list(zip(edges[:-1], edges[1:]))

        def mean(values, digits):
            return [round(float(np.mean(values[a:b])), digits) for a, b in blocks]

        curve = dict(episode=[int(b) for _, b in blocks], mean_return=mean(self.episode_returns, 4),
                     mean_length=mean(self.episode_lengths, 2), success_rate=mean(self.episode_success, 4))  # fmt: skip
        return dict(env_steps=self.env_steps, updates=self.updates, episodes=n, wall_time_s=self.wall_time_s,
                    evaluations=self.evaluations, curve=curve)  # fmt: skip


def train(task: DesignTask, cfg: DDPGConfig = DDPGConfig(), progress: bool = False) -> TrainResult:
    """Train a DDPG agent on ``task``; see :class:`DDPGConfig` for the schedule and stopping rules.

    Every random draw comes from ``cfg.seed``; the budget is counted in episodes and transitions.
    On the CPU the result is bitwise the same at any number of PyTorch threads and on any CPU with
    AVX2 when MKL's strict reproducible mode on its AVX2 branch and PyTorch's AVX2 kernels are used
    (``MKL_CBWR=AVX2,STRICT``, ``ATEN_CPU_CAPABILITY=avx2``, which importing :mod:`qdlib` before
    PyTorch sets); otherwise threaded matrix products round differently and runs drift apart.

    Examples
    --------
    A toy dimer task (its loss is zero at a 2.6 Å bond), 256 transitions from 16 copies: the first
    64 are random actions, then one update per step (the module docstring trains on the paper's
    Cd6Se6 case). The same seed gives the same agent:

    >>> import torch
    >>> from ase import Atoms
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
    >>> def forward(positions):  # a toy forward model: bond length r (Å) -> a 3-bin "spectrum"
    ...     r = (positions[:, 1] - positions[:, 0]).norm(dim=-1, keepdim=True)
    ...     return 1000.0 * torch.exp(-((r - torch.tensor([2.0, 2.6, 3.2])) ** 2))
    >>> task = DesignTask(dimer, [1], forward(torch.tensor(dimer.positions[None]))[0].numpy(), forward)
    >>> cfg = DDPGConfig(hidden=32, n_envs=16, learning_starts=64, batch_size=32, max_env_steps=256, eval_every=0)
    >>> result = train(task, cfg)
    >>> result.env_steps, result.updates, len(result.episode_returns) == len(result.episode_success) > 0
    (256, 13, True)
    >>> obs = torch.tensor([[0.0, 0.0, 2.2]])
    >>> torch.equal(train(task, cfg).agent.act(obs), result.agent.act(obs))
    True
    """
    from . import mkl_reproducible

    if not mkl_reproducible() and torch.get_num_threads() > 1:
        log.warning("PyTorch was imported before qdlib without MKL_CBWR: training at %d threads is not bitwise "
                    "reproducible at another thread count", torch.get_num_threads())  # fmt: skip
    from tqdm.auto import tqdm

    gen = torch.Generator().manual_seed(cfg.seed)
    t0 = time.perf_counter()
    with torch.random.fork_rng(devices=[]):  # the networks' initial weights from the seed; global state untouched
        torch.manual_seed(cfg.seed)
        agent = Agent(task, cfg)
    actor, critic = agent.actor, agent.critic
    actor_target, critic_target = copy.deepcopy(actor), copy.deepcopy(critic)
    actor_opt = torch.optim.Adam(actor.parameters(), lr=cfg.actor_lr)
    critic_opt = torch.optim.Adam(critic.parameters(), lr=cfg.critic_lr)
    n_act = 2 * task.n_movable
    rb = ReplayBuffer(cfg.buffer_size, 3 * task.n_movable, n_act, cfg.device)
    low, high = (torch.as_tensor(b, device=cfg.device) for b in task.action_bounds())
    env = BatchedDesignEnv(task, cfg.n_envs, seed=cfg.seed)
    eval_starts = task.sample_starts(cfg.eval_starts, torch.Generator().manual_seed(cfg.seed + 10_000))
    result = TrainResult(agent)
    obs = env.reset().to(cfg.device)
    ep_return = torch.zeros(cfg.n_envs, device=cfg.device)
    next_eval = cfg.eval_every
    bar = tqdm(total=cfg.total_episodes, desc="DDPG", unit="episode", disable=not progress)

    while len(result.episode_returns) < cfg.total_episodes:
        # -- act: uniform random at first, then the policy plus decaying uniform noise
        u = low + (high - low) * torch.rand((cfg.n_envs, n_act), generator=gen).to(cfg.device)
        if result.env_steps < cfg.learning_starts:
            action = u
        else:
            noise = (u - (low + high) / 2) / (1.0 + cfg.noise_decay * len(result.episode_returns))
            action = torch.max(torch.min(agent.act(obs) + noise, high), low)
        next_obs, reward, terminated, truncated = env.step(action)
        next_obs, reward = next_obs.to(cfg.device), reward.to(cfg.device)
        rb.add(obs, action, reward, next_obs, terminated.to(cfg.device))
        result.env_steps += cfg.n_envs
        ep_return += reward
        done = (terminated | truncated).to(cfg.device)
        if done.any():
            for k in done.nonzero().squeeze(1).tolist():
                result.episode_returns.append(float(ep_return[k]))
                result.episode_lengths.append(int(env.steps[k]))
                result.episode_success.append(bool(env.success[k]))
            bar.update(int(done.sum()))
            ep_return[done] = 0.0
            next_obs = env.reset_done(done.to(env.moved.device)).to(cfg.device)
        obs = next_obs

        # -- learn
        if len(rb) >= max(cfg.learning_starts, cfg.batch_size):
            for _ in range(cfg.updates_per_step):
                b_obs, b_act, b_rew, b_next, b_done = rb.sample(cfg.batch_size, gen)
                with torch.no_grad():
                    y = b_rew + cfg.gamma * (1.0 - b_done) * critic_target(b_next, actor_target(b_next))
                critic_loss = nn.functional.mse_loss(critic(b_obs, b_act), y)
                critic_opt.zero_grad()
                critic_loss.backward()
                critic_opt.step()
                actor_loss = -critic(b_obs, actor(b_obs)).mean()
                actor_opt.zero_grad()
                actor_loss.backward()
                actor_opt.step()
                with torch.no_grad():
                    for net, target in ((actor, actor_target), (critic, critic_target)):
                        for p, tp in zip(net.parameters(), target.parameters()):
                            tp.lerp_(p, cfg.tau)
                result.updates += 1

        # -- evaluate greedily, stop early when asked
        if cfg.eval_every and result.env_steps >= next_eval:
            next_eval += cfg.eval_every
            greedy = agent.design(eval_starts)
            result.evaluations.append(dict(env_steps=result.env_steps, wall_time_s=time.perf_counter() - t0,
                                           episodes=len(result.episode_returns), success_rate=greedy.success_rate,
                                           mean_loss=float(np.mean(greedy.loss))))  # fmt: skip
            bar.set_postfix(success=f"{greedy.success_rate:.2f}")
            if cfg.target_success is not None and greedy.success_rate >= cfg.target_success:
                break
        if cfg.max_env_steps is not None and result.env_steps >= cfg.max_env_steps:
            break
    bar.close()
    result.wall_time_s = time.perf_counter() - t0
    return result

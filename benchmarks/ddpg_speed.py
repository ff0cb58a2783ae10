"""DDPG speed: wall time to a trained designer, ours batched vs the paper's sequential loop vs stable-baselines3.

All three train on the same task (default: Cd6Se6, 1 movable atom, 4 Å cuboid, absorption target,
the released design-region surrogate as forward model) and are judged by the same criterion: greedy
rollouts from the same 100 random starts (one batched rollout, :func:`qdlib.ddpg.rollout`, for
every policy), success = ending inside the cuboid below the termination loss.

(a) ours, batched: ``n_envs`` copies per step, until ≥ 90 of 100 starts succeed;
(b) the paper's setting, sequential (one copy, one update per step), trained to the same success
    (or a cap in transitions), and extrapolated to the paper's 5000 episodes at its mean episode length;
(c) stable-baselines3 DDPG on the gymnasium environment with the same hyperparameters (one
    learning rate for both networks, Gaussian exploration noise: SB3's own), evaluated every
    ``--sb3-eval`` steps, until the same success or a cap in transitions (then its success there
    is printed). Caps are counted in work, so every run does the same computation; times are measured. Evaluation time is excluded from its clock.

Also: the inference time of one 100-start design, and the success of the 100 starts before any
step (how easy the criterion is: the forward model's loss is already below the termination loss there).

    python benchmarks/ddpg_speed.py --threads 2
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from qdlib.ddpg import DDPGConfig, rollout, train
from qdlib.design import DesignEnv, DesignTask
from qdlib.surrogates import DESIGN_MODEL
from qdlib.surrogates import load_released


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dot", default="Cd6Se6")
    p.add_argument("--n-movable", type=int, default=1)
    p.add_argument("--edge", type=float, default=4.0)
    p.add_argument("--kind", default="absorption")
    p.add_argument("--model", default=DESIGN_MODEL, help="released surrogate used as forward model")
    p.add_argument("--n-envs", type=int, default=64)
    p.add_argument("--updates-per-step", type=int, default=1)
    p.add_argument("--target", type=float, default=0.9)
    p.add_argument("--cap-steps", type=int, default=2_000_000, help="transitions cap of (a)")
    p.add_argument("--sequential-eval", type=int, default=2000, help="steps between greedy evaluations in the paper's setting")
    p.add_argument("--sequential-cap-steps", type=int, default=40_000, help="transitions cap of the paper's setting")
    p.add_argument("--sb3-eval", type=int, default=2000, help="SB3 steps between greedy evaluations")
    p.add_argument("--sb3-cap-steps", type=int, default=60_000, help="SB3 transitions cap")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    task = DesignTask.benchmark(args.dot, args.n_movable, args.edge, args.kind, surrogate=load_released(args.kind, args.model))
    starts = task.sample_starts(100, torch.Generator().manual_seed(args.seed + 10_000))
    with torch.no_grad():
        at_start = float((task.loss(task.spectra(starts)) < task.config.termination_loss).float().mean())
    print(f"task: {args.dot}, {args.n_movable} atom(s), {args.edge:g} Å, {args.kind}, forward model {args.model}; {args.threads} thread(s)")
    print(f"starts already below the termination loss: {at_start:.2f}")

    # (a) ours, batched
    cfg = DDPGConfig(n_envs=args.n_envs, updates_per_step=args.updates_per_step, target_success=args.target,
                     eval_every=32 * args.n_envs, total_episodes=10**7, max_env_steps=args.cap_steps, seed=args.seed)  # fmt: skip
    ours = train(task, cfg)
    last = ours.evaluations[-1]
    print(f"(a) batched ({args.n_envs} envs): success {last['success_rate']:.2f} after {ours.wall_time_s:.1f} s, "
          f"{ours.env_steps} transitions, {ours.updates} updates, {len(ours.episode_returns)} episodes")
    designs = [ours.agent.design(starts) for _ in range(5)]
    dist = np.linalg.norm(designs[0].positions - task.centre.numpy(), axis=-1).max(axis=1)
    print(f"    inference: one 100-start design {1e3 * np.median([d.wall_time_s for d in designs]):.1f} ms (median of 5); "
          f"designed atoms within 1 Å of the true position: {np.mean(dist < 1.0):.2f} (median distance {np.median(dist):.2f} Å)")

    # (b) the paper's sequential setting: to the same success (capped), and extrapolated to 5000 episodes
    seq_cfg = DDPGConfig(n_envs=1, eval_every=args.sequential_eval, target_success=args.target, total_episodes=10**7,
                         max_env_steps=args.sequential_cap_steps, seed=args.seed)  # fmt: skip
    seq = train(task, seq_cfg)
    per_step = seq.wall_time_s / seq.env_steps
    mean_len = float(np.mean(seq.episode_lengths)) if seq.episode_lengths else task.config.max_steps
    paper_s = per_step * 5000 * mean_len
    rate = seq.evaluations[-1]["success_rate"] if seq.evaluations else float("nan")
    verdict = "reached" if rate >= args.target else f"did not reach {args.target:.2f} (success {rate:.2f} at the cap)"
    print(f"(b) sequential (1 env, 1 update per step): {verdict} in {seq.wall_time_s:.1f} s, {seq.env_steps} steps "
          f"→ (b)/(a) = {seq.wall_time_s / ours.wall_time_s:.1f}×")
    print(f"    {1e3 * per_step:.2f} ms per step; the paper's 5000 episodes × {mean_len:.1f} steps (mean episode here) "
          f"→ {paper_s / 60:.1f} min = {paper_s / ours.wall_time_s:.0f}× (a)")

    # (c) stable-baselines3
    sb3 = _sb3(task, starts, args)
    if sb3 is not None:
        t_sb3, rate = sb3
        verdict = "reached" if rate >= args.target else f"did not reach {args.target:.2f} (success {rate:.2f} at the cap)"
        print(f"(c) stable-baselines3 DDPG: {verdict} in {t_sb3:.1f} s → (c)/(a) = {t_sb3 / ours.wall_time_s:.1f}×")


def _sb3(task, starts, args):
    try:
        from stable_baselines3 import DDPG
        from stable_baselines3.common.callbacks import BaseCallback
        from stable_baselines3.common.noise import NormalActionNoise
    except ImportError:
        print("(c) stable-baselines3 is not installed: pip install -e '.[bench]'")
        return None

    env = DesignEnv(task)
    n_act = env.action_space.shape[0]
    half = (env.action_space.high - env.action_space.low) / 2

    def greedy_success(model):
        act = lambda obs: torch.as_tensor(model.predict(obs.cpu().numpy(), deterministic=True)[0])  # noqa: E731
        return rollout(task, act, starts).success_rate

    class Stop(BaseCallback):
        def __init__(self):
            super().__init__()
            self.t0, self.rate, self.eval_s = time.perf_counter(), 0.0, 0.0

        def _on_step(self):
            if self.num_timesteps % args.sb3_eval == 0:
                t = time.perf_counter()
                self.rate = greedy_success(self.model)
                self.eval_s += time.perf_counter() - t
                if self.rate >= args.target:
                    return False
            return True

    model = DDPG("MlpPolicy", env, learning_rate=1e-3, buffer_size=100_000, batch_size=256, tau=0.001, gamma=0.9,
                 action_noise=NormalActionNoise(np.zeros(n_act), 0.3 * half), policy_kwargs={"net_arch": [300, 300]},
                 learning_starts=256, seed=args.seed, device="cpu")  # fmt: skip
    cb = Stop()
    model.learn(total_timesteps=args.sb3_cap_steps, callback=cb)
    return time.perf_counter() - cb.t0 - cb.eval_s, cb.rate


if __name__ == "__main__":
    main()

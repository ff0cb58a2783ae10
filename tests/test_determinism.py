"""The same seed gives the same designer at any number of PyTorch threads (issue: same numbers on every machine)."""

import subprocess
import sys
import textwrap


SCRIPT = textwrap.dedent(
    """
    import sys, hashlib
    import qdlib  # first: sets MKL's strict reproducible mode before PyTorch loads MKL
    import torch
    torch.set_num_threads(int(sys.argv[1]))
    from qdlib.agents import Case, case_task
    from qdlib.ddpg import DDPGConfig, train
    task = case_task(Case("absorption", "Cd6Se6", 4.0, 1))
    r = train(task, DDPGConfig(n_envs=64, eval_every=0, total_episodes=10**7, max_env_steps=64 * 150, seed=0))
    d = r.agent.design(task.sample_starts(100, torch.Generator().manual_seed(0)))
    w = torch.cat([p.detach().flatten() for p in r.agent.actor.parameters()]).numpy()
    print(r.env_steps, r.updates, d.success_rate, hashlib.sha256(w.tobytes()).hexdigest(), hashlib.sha256(d.positions.tobytes()).hexdigest())
    """
)


def _train(threads: int) -> list[str]:
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(threads)], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_training_is_bitwise_the_same_at_one_and_two_threads():
    one, two = _train(1), _train(2)
    assert one[:2] == ["9600", two[1]]
    assert one == two  # success, weights and designs, to the bit


def test_training_leaves_the_global_random_state_alone():
    import torch

    from qdlib.ddpg import DDPGConfig, train
    from tests.test_design import toy_task

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train(toy_task(4.0), DDPGConfig(n_envs=4, total_episodes=2, eval_every=0, seed=7))
    assert torch.equal(torch.rand(3), expected)

"""The same seed gives the same designer at any number of PyTorch threads and on any CPU code path."""

import os
import subprocess
import sys
import textwrap

import pytest


SCRIPT = textwrap.dedent(
    """
    import sys, hashlib
    import qdlib  # first: sets MKL's strict reproducible mode before PyTorch loads MKL
    import torch
    torch.set_num_threads(int(sys.argv[1]))
    from qdlib.agents import Case, case_task
    from qdlib.ddpg import DDPGConfig, train
    task = case_task(Case(sys.argv[2] if len(sys.argv) > 2 else "absorption", "Cd6Se6", 4.0, 1))
    r = train(task, DDPGConfig(n_envs=64, eval_every=0, total_episodes=10**7, max_env_steps=64 * 150, seed=0))
    d = r.agent.design(task.sample_starts(100, torch.Generator().manual_seed(0)))
    w = torch.cat([p.detach().flatten() for p in r.agent.actor.parameters()]).numpy()
    print(r.env_steps, r.updates, d.success_rate, hashlib.sha256(w.tobytes()).hexdigest(), hashlib.sha256(d.positions.tobytes()).hexdigest())
    """
)


def _train(threads: int, kind: str = "absorption", **env) -> list[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("MKL_CBWR", "ATEN_CPU_CAPABILITY")} | env
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(threads), kind], capture_output=True, text=True, check=True,
                         env=environ)  # fmt: skip
    return out.stdout.split()


def _has_avx512() -> bool:
    try:
        return " avx512f" in open("/proc/cpuinfo").read()
    except OSError:
        return False


@pytest.mark.slow  # minutes: two trainings
def test_training_is_bitwise_the_same_at_one_and_two_threads():
    one, two = _train(1), _train(2)
    assert one[:2] == ["9600", two[1]]
    assert one == two  # success, weights and designs, to the bit


@pytest.mark.slow  # minutes: a training per forced code path
@pytest.mark.parametrize("kind", ["absorption", "emission"])
def test_training_is_bitwise_the_same_on_the_code_paths_of_avx2_and_avx512_cpus(kind):
    """The code paths a CPU picks for itself, forced here one by one: PyTorch's vectorised kernels of an AVX2 and
    of an AVX-512 CPU (``ATEN_CPU_CAPABILITY``), under qdlib's MKL pin (its AVX2 branch in strict mode, which both
    run), and MKL's pin given explicitly at one thread: the same transitions, success and weights. (ATen's scalar
    ``default`` path — a CPU without AVX2 — draws its normal variates differently: docs/design-and-ddpg.md, "Same numbers on every machine".)"""
    reference = _train(2, kind)
    for aten in ["avx2"] + (["avx512"] if _has_avx512() else []):
        assert _train(2, kind, ATEN_CPU_CAPABILITY=aten) == reference, f"ATen {aten}"
    assert _train(1, kind, MKL_CBWR="AVX2,STRICT") == reference  # the pin, given explicitly, at one thread


def test_training_leaves_the_global_random_state_alone():
    import torch

    from qdlib.ddpg import DDPGConfig, train
    from tests.fakes import toy_task

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train(toy_task(4.0), DDPGConfig(n_envs=4, total_episodes=2, eval_every=0, seed=7))
    assert torch.equal(torch.rand(3), expected)

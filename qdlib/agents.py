"""Trained designers for the paper's benchmark cases: train, save, load (``data/agents``).

A case is (spectrum kind, dot, cuboid edge, number of movable atoms); its agent is
a :class:`qdlib.ddpg.Agent` trained on :meth:`qdlib.design.DesignTask.benchmark`
with a named forward model (a released surrogate). The validation and PSO
notebooks load these instead of retraining.

>>> run_cases([Case("absorption", "Cd6Se6", 4.0, 1)], DDPGConfig(n_envs=64, target_success=0.9))  # doctest: +SKIP
>>> agent, history = load_case(Case("absorption", "Cd6Se6", 4.0, 1))                            # doctest: +SKIP
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .ddpg import Agent, DDPGConfig, load_history, train
from .design import DesignTask
from .forward import DESIGN_MODEL

__all__ = ["Case", "DESIGN_MODEL", "AGENT_CONFIG", "all_cases", "released_cases", "case_task", "agent_path", "run_cases", "load_case"]

#: How the released agents are trained: batched, until 90 of 100 greedy starts succeed or 200 000
#: transitions (3125 batched steps of 64 copies) are spent.
AGENT_CONFIG = DDPGConfig(n_envs=64, target_success=0.9, eval_every=64 * 32, total_episodes=10**7, max_env_steps=200_000)


@dataclass(frozen=True)
class Case:
    """One design case of the paper."""

    kind: str
    dot: str
    edge_angstrom: float
    n_movable: int

    @property
    def name(self) -> str:
        return f"{self.kind}/{self.dot}_{self.edge_angstrom:g}A_{self.n_movable}"


def all_cases(
    kinds: Sequence[str] = ("absorption",),
    dots: Sequence[str] = ("Cd6Se6", "Cd4Se4", "Cd5Te5", "Cd5Se1Te4"),
    edges_angstrom: Sequence[float] = (4.0, 10.0),
    n_movable: Sequence[int] = (1, 2, 3),
) -> list[Case]:
    """Every combination, in this order (Cd6Se6 and the 4 Å cuboid first)."""
    return [Case(*c) for c in itertools.product(kinds, dots, edges_angstrom, n_movable)]


def released_cases() -> list[Case]:
    """The cases ``data/agents`` holds: every absorption case (notebook 04), and Cd6Se6's emission cases (Fig. 5)."""
    return all_cases(("absorption",)) + all_cases(("emission",), ("Cd6Se6",))


def case_task(case: Case, model: str = DESIGN_MODEL) -> DesignTask:
    """The design task of ``case`` with the released surrogate ``model`` as forward model."""
    from .surrogates import load_released

    return DesignTask.benchmark(case.dot, case.n_movable, case.edge_angstrom, case.kind,
                                surrogate=load_released(case.kind, model))  # fmt: skip


def agent_path(case: Case, root: str | Path | None = None) -> Path:
    """Where the agent of ``case`` lives: ``<root>/<kind>/<dot>_<edge>A_<n>`` (``.json`` + ``.pt``)."""
    from .paths import data_dir

    return Path(root if root is not None else data_dir() / "agents") / case.name


def run_cases(
    cases: Iterable[Case],
    config: DDPGConfig = AGENT_CONFIG,
    model: str = DESIGN_MODEL,
    root: str | Path | None = None,
    retrain: bool = False,
    progress: bool = True,
) -> list[dict]:
    """Train (or skip, when saved and ``retrain`` is false) the agent of every case; save each as it finishes.

    Returns
    -------
    list of dict
        Per case: ``case``, ``trained`` (False: loaded), ``success_rate`` (last greedy evaluation
        on 100 starts), ``wall_time_s``, ``env_steps``, ``episodes``.
    """
    from tqdm.auto import tqdm

    rows = []
    cases = list(cases)
    for case in tqdm(cases, desc="agents", unit="case", disable=not progress):
        path = agent_path(case, root)
        if path.with_suffix(".json").is_file() and not retrain:
            history, trained = load_history(path), False
        else:
            result = train(case_task(case, model), config)
            result.agent.save(path, history=result, forward=model)
            history, trained = load_history(path), True
        last = history["evaluations"][-1] if history.get("evaluations") else {}
        rows.append(dict(case=case, trained=trained, success_rate=last.get("success_rate", float("nan")),
                         wall_time_s=history.get("wall_time_s", float("nan")), env_steps=history.get("env_steps", 0),
                         episodes=history.get("episodes", 0)))  # fmt: skip
    return rows


def load_case(case: Case, root: str | Path | None = None, model: str | None = None) -> tuple[Agent, dict]:
    """The saved agent of ``case`` (on its task) and its training history.

    ``model`` defaults to the forward model the agent was trained with (recorded at save).
    """
    import json

    path = agent_path(case, root)
    if not path.with_suffix(".json").is_file():
        raise FileNotFoundError(f"no agent for {case.name} under {path.parent}; train it with qdlib.agents.run_cases")
    if root is None:  # released agents: hash-checked
        from .release import verified_path

        for suffix in (".json", ".pt"):
            verified_path(f"agents/{case.name}{suffix}")
    meta = json.loads(path.with_suffix(".json").read_text())
    task = case_task(case, model or meta.get("forward", DESIGN_MODEL))
    return Agent.load(path, task), meta.get("history", {})

"""Run the ordered notebooks with papermill: the whole reproduction in one call.

Profiles are folders under ``params/``; ``params/<profile>/<notebook stem>.yaml``
holds the papermill parameters of one notebook (absent file: the notebook's
own defaults). The ``default`` profile executes the notebooks in place, so
the committed notebooks are its output; other profiles write the executed
notebooks to ``build/<profile>/``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from .paths import notebooks_dir, params_dir, repo_root

__all__ = ["NotebookRun", "RUNS_FILE", "list_notebooks", "load_parameters", "release_readers", "reproduce", "record_run", "times_table"]

log = logging.getLogger(__name__)

#: Every ``qdlib reproduce`` run's notebook times, one JSON line per run (relative to the checkout):
#: the one source of the notebooks' times (:func:`times_table`).
RUNS_FILE = "benchmarks/results/reproduce_runs.jsonl"


@dataclass(frozen=True)
class NotebookRun:
    """One executed notebook: where it was written and how long it took (s)."""

    notebook: Path
    output: Path
    parameters: dict
    wall_time_s: float


def list_notebooks(folder: Path | None = None) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``) in execution order.

    >>> [path.name for path in list_notebooks()][:2]
    ['00_quickstart.ipynb', '01_dataset_generation.ipynb']
    """
    folder = folder or notebooks_dir()
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def release_readers(folder: Path | None = None) -> list[str]:
    """Numbers of the notebooks that read released files of ``data/`` (dataset, campaign logs, models, agents).

    Their committed outputs are checked by nbval, and each prints the fingerprint of what it read
    (:func:`qdlib.release.fingerprint`), so a new release (``qdlib export-dataset``) is followed by
    executing them again.

    >>> release_readers()[:2]
    ['01', '02']
    """
    readers = ("load_tddft_dataset", "read_campaigns", "load_released", "load_case", "gaussian_agreement")
    return [nb.name[:2] for nb in list_notebooks(folder) if any(r in nb.read_text() for r in readers)]


def read_fingerprints(folder: Path | None = None) -> dict[str, str]:
    """Each notebook's release fingerprint as the registry stands now (the line its checked cell prints).

    The prefixes are read from the notebook's ``fingerprint(...)`` call; a notebook whose line
    differs after a release has stale checked outputs until it is executed again.

    >>> lines = read_fingerprints()
    >>> lines["02"].startswith("release read: models/ ")
    True
    """
    import ast
    import json
    import re

    from .release import fingerprint

    out = {}
    for nb in list_notebooks(folder):
        source = "\n".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code")
        call = re.search(r"fingerprint\(([^)]*)\)", source)
        if call:
            out[nb.name[:2]] = fingerprint(*ast.literal_eval(f"[{call.group(1)}]"))
    return out


def load_parameters(profile: str, notebook: Path) -> dict:
    """Papermill parameters of ``notebook`` under ``profile`` (empty when no file).

    >>> notebook = list_notebooks()[3]
    >>> notebook.name, load_parameters("default", notebook)
    ('03_ddpg_training.ipynb', {})
    >>> load_parameters("fast", notebook)
    Traceback (most recent call last):
        ...
    ValueError: unknown profile 'fast'; known profiles: ['default', 'paper']
    """
    profile_dir = params_dir() / profile
    if not profile_dir.is_dir():
        known = sorted(p.name for p in params_dir().iterdir() if p.is_dir())
        raise ValueError(f"unknown profile {profile!r}; known profiles: {known}")
    path = profile_dir / f"{notebook.stem}.yaml"
    if not path.exists():
        return {}
    params = yaml.safe_load(path.read_text()) or {}
    if not isinstance(params, dict):
        raise ValueError(f"{path} must hold a mapping of parameter names to values")
    return params


def reproduce(profile: str = "default", only: list[str] | None = None, kernel_name: str = "python3") -> list[NotebookRun]:
    """Execute every notebook in order under ``profile``.

    Parameters
    ----------
    profile : str
        A folder under ``params/`` (``default`` or ``paper``).
    only : list of str, optional
        Run only notebooks whose name starts with one of these prefixes (e.g. ``["01", "02"]``).
    kernel_name : str
        Jupyter kernel to execute with.

    Returns
    -------
    list of NotebookRun

    Notes
    -----
    Executes notebooks for minutes (``default``) to hours (``paper``), so it has no docstring
    example: ``make reproduce`` and ``qdlib reproduce --profile paper`` call it.
    """
    import papermill as pm

    runs = []
    for nb in list_notebooks():
        if only and not any(nb.name.startswith(p) for p in only):
            continue
        params = load_parameters(profile, nb)
        if profile == "default":
            out = nb
        else:
            out = repo_root() / "build" / profile / nb.name
            out.parent.mkdir(parents=True, exist_ok=True)
        log.info("executing %s (profile %s, %d parameter(s))", nb.name, profile, len(params))
        t0 = time.perf_counter()
        root = repo_root()
        with contextlib.chdir(root):  # paths relative to the checkout land in the notebook's metadata
            pm.execute_notebook(
                str(nb.relative_to(root)),
                str(out.relative_to(root)),
                parameters=params,
                kernel_name=kernel_name,
                cwd=str(nb.parent.relative_to(root)),
                progress_bar=True,
                log_output=log.isEnabledFor(logging.INFO),  # cell output (progress lines) as it comes, with --verbose
            )
        runs.append(NotebookRun(nb, out, params, time.perf_counter() - t0))
    return runs


def record_run(runs: list[NotebookRun], profile: str, path: Path | None = None) -> dict:
    """Append one run's notebook times to :data:`RUNS_FILE` with what the machine was doing.

    The line: date, profile, CPU model and core count, the load average (1 min) at the end, the
    commit and whether the checkout had uncommitted changes, and seconds per notebook.
    """
    import json
    import os
    import platform
    import subprocess
    from datetime import datetime, timezone

    root = repo_root()
    git = lambda *a: subprocess.run(["git", *a], cwd=root, capture_output=True, text=True).stdout.strip()  # noqa: E731
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()  # fmt: skip
    record = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "profile": profile,
        "cpu": cpu, "cores": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2),
        "commit": git("rev-parse", "--short", "HEAD"), "uncommitted": bool(git("status", "--porcelain", "--untracked-files=no")),
        "seconds": {r.notebook.stem: round(r.wall_time_s, 1) for r in runs},
    }  # fmt: skip
    path = path or root / RUNS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fh.write(json.dumps(record) + "\n")
    return record


def times_table(records: list[dict], profile: str = "default") -> str:
    """Per notebook: the runs recorded, the fastest, the median and the slowest time (s), and the load
    of the machine in the fastest run — the times vary with what else runs.

    >>> recs = [{"profile": "default", "load_1min": l, "seconds": {"01_x": s}} for l, s in ((0.5, 100.0), (5.0, 300.0))]
    >>> print(times_table(recs))
    notebook                      runs  fastest s  median s  slowest s  load at fastest
    01_x                             2      100.0     200.0      300.0              0.5
    """
    import numpy as np

    lines = [f"{'notebook':28s} {'runs':>5s} {'fastest s':>10s} {'median s':>9s} {'slowest s':>10s} {'load at fastest':>16s}"]
    mine = [r for r in records if r["profile"] == profile]
    for nb in sorted({k for r in mine for k in r["seconds"]}):
        got = [(r["seconds"][nb], r["load_1min"]) for r in mine if nb in r["seconds"]]
        t = np.array([g[0] for g in got])
        lines.append(f"{nb:28s} {len(got):5d} {t.min():10.1f} {np.median(t):9.1f} {t.max():10.1f} "
                     f"{min(got)[1]:16.1f}")  # fmt: skip
    return "\n".join(lines)

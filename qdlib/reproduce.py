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

__all__ = ["NotebookRun", "list_notebooks", "load_parameters", "release_readers", "reproduce"]

log = logging.getLogger(__name__)


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

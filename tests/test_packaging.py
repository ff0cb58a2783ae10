"""pyproject.toml and environment.yml ask for the same packages."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
#: PyPI name -> conda-forge names where they differ.
CONDA_NAMES = {"torch": {"pytorch"}, "dask[distributed]": {"dask", "distributed"}, "tblite": {"tblite-python"}}
#: Only on one side by design.
PIP_ONLY = {"gpu4pyscf-cuda12x"}  # CUDA wheels; installed with pip on GPU machines
CONDA_ONLY = {"python", "pip"}


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ ]", spec, maxsplit=1)[0].strip().lower()


def test_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_names = {_name(s) for s in project["dependencies"] + project["optional-dependencies"]["test"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_names = {_name(s) for s in env["dependencies"] if isinstance(s, str)}
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pip_only = {_name(s) for s in pip_section if s != "-e ."}  # packages conda-forge does not carry
    expected = set()
    for name in pip_names:
        expected |= CONDA_NAMES.get(name, {name})
    assert expected == (conda_names - CONDA_ONLY) | pip_only and not conda_names & pip_only
    assert "conda-forge" in env["channels"]
    assert "-e ." in pip_section


def test_extras():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert {_name(s) for s in extras["gpu"]} == PIP_ONLY
    assert "pytest" in {_name(s) for s in extras["test"]}
    assert {_name(s) for s in extras["postgres"]} == {"ase-db-backends", "psycopg2-binary"}
    assert project["scripts"]["qdlib"] == "qdlib.cli:main"


def test_top_level_layout():
    for name in ["notebooks", "qdlib", "data", "figures", "tests", "environment.yml", "README.md", ".ci/run"]:
        assert (ROOT / name).exists(), name



def test_every_module_is_listed_in_the_layout_page():
    root = Path(__file__).resolve().parents[1]
    modules = {".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
               for p in (root / "qdlib").rglob("*.py")}  # fmt: skip
    listed = set(re.findall(r"^\| `([\w.]+)` \|", (root / "docs" / "layout.md").read_text(), flags=re.M))
    assert modules == listed, f"not listed: {sorted(modules - listed)}; listed but gone: {sorted(listed - modules)}"

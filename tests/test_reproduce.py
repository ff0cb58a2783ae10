import re

import papermill as pm
import pytest

from qdlib import cli, reproduce
from qdlib.paths import params_dir


def test_notebooks_are_numbered_in_order():
    names = [p.name for p in reproduce.list_notebooks()]
    assert names and names == sorted(names)
    assert names[0].startswith("00_")


@pytest.mark.parametrize("notebook", reproduce.list_notebooks(), ids=lambda p: p.stem)
def test_notebook_has_typed_parameters_and_clean_metadata(notebook):
    params = pm.inspect_notebook(str(notebook))
    assert params, f"{notebook.name} has no parameters-tagged cell"
    import nbformat
    import re

    cell = next(c for c in nbformat.read(notebook, 4).cells if "parameters" in c.metadata.get("tags", []))
    assigned = [m.group(1) for m in re.finditer(r"^(\w+)\s*(?::[^=]*)?=", cell.source, re.M)]
    assert assigned == list(params), f"papermill parsed {list(params)} of {assigned}"
    for name, info in params.items():
        assert info["inferred_type_name"] != "None", f"{name} has no type annotation"
        assert info["help"], f"{name} has no comment"
    text = notebook.read_text()
    assert '"name": "python3"' in text
    assert "/work/" not in text and "/home/" not in text and "/root/" not in text


@pytest.mark.parametrize("number", reproduce.release_readers())
def test_a_notebook_reading_the_release_checks_its_fingerprint(number):
    """A new release fails nbval on every notebook that read the old one until it is executed again."""
    import nbformat

    from qdlib.release import fingerprint

    notebook = next(p for p in reproduce.list_notebooks() if p.name.startswith(number))
    cells = [c for c in nbformat.read(notebook, 4).cells if c.cell_type == "code" and "fingerprint(" in c.source]
    assert cells, f"{notebook.name} reads released files but prints no fingerprint of them"
    cell = cells[0]
    assert cell.source.startswith("# NBVAL_CHECK_OUTPUT")
    prefixes = re.findall(r'"([^"]+)"', cell.source.split("fingerprint(", 1)[1].split(")", 1)[0])
    printed = "".join(o.get("text", "") for o in cell.outputs).strip()
    assert printed == fingerprint(*prefixes), f"{notebook.name} was executed on another release: qdlib reproduce --only {number}"


@pytest.mark.parametrize("profile", ["default", "paper"])
def test_profile_files_name_real_parameters(profile):
    for notebook in reproduce.list_notebooks():
        given = reproduce.load_parameters(profile, notebook)
        declared = pm.inspect_notebook(str(notebook))
        assert set(given) <= set(declared), f"{profile}/{notebook.stem}.yaml: unknown {set(given) - set(declared)}"
    for path in (params_dir() / profile).glob("*.yaml"):
        assert any(nb.stem == path.stem for nb in reproduce.list_notebooks()), f"{path.name} names no notebook"


def test_unknown_profile():
    with pytest.raises(ValueError, match="unknown profile"):
        reproduce.load_parameters("huge", reproduce.list_notebooks()[0])


def test_cli_reports_errors(capsys):
    assert cli.main(["reproduce", "--profile", "huge"]) == 2
    assert "unknown profile" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["--help"])


def _notebook(path, lines):
    import json

    cell = {"cell_type": "code", "source": [], "metadata": {}, "execution_count": 1,
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "".join(f"{x}\n" for x in lines)}]}  # fmt: skip
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


def test_two_executions_are_compared_outside_timing_lines(tmp_path):
    import importlib.util
    import json

    from qdlib.paths import repo_root

    spec = importlib.util.spec_from_file_location("reproduce_twice", repo_root() / "benchmarks" / "reproduce_twice.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    _notebook(a / "01_x.ipynb", ["success 0.91", "timing: trained in 12 s", "<object at 0x7f00aa>"])
    _notebook(b / "01_x.ipynb", ["success 0.91", "timing: trained in 31 s", "<object at 0x7f00bb>"])
    assert module.compare(a, b) == ([], [])
    _notebook(b / "01_x.ipynb", ["success 0.83", "timing: trained in 31 s", "<object at 0x7f00bb>"])
    text, _ = module.compare(a, b)
    assert len(text) == 1 and "success 0.91" in text[0]
    split = json.loads((a / "01_x.ipynb").read_text())  # the same stdout, cut into chunks elsewhere by another run
    text_out = split["cells"][0]["outputs"][0]["text"]
    split["cells"][0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": text_out[:7]},
                                    {"output_type": "stream", "name": "stdout", "text": text_out[7:]}]  # fmt: skip
    (b / "01_x.ipynb").write_text(json.dumps(split))
    assert module.compare(a, b) == ([], [])

"""pytest configuration of the checkout: the docstring examples of ``qdlib`` run offline and headless.

``tests/conftest.py`` sets up the unit tests; this file covers the doctests collected from
``qdlib/`` (``--doctest-modules``), which that one does not reach, and marks the notebooks' cells
(nbval's items) ``notebook``. Loading it imports neither qdlib nor PyTorch, so collection order and
MKL's reproducible mode are as without it; the doctests' own fixture imports their slow
dependencies once, after collection.
"""

import os
from pathlib import Path

import pytest

# The authors' files from the offline mirror beside the checkout (as tests/conftest.py and CI):
# set before qdlib.datasets creates its pooch registry, so no example downloads anything.
_MIRROR = Path(__file__).resolve().parent.parent / "shared" / "paper_data"
if "QDLIB_DATA_DIR" not in os.environ and _MIRROR.is_dir():
    os.environ["QDLIB_DATA_DIR"] = str(_MIRROR)
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(config, items):
    """Mark every notebook cell nbval collects (items from ``.ipynb`` files) ``notebook``: ``-m "not notebook"``.

    Here and not in ``tests/conftest.py``: that one is not loaded when only ``notebooks/`` is collected.
    """
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebook)


#: Modules the examples use that take seconds to import the first time (PyTorch's optimisers
#: pull in torch._dynamo). Imported once before the first doctest, so that ``--durations``
#: times each example and not whichever example happens to import them first; the import
#: time appears as the setup of the first doctest.
_SLOW_IMPORTS = (
    "torch", "torch._dynamo", "scipy.optimize", "sklearn.ensemble", "skops.io",
    "ase.io", "ase.db", "ase.optimize", "tblite.ase", "matplotlib.pyplot",
)


@pytest.fixture(scope="session")
def _doctest_imports():
    import importlib

    for name in _SLOW_IMPORTS:
        importlib.import_module(name)


@pytest.fixture(autouse=True)
def _doctest_scratch_dir(request):
    """Run each doctest in its own empty folder, figures written there too (examples that write
    files leave nothing behind), and close the figures it drew."""
    from _pytest.doctest import DoctestItem

    if not isinstance(request.node, DoctestItem):
        yield
        return
    request.getfixturevalue("_doctest_imports")
    tmp_path = request.getfixturevalue("tmp_path")
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QDLIB_FIGURES_DIR", str(tmp_path / "figures"))  # not the checkout's figures/
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")

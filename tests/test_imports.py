"""No import circles inside qdlib: every module can be imported on its own, in any order.

The graph is built from the source (``ast``), not from what happens to be imported at run time,
so an import inside a function counts as much as one at the top of a module.
"""

import ast
import importlib.util
import pkgutil

import qdlib


def _modules(package) -> list[str]:
    """The package and all of its modules and subpackages, by dotted name."""
    return [package.__name__] + [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]


def _imported(name: str, is_package: bool, source: str, known: set[str]) -> set[str]:
    """The modules of ``known`` that module ``name`` imports anywhere in ``source`` (top level and functions)."""
    here = name if is_package else name.rpartition(".")[0]  # what a relative import starts from
    found = set()

    def add(target: str) -> None:  # the module itself, or the nearest enclosing one that is known
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.rsplit(".", node.level - 1)[0] if node.level > 1 else here
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module
            for alias in node.names:  # ``from . import spectra`` imports the module spectra
                if f"{module}.{alias.name}" in known:
                    add(f"{module}.{alias.name}")
                else:
                    add(module)
    return found


def import_graph(sources: dict[str, tuple[bool, str]]) -> dict[str, set[str]]:
    """``{module: modules it imports}`` among ``sources`` (``{name: (is_package, source)}``)."""
    known = set(sources)
    return {name: _imported(name, is_pkg, src, known) for name, (is_pkg, src) in sources.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of ``graph``, each as a path that returns to its start."""
    found, state = [], {}  # state: 1 on the current path, 2 done

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def _package_sources() -> dict[str, tuple[bool, str]]:
    out = {}
    for name in _modules(qdlib):
        spec = importlib.util.find_spec(name)
        with open(spec.origin, encoding="utf-8") as fh:
            out[name] = (spec.submodule_search_locations is not None, fh.read())
    return out


def test_qdlib_has_no_import_cycles():
    sources = _package_sources()
    assert {"qdlib.qchem", "qdlib.qchem.engine", "qdlib.store"} <= set(sources)  # the walk reaches subpackages
    graph = import_graph(sources)
    assert "qdlib.qchem" in graph["qdlib.store"]  # the store is built on qchem ...
    assert cycles(graph) == []  # ... and nothing in qchem imports it back


def test_qchem_modules_do_not_import_the_store():
    graph = import_graph(_package_sources())
    assert not {m for m, deps in graph.items() if m.startswith("qdlib.qchem") and "qdlib.store" in deps}


def test_cycles_through_function_level_and_relative_imports_are_found():
    """The detector itself: a circle closed by an import inside a function, through a package's __init__."""
    sources = {
        "pkg": (True, ""),
        "pkg.store": (False, "from .sub import key\n"),
        "pkg.sub": (True, "from .engine import key\n"),
        "pkg.sub.engine": (False, "def key():\n    from ..store import put\n    from . import helpers\n"),
        "pkg.sub.helpers": (False, "import numpy\nfrom pkg import sub\n"),
    }
    graph = import_graph(sources)
    assert graph["pkg.sub.engine"] == {"pkg.store", "pkg.sub.helpers"}
    assert graph["pkg.sub.helpers"] == {"pkg.sub"}
    assert sorted(map(tuple, cycles(graph))) == [
        ("pkg.store", "pkg.sub", "pkg.sub.engine", "pkg.store"),
        ("pkg.sub", "pkg.sub.engine", "pkg.sub.helpers", "pkg.sub"),
    ]
    sources["pkg.sub.engine"] = (False, "def key():\n    pass\n")
    assert cycles(import_graph(sources)) == []


def test_campaign_library_and_references_do_not_load_the_learning_layers():
    """The design campaigns, the cluster library and the reference dots (with the lookups of stored results)
    sit below the DDPG layer: importing them loads no agent code nor torch."""
    import subprocess
    import sys

    code = ("import sys, qdlib.campaign, qdlib.library, qdlib.references; "
            "print(sorted(m for m in ('qdlib.ddpg', 'qdlib.agents', 'qdlib.design', 'torch') if m in sys.modules))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

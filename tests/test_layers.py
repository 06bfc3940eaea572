"""The package's import graph: no cycles, no import from a higher layer, no private name imported
from another module.

Every module under src/fl_estimate is parsed with :mod:`ast` (nothing is imported); every
``import`` and ``from ... import`` counts, also those inside functions and under
``TYPE_CHECKING``: an import deferred to run time is still a dependency. Importing a submodule is
an edge to that submodule only (not to its parent package's ``__init__``).

Layers, bottom first; a module may import from its own layer and the ones below:

1. exceptions, _typing, _palette, _io, _lazy, _version, _figures, seeds, outputs, i18n
2. data model and results: results, mse.data (its pandas-free checks in mse.patterns), disclosure
3. estimators: the rest of mse, indicators, simulate, stats
4. providers, plotting, reporting
5. pipeline (the only place that composes linkage, estimation and reporting)
6. cli

The package's own ``__init__`` (the public facade) sits above everything: no module imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "fl_estimate"

LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "fl_estimate.exceptions",
        "fl_estimate._typing",
        "fl_estimate._palette",
        "fl_estimate._io",
        "fl_estimate._lazy",
        "fl_estimate._version",
        "fl_estimate._figures",
        "fl_estimate.seeds",
        "fl_estimate.outputs",
        "fl_estimate.i18n",
        "fl_estimate.tabular",
    ),
    (
        "fl_estimate.results",
        "fl_estimate.mse.data",
        "fl_estimate.mse.patterns",
        "fl_estimate.disclosure",
    ),
    ("fl_estimate.mse", "fl_estimate.indicators", "fl_estimate.simulate", "fl_estimate.stats"),
    ("fl_estimate.providers", "fl_estimate.plotting", "fl_estimate.reporting"),
    ("fl_estimate.pipeline",),
    ("fl_estimate.cli",),
)

#: Known exceptions (none): each entry would be (importing module, imported module or
#: "module:name").
ALLOWED_UPWARD: set[tuple[str, str]] = set()
ALLOWED_PRIVATE: set[tuple[str, str]] = set()
ALLOWED_CYCLES: list[set[str]] = []


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((SRC / ROOT).rglob("*.py"))}


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    if not _is_package(importer):
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _imports(name: str) -> list[tuple[str, str | None]]:
    """(imported module, name imported from it or None) for every import in a module."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    out: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, None) for a in node.names if a.name.split(".")[0] == ROOT]
        elif isinstance(node, ast.ImportFrom):
            mod = _resolve(name, node)
            if mod.split(".")[0] != ROOT:
                continue
            for a in node.names:
                sub = f"{mod}.{a.name}"
                out.append((sub, None) if sub in MODULES else (mod, a.name))
    return out


def _graph() -> dict[str, set[str]]:
    return {m: {t for t, _ in _imports(m) if t in MODULES and t != m} for m in MODULES}


def _layer(name: str) -> int:
    """The layer of a module: the one of the longest prefix named in LAYERS."""
    if name == ROOT:
        return len(LAYERS) + 1
    best, level = -1, None
    for i, names in enumerate(LAYERS, start=1):
        for prefix in names:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, level = len(prefix), i
    assert level is not None, f"{name} is in no layer: add it to LAYERS in tests/test_layers.py"
    return level


def test_every_module_has_a_layer() -> None:
    for m in MODULES:
        _layer(m)


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles() -> None:
    cycles = [c for c in _cycles(_graph()) if c not in ALLOWED_CYCLES]
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(sorted(c)) for c in cycles)


def test_no_import_from_a_higher_layer() -> None:
    bad = [
        f"{m} (layer {_layer(m)}) imports {t} (layer {_layer(t)})"
        for m, targets in _graph().items()
        for t in sorted(targets)
        if _layer(t) > _layer(m) and (m, t) not in ALLOWED_UPWARD
    ]
    assert not bad, "\n".join(bad)


def test_no_private_name_imported_from_another_module() -> None:
    bad = [
        f"{m} imports {name} from {t}"
        for m in MODULES
        for t, name in _imports(m)
        if name is not None
        and name.startswith("_")
        and not name.startswith("__")
        and (m, f"{t}:{name}") not in ALLOWED_PRIVATE
    ]
    assert not bad, "\n".join(bad)


def test_reporting_never_imports_the_pipeline() -> None:
    graph = _graph()
    for m in (m for m in MODULES if m.startswith("fl_estimate.reporting")):
        assert not {t for t in graph[m] if t.startswith("fl_estimate.pipeline")}, m


@pytest.mark.parametrize("module", [m for m in MODULES if m.startswith("fl_estimate.cli")], ids=str)
def test_cli_modules_import_no_heavy_library_at_the_top(module: str) -> None:
    """``fl-estimate --help`` loads the command modules: they import pandas, scipy, matplotlib,
    PyMC, splink and numba inside the commands only."""
    heavy = {"pandas", "scipy", "matplotlib", "pymc", "splink", "numba", "arviz", "duckdb"}
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    top = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            top += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top.append(node.module)
    assert not {t.split(".")[0] for t in top} & heavy, module
    inside = {t for t in top if t.split(".")[0] == ROOT}
    # fl_estimate.i18n: gettext only at import (Babel inside its functions), ~10 ms; the help
    # texts are catalog messages (N_) and --help in French translates them
    light = {
        "fl_estimate._version",
        "fl_estimate.exceptions",
        "fl_estimate.cli",
        "fl_estimate.i18n",
    }
    assert inside <= light | {"fl_estimate.mse"}, (module, inside - light)

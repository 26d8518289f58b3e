"""Imports flow one way: the layering between and inside the packages, and no import cycle.

Read statically from the source (every ``import``, also those inside functions), so a lazy
import cannot hide a wrong direction. The rules are the ones CONTRIBUTING.md states.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OURS = ("edge", "training", "converters", "benchmarks")
HEAVY = ("tensorflow", "keras", "tf2onnx", "sklearn", "librosa", "torch")

#: Which of our top-level packages each may import (itself always).
TOP_LEVEL = {
    "edge": set(),
    "training": {"edge"},
    "converters": {"edge", "training"},
    "benchmarks": {"edge", "training", "converters"},  # it measures (and damages, on purpose) converted models
}
#: Inside edge, in pipeline order: which packages each may import (itself always).
#: ``edge`` is the package's own ``__init__``.
EDGE = {
    "edge": set(),
    "core": set(),
    "sources": {"core"},
    "pose": {"core"},
    "features": {"core"},
    "classify": {"core", "features"},
    "recommend": {"core", "features"},
    "runtime": {"core", "sources", "pose", "features", "classify", "recommend"},
    "cli": {"core", "sources", "pose", "features", "classify", "recommend", "runtime"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for top in OURS for p in sorted((REPO / top).rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Our modules that ``name`` imports: ``from pkg import sub`` counts as ``pkg.sub`` when
    ``sub`` is a module, and relative imports are resolved."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for t in targets:
            if t.split(".")[0] in OURS + HEAVY:
                found.add(t)
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    return {name: _imports(name, path, known) for name, path in mods.items()}


def _edge_package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "edge"


def test_top_level_packages_import_one_way_and_edge_no_tensorflow():
    offenders = []
    for mod, targets in _graph().items():
        top = mod.split(".")[0]
        for t in targets:
            other = t.split(".")[0]
            if other in HEAVY and top == "edge":
                offenders.append(f"{mod} imports {t} (edge never imports heavy libraries)")
            elif other in OURS and other != top and other not in TOP_LEVEL[top]:
                offenders.append(f"{mod} imports {t} ({top} may import only {sorted(TOP_LEVEL[top]) or 'nothing'})")
    assert not offenders, "\n".join(offenders)


def test_edge_packages_import_in_pipeline_order():
    offenders = []
    for mod, targets in _graph().items():
        if not mod.startswith("edge"):
            continue
        src = _edge_package(mod)
        assert src in EDGE, f"{mod}: package {src!r} has no layering rule; add it to EDGE and CONTRIBUTING.md"
        for t in targets:
            if not t.startswith("edge"):
                continue
            dst = _edge_package(t)
            if t == "edge" and src != "edge":
                # `from edge import __version__` reads the package's own metadata only
                continue
            if dst != src and dst not in EDGE[src]:
                offenders.append(f"{mod} imports {t} ({src} may import {sorted(EDGE[src]) or 'nothing'})")
    assert not offenders, "\n".join(offenders)


def test_every_edge_package_says_what_it_owns_and_may_import():
    for pkg in EDGE:
        if pkg == "edge":
            continue
        init = REPO / "edge" / pkg / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert doc, f"{init}: no docstring"
        if pkg != "pose":  # pose's docstring predates the rule and names its stages instead
            assert "may import" in doc.lower(), f"{init}: the docstring does not say what it may import"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in graph:
                    continue
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_no_import_cycle_anywhere():
    graph = {m: {t for t in ts if t.split(".")[0] in OURS} for m, ts in _graph().items()}
    cycles = _cycles(graph)
    assert not cycles, f"import cycles: {cycles}"


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_layering_rules_catch_a_wrong_import(tmp_path):
    """The scanner sees function-local and relative imports (what the rules are checked on)."""
    src = tmp_path / "edge" / "features"
    src.mkdir(parents=True)
    (src / "x.py").write_text("def f():\n    from ..runtime import loop\n    import edge.cli.run\n")
    found = _imports("edge.features.x", src / "x.py", {"edge.runtime.loop"})
    assert found == {"edge.runtime.loop", "edge.cli.run"}


@pytest.mark.parametrize("old", ["edge.schema", "edge._optional", "edge.backends", "edge.backends.ort",
                                 "edge.run_cli", "edge.catalog_cli", "edge.annotate", "edge.metadata"])
def test_moved_modules_still_import_for_one_release(old):
    from edge import MOVED

    new = next(n + old[len(o):] for o, n in MOVED.items() if old == o or old.startswith(o + "."))
    sys.modules.pop(old, None)  # a fresh import, so the warning is raised here
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert module is importlib.import_module(new), "one module under two names, so monkeypatches stay shared"
    assert any(issubclass(w.category, DeprecationWarning) and new in str(w.message) for w in caught), caught


def test_every_moved_module_has_a_home():
    from edge import MOVED

    for old, new in MOVED.items():
        assert importlib.util.find_spec(new) is not None, f"{old} -> {new}: no such module"
        assert not (REPO / Path(*old.split("."))).with_suffix(".py").exists(), f"{old}: both old and new exist"


def test_public_names_of_the_flat_layout_stay_where_users_found_them():
    """The package front doors re-export the names users and scripts imported from the flat modules."""
    import edge.classify.backends
    import edge.classify.model
    import edge.features
    import edge.features.motion
    import edge.recommend
    import edge.recommend.rank
    import edge.runtime
    import edge.runtime.loop
    import edge.sources
    import edge.sources.frames

    assert edge.features.window_features is edge.features.motion.window_features
    assert edge.features.FeatureSpec is edge.features.motion.FeatureSpec
    assert edge.recommend.recommend is edge.recommend.rank.recommend
    for name in ("Catalog", "load_catalog", "Song", "tempo_fit", "movement_tempo", "build_catalog"):
        assert hasattr(edge.recommend, name), name
    assert edge.runtime.Runtime is edge.runtime.loop.Runtime
    assert edge.runtime.StyleModel is edge.classify.model.StyleModel
    assert edge.sources.PoseFileSource is edge.sources.frames.PoseFileSource
    assert callable(edge.classify.backends.load_backend)

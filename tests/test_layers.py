"""Layers point down only: an import-graph check of every module under t2i/ (and app.py).

Every import is read with `ast`, the ones inside functions too (a lazy import is still a dependency). A module's
layer is that of the longest prefix of its dotted name listed in LAYERS; a module may import its own layer or a
lower one, never a higher one, and the pairs in APART (same layer) may not import each other. Separately, the
top-level parts of the package (t2i.data, t2i.models, t2i.pipeline, ...) must not import each other in a cycle.
"""
from __future__ import annotations

import ast
import itertools
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Lowest first. The package root is the public API (load_pipeline; the pipelines and EditConfig imported on first use),
# so it sits above inference; the version it exports lives in t2i.version, at the bottom (t2i.checkpoint reads it).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("t2i.version", "t2i.data", "t2i.nn", "t2i.text", "t2i.checkpoint", "t2i.runtime", "t2i.frechet")),
    ("models", ("t2i.models", "t2i.losses")),
    ("inference", ("t2i.pipeline", "t2i.edit", "t2i.edit_config", "t2i.cigan_retrieval", "t2i.partseg", "t2i.export",
                   "t2i.imageio", "t2i.upsampling", "t2i.viz")),
    ("public API", ("t2i",)),
    ("training and evaluation", ("t2i.training", "t2i.eval")),
    # `python -m t2i bench` times generation, edits and the GAN trainer, so it sits above training and evaluation;
    # t2i.space packs the app, the package and the shipped models into a Hugging Face Space folder
    ("tools", ("t2i.studio", "t2i.eval.bench", "t2i.space")),
    ("cli", ("t2i.cli", "t2i.__main__")),
    ("app", ("app",)),
]
APART = [("t2i.training", "t2i.eval")]  # same layer, neither imports the other


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    mods = {module_name(p): p for p in sorted((REPO / "t2i").rglob("*.py"))}
    mods["app"] = REPO / "app.py"
    return mods


def imports_of(name: str, source: str, is_package: bool, known: set[str]) -> list[tuple[int, str]]:
    """(line, imported module) of every import of a t2i module in `source`, function bodies included. For
    `from a import b` the target is a.b when that is a module, else a."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package (the module itself when it is a package's __init__)
                pkg = name.split(".") if is_package else name.split(".")[:-1]
                pkg = pkg[:len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([node.module] if node.module else []))
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.append((node.lineno, sub if sub in known else base))
    return list(dict.fromkeys((ln, m) for ln, m in out if m == "t2i" or m.startswith("t2i.")))


def unit_of(module: str) -> str | None:
    """The longest prefix of `module` listed in LAYERS ("t2i", the package root, only for itself)."""
    best = None
    for _, prefixes in LAYERS:
        for p in prefixes:
            if (module == p or (p != "t2i" and module.startswith(p + "."))) and (best is None or len(p) > len(best)):
                best = p
    return best


def layer_of(unit: str) -> int:
    return next(i for i, (_, prefixes) in enumerate(LAYERS) if unit in prefixes)


def violations(name: str, edges: list[tuple[int, str]], where: str) -> list[str]:
    """Readable lines for the imports of module `name` that go up a layer or between APART siblings."""
    src = unit_of(name)
    if src is None:
        return [f"{where}: {name} is in no layer (add its package to LAYERS in tests/test_layers.py)"]
    out = []
    for line, target in edges:
        dst = unit_of(target)
        if dst is None:
            out.append(f"{where}:{line}: {name} imports {target}, which is in no layer")
            continue
        ls, ld = layer_of(src), layer_of(dst)
        if ld > ls:
            out.append(f"{where}:{line}: {name} ({LAYERS[ls][0]}) imports {target} ({LAYERS[ld][0]}): "
                       "a lower layer may not import a higher one")
        elif src != dst and ((src, dst) in APART or (dst, src) in APART):
            out.append(f"{where}:{line}: {name} imports {target}: {src} and {dst} may not import each other")
    return out


def graph() -> dict[str, list[tuple[str, int, str]]]:
    """name -> [(imported module, line, where)] for every module."""
    mods = all_modules()
    known = set(mods)
    return {name: [(t, ln, str(p.relative_to(REPO))) for ln, t in
                   imports_of(name, p.read_text(), p.name == "__init__.py", known)] for name, p in mods.items()}


def top(module: str) -> str:
    """The top-level part of the package a module belongs to: t2i.data.vocab -> t2i.data."""
    return ".".join(module.split(".")[:2])


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle [a, b, ..., a] of the directed graph, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        path.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                return path[path.index(m):] + [m]
            if m not in state and (c := visit(m)):
                return c
        path.pop()
        state[n] = 2
        return None

    for n in sorted(edges):
        if n not in state and (c := visit(n)):
            return c
    return None


# --- the checks ------------------------------------------------------------------------------------------------------
def test_every_import_points_down_a_layer():
    problems, mods = [], all_modules()
    for name, edges in graph().items():
        problems += violations(name, [(ln, t) for t, ln, _ in edges], str(mods[name].relative_to(REPO)))
    assert not problems, "imports against the layers (lowest first: " + " < ".join(n for n, _ in LAYERS) + "):\n" + \
        "\n".join(problems)


def test_no_import_cycle_between_the_top_level_parts():
    edges: dict[str, set[str]] = {}
    example: dict[tuple[str, str], str] = {}
    for name, imps in graph().items():
        if name == "t2i" or name == "app":
            continue
        for target, line, where in imps:
            a, b = top(name), top(target)
            if target != "t2i" and a != b:
                edges.setdefault(a, set()).add(b)
                example.setdefault((a, b), f"{where}:{line} imports {target}")
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle " + " -> ".join(cycle) + ":\n" + \
        "\n".join(example[(a, b)] for a, b in itertools.pairwise(cycle))


def test_the_checker_sees_lazy_relative_and_sibling_imports():
    """The checker itself: a lazy import of a higher layer, a relative one, and training <-> eval are caught."""
    known = {"t2i.training.gan", "t2i.eval.generators", "t2i.data.synthbirds", "t2i.data.synthbirds.render"}
    src = "from t2i.data.vocab import Vocabulary\n\ndef f():\n    from t2i.pipeline import load_pipeline\n"
    assert [ln for ln, _ in imports_of("t2i.models.x", src, False, known)] == [1, 4]
    bad = violations("t2i.models.x", imports_of("t2i.models.x", src, False, known), "x.py")
    assert len(bad) == 1 and "x.py:4" in bad[0] and "(models) imports t2i.pipeline (inference)" in bad[0]
    rel = imports_of("t2i.data.synthbirds", "from .render import render_bird\n", True, known)
    assert rel == [(1, "t2i.data.synthbirds.render")]
    assert imports_of("t2i.data.synthbirds.dataset", "from . import render\n", False, known) == \
        [(1, "t2i.data.synthbirds.render")]
    up = violations("t2i.training.gan", [(3, "t2i.eval.generators")], "gan.py")
    assert len(up) == 1 and "may not import each other" in up[0]
    assert violations("t2i.eval.run", [(5, "t2i.data.synthbirds")], "run.py") == []
    assert violations("t2i.nowhere", [], "n.py")[0].endswith("add its package to LAYERS in tests/test_layers.py)")
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}}) is None

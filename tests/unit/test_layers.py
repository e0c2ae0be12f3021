"""The package's shape: module sizes, imports pointing down the layers of DESIGN.md, no cycles,
no private names imported across modules, hook names built only in interp/hooks.py."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("interp", "probes")

#: Layer of each top-level unit (lower = further down); a module imports only from lower layers
#: or from its own unit. Mirrors DESIGN.md's diagram, with the fast-generation modules between
#: models and activations.
LAYERS: dict[str, int] = {
    "interp.checks": 0, "interp.hooks": 0,
    "interp.models": 1, "interp.data": 1,
    "interp.layout": 2, "interp.kv_cache": 2,
    "interp.decoding": 3, "interp.activations": 3,
    "interp.locate": 4, "probes": 4,
    "interp.evaluate": 5, "interp.mechanisms": 5,
    "interp.edits": 6, "interp.steering": 6, "interp.organism": 6,
    "interp.intervals": 0,
    "interp.report": 7,  # below the comparison: it renders whatever it is given
    "interp.executors": 0,  # imports nothing of the package: the sweeps (6) and the comparison (9) map through it
    "interp.compare": 9,
    "interp.cli": 10, "interp": 11,  # the package root only re-exports, lazily
}


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _unit(module: str) -> str:
    best = max((u for u in LAYERS if module == u or module.startswith(u + ".")), key=len, default=None)
    if best is None:
        raise AssertionError(f"{module} is in no layer of tests/unit/test_layers.py; add it to LAYERS")
    return best


def _runtime_nodes(tree: ast.AST):
    """Every node except those under ``if TYPE_CHECKING:`` (annotations only, never run)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(imported module, imported names) for every import that runs (TYPE_CHECKING ones left out)."""
    out = []
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, [a.name for a in node.names]))
    return out


def _internal(name: str) -> str | None:
    """The project module an import refers to (longest known prefix), or None."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_is_at_most_400_lines(module):
    n = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert n <= 400, f"{MODULES[module].relative_to(ROOT)} has {n} lines"


def test_imports_point_down_the_layers():
    wrong = []
    for module, path in MODULES.items():
        unit = _unit(module)
        for imported, _ in _imports(path):
            target = _internal(imported)
            if target is None:
                continue
            other = _unit(target)
            if other != unit and LAYERS[other] >= LAYERS[unit]:
                wrong.append(f"{module} (layer {LAYERS[unit]}) imports {imported} (layer {LAYERS[other]})")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles():
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for imported, names in _imports(path):
            target = _internal(imported)
            if target is None:
                continue
            # "from pkg import submodule" depends on the submodule, not the package's __init__
            subs = {f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES}
            for dep in subs or {target}:
                if dep != module and not module.startswith(dep + "."):  # a module may import its package
                    graph[module].add(dep)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for dep in sorted(graph[m]):
            if state.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(dep):] + [dep]))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_no_private_name_is_imported_from_another_module():
    wrong = []
    for module, path in MODULES.items():
        for imported, names in _imports(path):
            if _internal(imported) is None:
                continue
            wrong += [f"{module}: from {imported} import {n}" for n in names if n.startswith("_")]
    assert not wrong, "\n".join(wrong)


def test_hook_names_are_built_only_in_hooks_py():
    pattern = re.compile(r"""f["']blocks\.\{""")
    wrong = [f"{m}" for m, p in MODULES.items() if m != "interp.hooks" and pattern.search(p.read_text())]
    assert not wrong, f"hook names built outside interp/hooks.py: {wrong}"

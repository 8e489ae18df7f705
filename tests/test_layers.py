"""
The package's floor plan, checked on its import graph.

Every import of every module counts (module level and inside functions): no
module may import a floor above its own, no two modules may import each
other through any path, and no module may use another module's private
names. The floors, bottom up::

    foundation   picasso.properties, picasso.instrument, picasso.radius, picasso.utils
    core         picasso.cutout, picasso.maps, picasso.particles
    io           picasso.io
    mock, nn     picasso.mock (may use io), picasso.nn (may use io); not each other
    analysis     picasso.analysis: measures maps; foundation and core only
    studies      picasso.studies: joins everything below
    commands     picasso.commands, picasso.cli

The package root (``picasso/__init__.py``) is the public facade: it may
import anything, and a module may call its public ``load_model`` (so that
``cutout.predict()`` works without importing torch with ``import picasso``).
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "picasso"

FLOORS = {
    "foundation": {"foundation"},
    "core": {"foundation", "core"},
    "io": {"foundation", "core", "io"},
    "mock": {"foundation", "core", "io", "mock"},
    "nn": {"foundation", "core", "io", "nn"},
    "analysis": {"foundation", "core", "analysis"},
    "studies": {"foundation", "core", "io", "mock", "nn", "analysis", "studies"},
    "commands": {"foundation", "core", "io", "mock", "nn", "analysis", "studies", "commands"},
}


def floor(module):
    """The floor of a dotted module name inside picasso."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    if top in ("properties", "instrument", "radius", "utils", "_version"):
        return "foundation"
    if top in ("cutout", "maps", "particles"):
        return "core"
    if top in ("io", "mock", "nn", "analysis", "studies"):
        return top
    if top in ("commands", "cli"):
        return "commands"
    raise AssertionError(f"module {module} is on no floor; add it to the floor plan")


def modules():
    found = {"picasso._version": PACKAGE / "_version.py"}  # written by setuptools_scm
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.with_suffix("").relative_to(PACKAGE.parent).parts)
        found[name.removesuffix(".__init__")] = path
    return found


def imports(name, path, known):
    """(target module, imported names) of every import in a module."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("picasso"):
                    yield resolve(alias.name, known), []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = ".".join(base[: len(base) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if not target.startswith("picasso"):
                continue
            names = [alias.name for alias in node.names]
            submodules = [f"{target}.{item}" for item in names if f"{target}.{item}" in known]
            if submodules:
                for submodule in submodules:
                    yield submodule, []
                names = [item for item in names if f"{target}.{item}" not in known]
            if names:
                yield resolve(target, known), names


def resolve(target, known):
    while target not in known and "." in target:
        target = target.rsplit(".", 1)[0]
    return target


@pytest.fixture(scope="module")
def graph():
    known = modules()
    edges = {}
    for name, path in known.items():
        if not path.exists():
            edges[name] = []
            continue
        edges[name] = [(target, names) for target, names in imports(name, path, known)
                       if target != name and target in known]
    return edges


def test_no_module_imports_a_floor_above_its_own(graph):
    wrong = []
    for name, targets in graph.items():
        if name == "picasso":
            continue
        for target, names in targets:
            if target == "picasso":
                if set(names) - {"load_model"}:
                    wrong.append(f"{name} imports {names} from the package root")
                continue
            if floor(target) not in FLOORS[floor(name)]:
                wrong.append(f"{name} ({floor(name)}) imports {target} ({floor(target)})")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles(graph):
    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target, _ in graph[node]:
            if target == "picasso" or (node.startswith(target + ".")):
                continue  # the facade, and a package's own __init__
            if state.get(target) == "open":
                cycles.append(" -> ".join(stack[stack.index(target):] + [target]))
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node)
    assert not cycles, "\n".join(cycles)


def test_no_module_uses_another_modules_private_names(graph):
    private = [f"{name} imports {item} from {target}"
               for name, targets in graph.items() for target, names in targets
               for item in names if item.startswith("_") and not item.startswith("__")]
    assert not private, "\n".join(private)


def test_import_picasso_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, picasso; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"

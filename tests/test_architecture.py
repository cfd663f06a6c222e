"""The package's shape: the layers ARCHITECTURE.md names, no import circles, private stays private."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from .paths import ROOT

PACKAGE = ROOT / "openai_gemini_vision"
NAME = PACKAGE.name


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name ("openai_gemini_vision.images.plan")."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(module: str, level: int, target: str | None, is_package: bool) -> str:
    """The absolute name a relative import in `module` names."""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def _imports(module: str) -> Iterator[tuple[str, list[str], int]]:
    """(module imported, names taken from it, line) for every import of our own package."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = (
                _resolve(module, node.level, node.module, is_package)
                if node.level
                else node.module or ""
            )
            if not target.startswith(NAME):
                continue
            names = [alias.name for alias in node.names]
            # `from . import convert` imports a module, not a name of the package.
            for name in names:
                if f"{target}.{name}" in MODULES:
                    yield f"{target}.{name}", [], node.lineno
            plain = [name for name in names if f"{target}.{name}" not in MODULES]
            if plain:
                yield target, plain, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(NAME):
                    yield alias.name, [], node.lineno


def _part(module: str) -> str:
    """The part a module belongs to: its folder under the package, or its own file."""
    rest = module.split(".")[1:]
    return rest[0] if rest else "__init__"


def _layers() -> dict[str, int]:
    """The layer of each part, read from ARCHITECTURE.md's table."""
    text = (ROOT / "ARCHITECTURE.md").read_text()
    layers = {}
    for number, parts in re.findall(r"^\|\s*(\d+)\s*\|([^|]*)\|", text, re.MULTILINE):
        for name in re.findall(r"`([\w.]+)/?`", parts):
            layers[name.removesuffix(".py")] = int(number)
    return layers


def test_every_part_has_a_layer_in_architecture_md() -> None:
    """Each folder and top-level module of the package is placed in ARCHITECTURE.md's table."""
    layers = _layers()
    missing = sorted({_part(module) for module in MODULES} - set(layers) - {"__init__"})
    assert not missing, f"add {missing} to the layer table in ARCHITECTURE.md"
    stale = sorted(set(layers) - {_part(module) for module in MODULES})
    assert not stale, f"ARCHITECTURE.md names parts that do not exist: {stale}"


def test_imports_only_go_down_the_layers() -> None:
    """A part imports only from parts below it (or from itself): data flows one way."""
    # The package's __init__ re-exports everything: it stands above every part.
    layers = {**_layers(), "__init__": 99}
    upward = []
    for module in MODULES:
        part = _part(module)
        if part == "__init__":
            continue
        for target, _, line in _imports(module):
            other = _part(target)
            if other != part and layers[other] >= layers[part]:
                upward.append(f"{module}:{line} imports {target} (layer {layers[other]})")
    assert not upward, "\n".join(upward)


def test_there_are_no_import_circles() -> None:
    """No module reaches itself again by following imports."""
    graph = {module: {target for target, _, _ in _imports(module)} for module in MODULES}
    # A package's __init__ re-exports its modules: an edge into a package is an edge
    # into its __init__, which is why re-exports must not import back up.
    state: dict[str, int] = {}
    circles: list[str] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if target not in graph:
                continue
            if state.get(target) == 1:
                circles.append(" -> ".join([*trail[trail.index(target) :], target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module, [module])
    assert not circles, "\n".join(circles)


def test_private_names_stay_in_their_part() -> None:
    """A `_name` is imported only by modules of the same folder as the module defining it."""
    leaks = []
    for module in MODULES:
        for target, names, line in _imports(module):
            private = [name for name in names if name.startswith("_")]
            same_folder = target.rsplit(".", 1)[0] == module.rsplit(".", 1)[0]
            if private and not same_folder:
                leaks.append(f"{module}:{line} takes {private} from {target}")
    assert not leaks, "\n".join(leaks)


@pytest.mark.parametrize("leaf", ["errors", "policy"])
def test_leaves_import_nothing_of_ours(leaf: str) -> None:
    """errors.py and policy.py are imported by all and import none of the package."""
    assert list(_imports(f"{NAME}.{leaf}")) == []


def test_token_rules_import_only_leaves() -> None:
    """The token rules are pure: sizes, a model and a backend in, tokens out."""
    rules = [module for module in MODULES if _part(module) == "token_rules"]
    taken = {_part(target) for module in rules for target, _, _ in _imports(module)}
    assert taken <= {"errors", "policy", "token_rules"}, taken


def test_modules_stay_readable_in_size() -> None:
    """No module grows past 500 lines: past that, it is split by concept (GUIDE.md)."""
    long = {
        module: lines
        for module, path in MODULES.items()
        if (lines := len(path.read_text().splitlines())) > 500
    }
    assert not long, long


def _test_names() -> set[str]:
    """What a test file may be called after: each module, `<part>_<module>`, each part."""
    names = set()
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts == ("__init__",):
            names.add("init")
        elif parts[-1] == "__init__":
            names.add("_".join(parts[:-1]))
        else:
            names.add(parts[-1].lstrip("_"))
            names.add("_".join(part.lstrip("_") for part in parts))
    return names


def test_test_files_are_named_after_modules() -> None:
    """Each tests/test_*.py names the module it tests, or is a whole-package check listed
    in ARCHITECTURE.md ("Tests"), so a module's tests are found by its name."""
    text = (ROOT / "ARCHITECTURE.md").read_text()
    listed = set(re.findall(r"^- `(test_\w+)\.py`", text.split("## Tests", 1)[1], re.M))
    names = _test_names()
    stray = [
        path.name
        for path in sorted((ROOT / "tests").glob("test_*.py"))
        if path.stem not in listed
        and not any(
            (rest := path.stem.removeprefix("test_")) == name or rest.startswith(name + "_")
            for name in names
        )
    ]
    assert not stray, f"name these after their module, or list them in ARCHITECTURE.md: {stray}"
    assert listed <= {path.stem for path in (ROOT / "tests").glob("test_*.py")}, listed

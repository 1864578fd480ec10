"""The layers of the code (STYLE.md of the shared guide, docs/architecture.md "Layers"): each imports only the ones below it,
and no modules import each other in a circle. Every import statement counts, including those inside functions and under TYPE_CHECKING."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from environment_model.paths import ROOT

# Bottom to top; a module belongs to the layer of the longest prefix that names it. The engine sits beside the
# delivery pipeline: delivery uses it, it never uses delivery.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("generated CRD bindings", ("imports",)),
    ("value types", ("value_types",)),
    ("constructs", ("constructs_lib",)),
    ("stacks", ("stacks",)),
    ("environment model and registry", ("environment_model",)),
    ("engine", ("engine",)),
    ("delivery pipeline", ("delivery",)),
    ("command line", ("main", "bench")),
]
SOURCES = ["main.py", "bench", "value_types", "constructs_lib", "delivery", "engine", "environment_model", "stacks"]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    module_name(path): path
    for source in SOURCES
    for path in ([ROOT / source] if source.endswith(".py") else sorted((ROOT / source).rglob("*.py")))
}


def layer_of(module: str) -> int | None:
    matches = [
        (len(prefix), index)
        for index, (_, prefixes) in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    return max(matches)[1] if matches else None


def imports_of(module: str) -> Iterator[tuple[int, str]]:
    """(line, module) of each project module `module` imports: `from a import b` names a.b when that is a module."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [name if name in MODULES else node.module for name in names]
        else:
            continue
        for name in dict.fromkeys(names):
            if layer_of(name) is not None:
                yield node.lineno, name


def test_every_module_is_in_a_layer() -> None:
    unplaced = [module for module in MODULES if layer_of(module) is None]
    assert not unplaced, f"add these to a layer in tests/test_layers.py: {unplaced}"


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = []
    for module in MODULES:
        own = layer_of(module)
        assert own is not None
        for line, imported in imports_of(module):
            other = layer_of(imported)
            assert other is not None
            if other > own:
                upward.append(
                    f"{MODULES[module].relative_to(ROOT)}:{line}: {module} ({LAYERS[own][0]}) imports {imported} "
                    f"({LAYERS[other][0]}, a layer above)"
                )
    assert not upward, "\n".join(upward)


def test_no_modules_import_each_other() -> None:
    graph = {module: {imported for _, imported in imports_of(module) if imported in MODULES} for module in MODULES}
    graph = {module: {other for other in imported if other != module} for module, imported in graph.items()}
    cycles = []
    for start in sorted(graph):
        # A path back to `start` through modules sorted after it: each circle is reported once, from its first module.
        stack = [(start, [start])]
        seen = set()
        while stack:
            module, path = stack.pop()
            for imported in sorted(graph[module]):
                if imported == start:
                    cycles.append(" -> ".join([*path, start]))
                elif imported > start and imported not in seen:
                    seen.add(imported)
                    stack.append((imported, [*path, imported]))
    assert not cycles, "modules importing each other:\n" + "\n".join(cycles)


def test_the_layer_check_sees_an_upward_import() -> None:
    """The checks above read real import statements: the stacks' settings import a layer below them, and main.py the
    environment model, as they should."""
    assert layer_of("stacks.core_pipeline.settings") == 3
    assert layer_of("value_types.ports") == 1 and layer_of("delivery.output") == 6
    assert any(imported.startswith("environment_model") for _, imported in imports_of("main"))
    assert ("delivery.output", 6) in [(name, layer_of(name)) for _, name in imports_of("delivery.synth")]

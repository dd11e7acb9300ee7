"""Read the node's import graph from its source, without importing anything.

Every ``import`` and ``from … import`` counts, at module level or inside a function, so a
circle hidden behind a function-level import is still a circle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Import:
    """One import statement of a module: what it names, where, and whether inside a function."""

    source: str
    target: str
    line: int
    in_function: bool


@dataclass
class Graph:
    """Modules of one package (by dotted name), their files and the imports among them."""

    files: dict[str, Path]
    imports: list[Import] = field(default_factory=list)

    def edges(self) -> dict[str, set[str]]:
        """Map each module to the modules of this package it imports."""
        found: dict[str, set[str]] = {name: set() for name in self.files}
        for each in self.imports:
            found[each.source].add(each.target)
        return found

    def circles(self) -> list[list[str]]:
        """Return every set of two or more modules that import each other, round a circle."""
        return [sorted(c) for c in _strongly_connected(self.edges()) if len(c) > 1]


def module_files(package: str, root: Path = ROOT) -> dict[str, Path]:
    """Map the dotted name of every module of ``package`` (migrations left out) to its file."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if "migrations" in parts:
            continue  # Alembic loads these by path; they are not imported
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def read(package: str, root: Path = ROOT) -> Graph:
    """Read every import among the modules of ``package``."""
    graph = Graph(module_files(package, root))
    for name, path in graph.files.items():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        for statement, in_function in _statements(tree):
            for target in _targets(statement, name, is_package):
                module = _owning_module(target, graph.files)
                if module and module != name:
                    graph.imports.append(Import(name, module, statement.lineno, in_function))
    return graph


def _statements(tree: ast.AST) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    def walk(
        node: ast.AST, in_function: bool
    ) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, in_function
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            yield from walk(child, inner)

    return walk(tree, False)


def _targets(statement: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    if isinstance(statement, ast.Import):
        return [alias.name for alias in statement.names]
    base = statement.module or ""
    if statement.level:
        parts = module.split(".") if is_package else module.split(".")[:-1]
        parts = parts[: len(parts) - statement.level + 1]
        base = ".".join([*parts, base] if base else parts)
    # ``from package import name`` names a submodule or something the package defines.
    return [f"{base}.{alias.name}" for alias in statement.names]


def _owning_module(target: str, files: dict[str, Path]) -> str | None:
    while target and target not in files:
        target = target.rpartition(".")[0]
    return target or None


def _strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    # Tarjan's algorithm, iterative so a deep package cannot hit the recursion limit.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(edges[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(component)
    return components

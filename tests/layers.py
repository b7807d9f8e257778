"""The import graph of kpicore/, read from the source (no module is imported), and the layer contract.

Every import counts, those inside functions too. A package ``__init__`` that only hands names on (imports,
``__all__`` and a docstring) is not a node: an import of it is an import of the modules it names. A "group"
is one of kpicore's subpackages or top-level modules (``kpicore.digest``, ``kpicore.config``).

Run ``python -m tests.layers`` for the figures (cycles, imports inside functions, biggest files and functions).
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "kpicore"

#: The layers from the ground up: a group imports from its own layer or below. Groups are kpicore's
#: subpackages and top-level modules; a group missing here fails the layer test.
LAYERS: list[tuple[str, set[str]]] = [
    ("foundation", {"errors", "hookspecs", "i18n", "clock", "durations", "settings", "version"}),
    (
        "model",
        {"config", "metric", "model", "periods", "results", "targets", "buckets", "model_plugin", "metrics"},
    ),
    (
        "engine",
        {
            "dialects",
            "dimensions",
            "left_out",
            "source",
            "compute",
            "execution",
            "connectors",
            "indexes",
            "data_check",
            "state",
            "tables",
            "incremental",
        },
    ),
    ("presentation", {"formatting", "charts", "presentation"}),
    # Insights speak in formatted numbers: number, unit and locale formatting sits below them.
    ("insights", {"insights"}),
    ("messages", {"message", "digest", "alerts", "personal"}),
    ("delivery", {"delivery", "channels", "events"}),
    ("service", {"limits", "scheduler", "serve", "chat", "follows", "sync"}),
    ("wiring", {"registry", "plugins", "config_check", "demo_data", "demo_copy", "testing", "i18n.build"}),
    ("cli", {"cli"}),
]

#: Modules that are a group of their own rather than part of their package's (a build tool beside the
#: runtime it builds for).
OWN_GROUP = {"kpicore.i18n.build": "i18n.build"}

#: Directories not read (generated or data).
SKIPPED = {"migrations", "locale", "templates", "__pycache__"}


@dataclass
class Import:
    source: str  # the importing module
    target: str  # the imported kpicore module (after resolving re-exporting __init__ files)
    line: int
    in_function: bool


@dataclass
class Graph:
    modules: dict[str, Path] = field(default_factory=dict)
    imports: list[Import] = field(default_factory=list)
    all_imports: int = 0  # every import statement's names, kpicore's and others'
    imports_in_functions: int = 0
    internal_in_functions: int = 0
    re_exporters: set[str] = field(default_factory=set)

    def edges(self) -> dict[str, set[str]]:
        edges: dict[str, set[str]] = defaultdict(set)
        for imp in self.imports:
            if imp.source != imp.target:
                edges[imp.source].add(imp.target)
        return edges

    def group_edges(self) -> dict[str, set[str]]:
        edges: dict[str, set[str]] = defaultdict(set)
        for imp in self.imports:
            a, b = group(imp.source), group(imp.target)
            if a != b:
                edges[a].add(b)
        return edges

    def group_imports(self) -> list[Import]:
        return [imp for imp in self.imports if group(imp.source) != group(imp.target)]


def group(module: str) -> str:
    """``kpicore.digest.render`` -> ``digest``; ``kpicore.config`` -> ``config``; ``kpicore`` -> ``__init__``."""
    if module in OWN_GROUP:
        return OWN_GROUP[module]
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path, root: Path = ROOT) -> str:
    relative = path.relative_to(root).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _files(package: Path) -> Iterable[Path]:
    for path in sorted(package.rglob("*.py")):
        if not SKIPPED.intersection(path.relative_to(package).parts[:-1]):
            yield path


def _is_re_exporter(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if all(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                continue
        return False
    return True


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


class _Collector(ast.NodeVisitor):
    def __init__(self) -> None:
        self.depth = 0
        self.found: list[tuple[ast.AST, bool]] = []

    def visit_FunctionDef(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Import(self, node):
        self.found.append((node, self.depth > 0))

    visit_ImportFrom = visit_Import


def _raw_imports(graph: Graph, trees: dict[str, tuple[ast.Module, bool]]):
    """(source, kpicore target module or package, imported name or None, line, in_function)."""
    for module, (tree, is_package) in trees.items():
        collector = _Collector()
        collector.visit(tree)
        for node, in_function in collector.found:
            graph.all_imports += len(node.names)
            graph.imports_in_functions += len(node.names) if in_function else 0
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "kpicore":
                        yield module, alias.name, None, node.lineno, in_function
                continue
            base = _absolute(module, is_package, node)
            if base.split(".")[0] != "kpicore":
                continue
            for alias in node.names:
                yield module, base, alias.name, node.lineno, in_function


def build_graph(package: Path = PACKAGE) -> Graph:
    graph = Graph()
    trees: dict[str, tuple[ast.Module, bool]] = {}
    for path in _files(package):
        name = module_name(path, package.parent)
        graph.modules[name] = path
        trees[name] = (ast.parse(path.read_text(encoding="utf-8"), str(path)), path.name == "__init__.py")
    # names a re-exporting __init__ hands on: package -> {name: module it comes from}
    exported: dict[str, dict[str, str]] = {}
    for name, (tree, is_package) in trees.items():
        if is_package and name != "kpicore" and _is_re_exporter(tree):
            graph.re_exporters.add(name)
            names: dict[str, str] = {}
            for node in tree.body:
                if isinstance(node, ast.ImportFrom):
                    base = _absolute(name, True, node)
                    for alias in node.names:
                        names[alias.asname or alias.name] = base
            exported[name] = names

    def resolve(target: str, name: str | None, seen: frozenset = frozenset()) -> list[str]:
        if name is not None and f"{target}.{name}" in graph.modules:
            return resolve(f"{target}.{name}", None, seen)
        if target in graph.re_exporters and target not in seen:
            names = exported[target]
            if name is not None and name in names:
                return resolve(names[name], name, seen | {target})
            return [m for base in set(names.values()) for m in resolve(base, None, seen | {target})]
        return [target] if target in graph.modules else []

    for source, target, name, line, in_function in _raw_imports(graph, trees):
        resolved = resolve(target, name)
        if resolved and in_function:
            graph.internal_in_functions += 1
        for module in resolved:
            graph.imports.append(Import(source, module, line, in_function))
    for name in graph.re_exporters:
        graph.modules.pop(name)
    graph.imports = [imp for imp in graph.imports if imp.source not in graph.re_exporters]
    return graph


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(max(10000, sys.getrecursionlimit()))

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(set(edges) | {n for targets in edges.values() for n in targets}):
        if node not in index:
            visit(node)
    return sorted(found)


def layer_of(group_name: str) -> int | None:
    for position, (_, members) in enumerate(LAYERS):
        if group_name in members:
            return position
    return None


def layer_violations(graph: Graph) -> list[str]:
    """Imports that point up the layers, or at kpicore's own ``__init__``."""
    wrong = []
    for imp in graph.imports:
        if imp.target == "kpicore":
            wrong.append(f"{imp.source}:{imp.line} imports kpicore's own __init__")
            continue
        a, b = layer_of(group(imp.source)), layer_of(group(imp.target))
        if a is not None and b is not None and b > a:
            wrong.append(
                f"{imp.source}:{imp.line} ({LAYERS[a][0]}) imports {imp.target} ({LAYERS[b][0]}), a higher layer"
            )
    return sorted(set(wrong))


def unplaced_groups(graph: Graph) -> list[str]:
    return sorted({group(m) for m in graph.modules if m != "kpicore" and layer_of(group(m)) is None})


def sizes(roots: Iterable[Path]) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(lines, file) and (lines, file:function) of every .py under ``roots``, biggest first."""
    files, functions = [], []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if "migrations" in path.parts or ".venv" in path.parts or "build" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            relative = str(path.relative_to(ROOT))
            files.append((len(text.splitlines()), relative))
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    functions.append((node.end_lineno - node.lineno + 1, f"{relative}:{node.name}"))
    return sorted(files, reverse=True), sorted(functions, reverse=True)


def report() -> str:
    graph = build_graph()
    file_cycles = cycles(graph.edges())
    group_cycles = cycles(graph.group_edges())
    in_cycle = {g for c in group_cycles for g in c}
    binding = [
        i for i in graph.group_imports() if group(i.source) in in_cycle and group(i.target) in in_cycle
    ]
    files, functions = sizes([PACKAGE, ROOT / "plugins"])
    lines = [
        f"modules: {len(graph.modules)}",
        f"imports (names): {graph.all_imports}, inside functions: {graph.imports_in_functions} "
        f"({100 * graph.imports_in_functions / max(graph.all_imports, 1):.0f} %), "
        f"of kpicore's own inside functions: {graph.internal_in_functions}",
        f"cycles between files: {len(file_cycles)}",
        *(f"  {' '.join(c)}" for c in file_cycles),
        f"cycles between groups: {len(group_cycles)}"
        + (f" (binding {len(in_cycle)} groups through {len(binding)} imports)" if group_cycles else ""),
        *(f"  {' '.join(c)}" for c in group_cycles),
        f"layer violations: {len(layer_violations(graph))}",
        f"files over 600 lines: {sum(1 for n, _ in files if n > 600)}; biggest: "
        + ", ".join(f"{f} {n}" for n, f in files[:6]),
        f"functions over 80 lines: {sum(1 for n, _ in functions if n > 80)}; biggest: "
        + ", ".join(f"{f} {n}" for n, f in functions[:6]),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
    if "-v" in sys.argv:
        print("\n".join(layer_violations(build_graph())))

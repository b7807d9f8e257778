"""The layering as a contract: no import cycles between kpicore's files or between its subpackages and
top-level modules, and imports only point down the layers (``tests.layers.LAYERS``).

``KNOWN`` lists what is still wrong; it may only shrink. Run ``python -m tests.layers -v`` for the figures.
"""

from __future__ import annotations

import functools

from tests.layers import build_graph, cycles, layer_violations, unplaced_groups

#: Still wrong, to be removed as it is fixed (never added to).
KNOWN_FILE_CYCLES: list[list[str]] = []
KNOWN_GROUP_CYCLES: list[list[str]] = []
#: (importing module, imported module) pairs that point up the layers.
KNOWN_UPWARD = {
    ("kpicore.alerts.schedule", "kpicore.scheduler"),
    ("kpicore.chat.answers", "kpicore.registry"),
    ("kpicore.digest.config", "kpicore.delivery.check"),
    ("kpicore.digest.config", "kpicore.scheduler"),
    ("kpicore.digest.run", "kpicore.plugins"),
    ("kpicore.digest.run", "kpicore.registry"),
    ("kpicore.serve.send", "kpicore.registry"),
}


@functools.cache
def _graph():
    return build_graph()


def _pairs(violations: list[str]) -> set[tuple[str, str]]:
    pairs = set()
    for line in violations:
        source = line.split(":", 1)[0]
        target = "kpicore" if "own __init__" in line else line.split(" imports ", 1)[1].split(" ", 1)[0]
        pairs.add((source, target))
    return pairs


def test_every_group_has_a_layer():
    assert unplaced_groups(_graph()) == []


def test_no_new_cycle_between_files():
    found = cycles(_graph().edges())
    assert [c for c in found if c not in KNOWN_FILE_CYCLES] == []


def test_no_new_cycle_between_groups():
    found = cycles(_graph().group_edges())
    assert [c for c in found if c not in KNOWN_GROUP_CYCLES] == []


def test_imports_point_down_the_layers():
    violations = layer_violations(_graph())
    new = sorted(_pairs(violations) - KNOWN_UPWARD)
    assert new == [], "\n".join(v for v in violations if next(iter(_pairs([v]))) in set(new))


def test_known_lists_only_shrink():
    """An entry fixed is removed from the lists above, so it cannot come back unnoticed."""
    graph = _graph()
    assert [c for c in KNOWN_FILE_CYCLES if c not in cycles(graph.edges())] == []
    assert [c for c in KNOWN_GROUP_CYCLES if c not in cycles(graph.group_edges())] == []
    assert sorted(KNOWN_UPWARD - _pairs(layer_violations(graph))) == []


def test_the_checker_sees_a_cycle_and_an_upward_import(tmp_path):
    """The checker itself can fail: a two-file cycle and a model module importing the CLI."""
    package = tmp_path / "kpicore"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "periods.py").write_text("def f():\n    from kpicore.cli import main\n")
    (package / "cli.py").write_text("from kpicore.periods import f\nmain = f\n")
    graph = build_graph(package)
    assert cycles(graph.edges()) == [["kpicore.cli", "kpicore.periods"]]
    assert any("kpicore.periods" in v and "higher layer" in v for v in layer_violations(graph))


def test_no_module_cites_a_design_document():
    """Docstrings and comments say what the code does; the design document is not in the repository."""
    import re

    from tests.layers import PACKAGE, ROOT

    citing = [
        str(path.relative_to(ROOT))
        for root in (PACKAGE, ROOT / "plugins")
        for path in sorted(root.rglob("*.py"))
        if ".venv" not in path.parts and re.search(r"\bDESIGN\b", path.read_text(encoding="utf-8"))
    ]
    assert citing == []

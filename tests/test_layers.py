"""Imports go down the layers only (docs/architecture.md §2): no room imports a higher one,
no two rooms import each other, and no composition module sits above the features."""

from __future__ import annotations

import ast
from collections import defaultdict
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

IDP = Path(__file__).resolve().parent.parent / "idp"
# Lower index, lower layer. Rooms not listed are infrastructure (config, store, web…): they
# may use the journal's types (layer 0) and nothing higher.
LAYERS = [
    {"directory", "audit"},
    {"habilitations"},
    {"accounts"},
    {"registration", "admin", "machine", "notifications"},
    {"oidc"},
    {"widget", "interop"},
]
LAYER = {room: index for index, rooms in enumerate(LAYERS) for room in rooms}
# The app factory and the commands it registers wire every feature together: nothing may
# import them.
TOP = {"__init__", "cli", "demo"}


def room_of(path: Path) -> str:
    return path.relative_to(IDP).with_suffix("").parts[0]


def imported_rooms(path: Path) -> set[str]:
    """The rooms ``path`` imports, at module level or inside functions."""
    rooms = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            package = path.parent.relative_to(IDP.parent).parts[:len(
                path.parent.relative_to(IDP.parent).parts) - node.level + 1]
            names = [".".join([*package, *([node.module] if node.module else [])])]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        else:
            continue
        rooms |= {name.split(".")[1] for name in names
                  if name.startswith("idp.") and len(name.split(".")) > 1}
    return rooms


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in IDP.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        room = room_of(path)
        graph[room] |= imported_rooms(path) - {room}
    return graph


def test_no_room_imports_a_higher_one():
    upward = [f"{room} imports {other}" for room, others in import_graph().items()
              if room not in TOP for other in others
              if LAYER.get(other, 0) > LAYER.get(room, 0)]
    assert not upward, upward


def test_no_import_cycle_between_rooms():
    graph = {room: others for room, others in import_graph().items() if room not in TOP}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as cycle:
        raise AssertionError(f"import cycle: {cycle.args[1]}") from None


def test_no_composition_module_above_the_features():
    assert not (IDP / "services.py").exists()
    importers = [f"{room} imports {others & TOP}" for room, others in import_graph().items()
                 if room not in TOP and others & TOP]
    assert not importers, importers

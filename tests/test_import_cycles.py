"""No import loop, even through imports written inside functions (issue 13): import-linter's layers
contract keeps every arrow between apps pointing down; this keeps modules of one app from importing each
other back. It reads the source with `scripts/import_scan.py` (ast; imports nothing)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "import_scan.py"


def _scanner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_scan", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("import_scan", module)
    spec.loader.exec_module(module)
    return module


def test_no_module_imports_itself_back_through_any_chain() -> None:
    scan = _scanner()
    file_graph, arrows, _local = scan.scan()
    assert scan.sccs(file_graph) == []
    app_graph: dict[str, set[str]] = {}
    for src, dst in arrows:
        app_graph.setdefault(src, set()).add(dst)
        app_graph.setdefault(dst, set())
    assert scan.sccs(app_graph) == []


def test_no_app_imports_one_above_or_beside_it() -> None:
    scan = _scanner()
    _graph, arrows, _local = scan.scan()
    up = {pair: where for pair, where in arrows.items() if scan.RANK.get(pair[0], 99) <= scan.RANK.get(pair[1], 99)}
    assert up == {}


def test_the_scan_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    scan = _scanner()
    source = tmp_path / "mod.py"
    source.write_text("import os\n\n\ndef f():\n    from creneau.core import clock\n    return clock\n")
    assert scan.imports_of(source, "creneau.accounts.mod") == [("creneau.core.clock", 5, True)]
    assert scan.sccs({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]

"""Import scan of the creneau package: app-to-app arrows, upward arrows against the layer order, cycles.

Counts every import, module-level or inside a function (import-linter sees both), so the figures of
issue 13 can be reproduced: `python scripts/import_scan.py [--list]`. Stdlib only; reads the source, imports
nothing.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "creneau"

# Lowest first; apps on one line are siblings (they may not import each other either: independence is
# checked by the linter's contract, here they only share a rank).
LAYERS: list[list[str]] = [
    ["core"],
    ["audit"],
    ["directory"],
    ["accounts"],
    ["scheduling"],
    ["patients"],
    ["booking"],
    ["notifications"],
    ["incidents"],
    ["fhir", "exports"],
    ["privacy"],
    ["web", "demo", "observability"],
]
RANK = {app: i for i, apps in enumerate(LAYERS) for app in apps}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, mod: str) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for each creneau import in the file."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, local: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == PACKAGE:
                        found.append((alias.name, child.lineno, local))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = mod.split(".")
                    base = base if is_pkg else base[:-1]
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join([*base, child.module] if child.module else base)
                else:
                    target = child.module or ""
                if target.split(".")[0] == PACKAGE:
                    for alias in child.names:
                        # `from creneau.x import y` may name a submodule y: count the deeper module if it exists.
                        sub = f"{target}.{alias.name}"
                        found.append((sub if sub in MODULES else target, child.lineno, local))
            visit(child, inner)

    visit(tree, False)
    return found


def app_of(mod: str) -> str | None:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else None


def sccs(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative), only those with more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
                continue
            if nxt not in graph:
                continue
            if nxt not in index:
                index[nxt] = low[nxt] = counter
                counter += 1
                stack.append(nxt)
                on.add(nxt)
                work.append((nxt, iter(sorted(graph[nxt]))))
            elif nxt in on:
                low[node] = min(low[node], index[nxt])
    return out


FILES = {module_name(p): p for p in sorted((ROOT / PACKAGE).rglob("*.py")) if "migrations" not in p.parts}
MODULES = set(FILES)


def resolve(target: str) -> str | None:
    """The scanned module an import lands in (a name inside a module counts as that module)."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def scan(no_local: bool = False) -> tuple[dict[str, set[str]], dict[tuple[str, str], list[str]], int]:
    """The module graph, the app-to-app arrows (with where each import is) and the count of imports found
    only inside functions."""
    file_graph: dict[str, set[str]] = defaultdict(set)
    arrows: dict[tuple[str, str], list[str]] = defaultdict(list)
    local_count = 0
    for mod, path in FILES.items():
        file_graph[mod]
        for target, line, local in imports_of(path, mod):
            if local and no_local:
                continue
            dest = resolve(target)
            if dest is None or dest == mod:
                continue
            local_count += local and dest not in file_graph[mod]
            file_graph[mod].add(dest)
            src_app, dst_app = app_of(mod), app_of(dest)
            if src_app and dst_app and src_app != dst_app:
                where = f"{path.relative_to(ROOT)}:{line}{' (local)' if local else ''} -> {dest}"
                if where not in arrows[(src_app, dst_app)]:
                    arrows[(src_app, dst_app)].append(where)
    return file_graph, arrows, local_count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--list", action="store_true", help="list each upward import with file and line")
    parser.add_argument("--no-local", action="store_true", help="ignore imports inside functions")
    args = parser.parse_args()

    file_graph, arrows, local_count = scan(args.no_local)
    app_graph: dict[str, set[str]] = defaultdict(set)
    for src, dst in arrows:
        app_graph[src].add(dst)
        app_graph[dst]
    up = {k: v for k, v in arrows.items() if RANK.get(k[0], 99) <= RANK.get(k[1], 99)}
    unranked = sorted({a for pair in arrows for a in pair if a not in RANK})
    app_cycles = sccs(app_graph)
    file_cycles = sccs(file_graph)

    print(f"apps: {len(app_graph)}  app-to-app arrows: {len(arrows)}  upward or sideways: {len(up)}")
    print(f"upward imports (statements): {sum(len(v) for v in up.values())}  function-local imports: {local_count}")
    print(f"app cycles: {[len(c) for c in app_cycles]} {app_cycles}")
    print(f"file cycles: {[len(c) for c in file_cycles]}")
    if unranked:
        print(f"apps missing from LAYERS: {unranked}")
    if args.list:
        for (src, dst), wheres in sorted(up.items()):
            print(f"\n{src} -> {dst} ({len(wheres)})")
            for w in wheres:
                print(f"  {w}")
        for c in file_cycles:
            print(f"\nfile cycle ({len(c)}): {' '.join(c)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

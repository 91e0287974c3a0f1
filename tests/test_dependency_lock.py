"""The dependency lock: every file hashed, the runtime free of test tools, every import declared.

`uv.lock` is the one resolution (runtime + the dev, bench and data groups); `requirements/runtime.txt` is its
export of the runtime alone, which the production image installs with `pip --require-hashes`. These tests
read both files as an operator's tooling would, without uv, so CI catches a stale export or a test tool that
slipped into the runtime before an image ships it."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK = tomllib.loads((ROOT / "uv.lock").read_text())
PACKAGES = {p["name"]: p for p in LOCK["package"]}

# Tools that exist to test, attack, lint or type-check the code: none may reach the production image.
TEST_TOOLS = {
    "pytest",
    "pytest-django",
    "pytest-xdist",
    "hypothesis",
    "mypy",
    "django-stubs",
    "ruff",
    "playwright",
    "sqlmap",
    "fhirpy",
    "schemathesis",
}
# Direct dev dependencies that the runtime legitimately needs too (through a runtime package).
DEV_ALSO_RUNTIME = {"requests"}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    assert match, spec
    return norm(match.group(1))


def runtime_closure() -> dict[str, str]:
    """Name → version of every package the project's runtime dependencies pull in, per the lock."""
    seen: dict[str, str] = {}
    todo: list[tuple[str, tuple[str, ...]]] = []
    project = PACKAGES["creneau"]
    todo += [(d["name"], tuple(d.get("extra", ()))) for d in project.get("dependencies", [])]
    while todo:
        name, extras = todo.pop()
        pkg = PACKAGES[name]
        if name not in seen:
            seen[name] = pkg["version"]
            todo += [(d["name"], tuple(d.get("extra", ()))) for d in pkg.get("dependencies", [])]
        for extra in extras:
            todo += [(d["name"], tuple(d.get("extra", ()))) for d in pkg.get("optional-dependencies", {})[extra]]
    return seen


def exported_runtime() -> dict[str, tuple[str, list[str]]]:
    """Name → (version, hashes) of each pin in requirements/runtime.txt."""
    text = (ROOT / "requirements" / "runtime.txt").read_text()
    pins: dict[str, tuple[str, list[str]]] = {}
    for block in re.split(r"\n(?=\S)", text):
        block = block.strip()
        if not block or block.startswith("#"):
            continue
        match = re.match(r"([A-Za-z0-9._-]+)==([^\s;\\]+)", block)
        assert match, f"unpinned requirement in requirements/runtime.txt: {block.splitlines()[0]}"
        pins[norm(match.group(1))] = (match.group(2), re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return pins


def test_every_locked_file_has_a_sha256_hash() -> None:
    unhashed = []
    for pkg in LOCK["package"]:
        if "registry" not in pkg["source"]:
            continue  # the project itself (editable)
        files = [pkg["sdist"]] if "sdist" in pkg else []
        files += pkg.get("wheels", [])
        assert files, f"{pkg['name']} has no file in the lock"
        unhashed += [f["url"] for f in files if not str(f.get("hash", "")).startswith("sha256:")]
    assert unhashed == []


def test_the_lock_matches_the_declared_dependencies() -> None:
    """pyproject.toml edited without `make lock` would install something other than what it says."""
    project = PACKAGES["creneau"]
    locked_runtime = {requirement_name(d["name"]) for d in project["metadata"]["requires-dist"]}
    assert locked_runtime == {requirement_name(d) for d in PYPROJECT["project"]["dependencies"]}
    locked_groups = project["metadata"]["requires-dev"]
    for group, specs in PYPROJECT["dependency-groups"].items():
        assert {norm(d["name"]) for d in locked_groups[group]} == {requirement_name(s) for s in specs}, group


def test_the_runtime_contains_no_test_tool() -> None:
    runtime = runtime_closure()
    assert sorted(TEST_TOOLS & runtime.keys()) == []
    assert sorted(name for name in runtime if name.startswith("pytest")) == []
    dev = {requirement_name(s) for s in PYPROJECT["dependency-groups"]["dev"]}
    assert sorted((dev - DEV_ALSO_RUNTIME) & runtime.keys()) == []


def test_the_exported_runtime_requirements_are_the_locked_runtime_and_hashed() -> None:
    """requirements/runtime.txt is what the image installs: exactly the lock's runtime, every pin hashed."""
    exported = exported_runtime()
    assert {name: version for name, (version, _) in exported.items()} == runtime_closure(), (
        "requirements/runtime.txt is stale: run `make lock`"
    )
    assert sorted(name for name, (_, hashes) in exported.items() if not hashes) == []
    assert sorted(TEST_TOOLS & exported.keys()) == []


def test_the_production_image_installs_the_runtime_export_only() -> None:
    lines = (ROOT / "deploy" / "Dockerfile").read_text().splitlines()
    dockerfile = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    assert "requirements/runtime.txt" in dockerfile
    assert "--require-hashes" in dockerfile
    assert "uv.lock" not in dockerfile and "--group" not in dockerfile and "[dev]" not in dockerfile


def _imports(paths: list[Path]) -> set[str]:
    found: set[str] = set()
    for path in paths:
        for file in path.rglob("*.py") if path.is_dir() else [path]:
            for node in ast.walk(ast.parse(file.read_text(), str(file))):
                if isinstance(node, ast.Import):
                    found |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return {
        name
        for name in found
        if name not in sys.stdlib_module_names and name not in {"creneau", "config", "tests", "bench"}
    }


def _distributions(modules: set[str]) -> dict[str, set[str]]:
    mapping = packages_distributions()
    return {module: {norm(d) for d in mapping.get(module, [])} for module in modules}


@pytest.mark.parametrize(
    ("paths", "allowed"),
    [
        (["creneau", "config", "manage.py"], ["runtime"]),
        (["tests"], ["runtime", "dev"]),
        (["bench"], ["runtime", "bench"]),
        (["scripts"], ["runtime", "data"]),
    ],
    ids=["application", "tests", "bench", "scripts"],
)
def test_every_directly_imported_package_is_declared(paths: list[str], allowed: list[str]) -> None:
    declared: set[str] = set()
    for source in allowed:
        specs = PYPROJECT["project"]["dependencies"] if source == "runtime" else PYPROJECT["dependency-groups"][source]
        declared |= {requirement_name(s) for s in specs}
    undeclared = []
    for module, dists in sorted(_distributions(_imports([ROOT / p for p in paths])).items()):
        if not dists:
            # Not installed here (a group `make venv` leaves out): the module name must then be declared as is.
            if norm(module) not in declared:
                undeclared.append(module)
        elif not dists & declared:
            undeclared.append(f"{module} ({', '.join(sorted(dists))})")
    assert undeclared == []

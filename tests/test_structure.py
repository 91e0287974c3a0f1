"""The permission vocabulary holds by construction (issue 12): outside the `selectors.py` modules (and
models and migrations), no code fetches a model row by hand and turns its absence into an answer
(`.DoesNotExist`, `get_object_or_404`), and none compares staff roles. Scoped `access_*` selectors do
that, once per kind of object, so no view, service, API handler or command can forget the ownership
check or answer a foreign id differently from a missing one.

The scanner parses every module under creneau/ (ast, not grep: comments and docstrings do not count).
Each legitimate exception is allow-listed below by file, construct and reason. Domain errors must also
carry a translatable message (French is the default language; issue 12, item 6)."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "creneau"

# Staff roles as stored (accounts.models.Role): comparing with one of them is a role check.
ROLE_VALUES = frozenset({"org_admin", "secretary", "practitioner"})

# Where each construct is allowed outside selectors, and why. Keys: (path under creneau/, what).
ALLOWED: dict[tuple[str, str], str] = {
    ("notifications/rendering.py", "TemplateDoesNotExist"): (
        "a missing e-mail template (falls back to the generic one): not a model lookup"
    ),
    # Team management edits roles: there the role is the data being changed (the last administrator, a
    # practitioner's link to their agenda, labels and e-mails naming the role), not a permission check;
    # who may change it is decided by access_organization_as_admin / access_membership.
    ("accounts/team.py", "role comparison"): "role changes: validating and comparing the role being edited",
    ("notifications/team.py", "role comparison"): "team e-mails: naming the new role and the agenda's practitioner",
    ("web/team.py", "role comparison"): "team pages: labels and the form's initial values for each member's role",
    ("web/team_forms.py", "role comparison"): "the team form: a practitioner role needs a practitioner chosen",
    ("demo/management/commands/seed_demo.py", "role comparison"): (
        "demo data: decides which demo accounts get agenda grants while creating them; no permission check"
    ),
    ("audit/management/commands/migrate.py", "role comparison"): (
        "a PostgreSQL database role (owner of the schema), not a staff role"
    ),
}

# Classes whose message reaches a user (page, API answer): their first argument must be translated.
DOMAIN_ERRORS = frozenset(
    {"DomainError", "InvalidInput", "NotFound", "PermissionDenied", "Conflict", "PolicyViolation", "Suspended"}
)
GETTEXT = frozenset({"_", "gettext", "gettext_lazy", "pgettext", "pgettext_lazy", "ngettext", "format_lazy"})
# Messages that are already translated text joined together (Django's own validation messages).
ALLOWED_UNTRANSLATED: dict[str, str] = {
    "scheduling/services.py": "joins ValidationError messages, which Django and our validators translate",
    "patients/services.py": "joins ValidationError messages, which Django and our validators translate",
    "accounts/team.py": "joins the password validators' messages, which Django translates",
    "directory/services.py": "joins the practice phone validator's ValidationError messages, which are translated",
}


@dataclasses.dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str
    code: str

    def __str__(self) -> str:
        return f"creneau/{self.path}:{self.line}: {self.what}: {self.code}"


def _is_role_operand(node: ast.expr) -> bool:
    """`Role.ORG_ADMIN`, `"org_admin"`, `m.role`, `role`: one side of a role comparison."""
    if isinstance(node, ast.Attribute):
        if isinstance(node.value, ast.Name) and node.value.id == "Role":
            return True
        return node.attr == "role"
    if isinstance(node, ast.Name):
        return node.id == "role"
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value in ROLE_VALUES
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_is_role_operand(e) for e in node.elts)
    return False


def _mentions_role_value(node: ast.expr) -> bool:
    """A `role=` filter value naming a role (`Role.ORG_ADMIN`, `"secretary"`, a list of them)."""
    return any(
        (isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "Role")
        or (isinstance(n, ast.Constant) and n.value in ROLE_VALUES)
        for n in ast.walk(node)
    )


def _message_is_translated(node: ast.expr) -> bool:
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        return name in GETTEXT
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):  # _("... %(x)s") % {...}
        return _message_is_translated(node.left)
    # A name or attribute holding a message built elsewhere (e.g. `missing`, `suspension.MESSAGE`).
    return not isinstance(node, (ast.Constant, ast.JoinedStr, ast.BinOp, ast.Call))


def scan_source(source: str, path: str) -> list[Finding]:
    """Every forbidden construct in one module (`path` is relative to creneau/, for the allow-list)."""
    tree = ast.parse(source)
    found: list[Finding] = []

    def add(node: ast.AST, what: str) -> None:
        found.append(Finding(path, getattr(node, "lineno", 0), what, ast.unparse(node)[:120]))

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.endswith("DoesNotExist"):
            add(node, node.attr)
        elif isinstance(node, ast.Name) and node.id.endswith("DoesNotExist"):
            add(node, node.id)
        elif isinstance(node, (ast.Name, ast.Attribute)) and (
            getattr(node, "id", None) == "get_object_or_404" or getattr(node, "attr", None) == "get_object_or_404"
        ):
            add(node, "get_object_or_404")
        elif isinstance(node, ast.alias) and node.name in ("get_object_or_404", "get_list_or_404"):
            found.append(Finding(path, node.lineno, "get_object_or_404", f"import {node.name}"))
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_is_role_operand(o) for o in operands):
                add(node, "role comparison")
        elif isinstance(node, ast.keyword) and node.arg in ("role", "role__in") and _mentions_role_value(node.value):
            add(node, "role comparison")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in DOMAIN_ERRORS and node.args and not _message_is_translated(node.args[0]):
                add(node, "untranslated message")
    # Each construct is reported once per line (an attribute and its name may both match).
    unique = {(f.line, f.what): f for f in found}
    return sorted(unique.values(), key=lambda f: (f.line, f.what))


def _exempt(path: Path) -> bool:
    parts = path.relative_to(ROOT).parts
    return "migrations" in parts or path.name in ("selectors.py", "models.py", "querysets.py")


def scan_tree() -> list[Finding]:
    findings = []
    for path in sorted(ROOT.rglob("*.py")):
        if _exempt(path):
            continue
        rel = path.relative_to(ROOT).as_posix()
        findings.extend(scan_source(path.read_text(encoding="utf-8"), rel))
    return findings


def _allowed(f: Finding) -> bool:
    if f.what == "untranslated message":
        return f.path in ALLOWED_UNTRANSLATED
    return _key(f) in ALLOWED


def test_no_lookup_or_role_check_outside_selectors() -> None:
    offending = [str(f) for f in scan_tree() if not _allowed(f)]
    assert not offending, (
        "Fetch scoped objects through an `access_*` selector (in the owning app's selectors.py) and check "
        "roles through Actor.is_org_admin / directory selectors; or allow-list with a reason:\n" + "\n".join(offending)
    )


def _key(f: Finding) -> tuple[str, str]:
    what = "DoesNotExist" if f.what.endswith("DoesNotExist") and f.what != "TemplateDoesNotExist" else f.what
    return (f.path, what)


def test_every_allow_list_entry_has_a_reason_and_is_still_needed() -> None:
    """An exception that is no longer used is taken off the list, so the list stays the exact set."""
    found = scan_tree()
    used = {_key(f) for f in found}
    untranslated = {f.path for f in found if f.what == "untranslated message"}
    for key, reason in ALLOWED.items():
        assert len(reason) > 20, key
        assert key in used, f"stale allow-list entry (nothing to allow any more): {key}"
    for path, reason in ALLOWED_UNTRANSLATED.items():
        assert len(reason) > 20, path
        assert path in untranslated, f"stale allow-list entry (nothing to allow any more): {path}"


PLANTED = """
from django.shortcuts import get_object_or_404
from creneau.accounts.models import Role


def view(request, pk):
    try:
        motif = Motif.objects.get(pk=pk)
    except Motif.DoesNotExist:
        raise NotFound("Unknown motif.")
    if membership.role == "org_admin" or Role.SECRETARY == actor.role:
        pass
    Membership.objects.filter(user=request.user, role=Role.ORG_ADMIN).exists()
    raise PermissionDenied(_("A translated message is fine."))
"""


@pytest.mark.parametrize(
    ("what", "count"),
    [("get_object_or_404", 1), ("DoesNotExist", 1), ("role comparison", 2), ("untranslated message", 1)],
)
def test_the_scanner_finds_planted_violations(what: str, count: int) -> None:
    """The scanner is not vacuous: a planted module with each construct is caught, line by line."""
    findings = scan_source(PLANTED, "web/planted.py")
    assert len([f for f in findings if f.what == what]) == count, findings
    assert not [f for f in findings if _allowed(f)]


def test_the_scanner_ignores_comments_docstrings_and_selectors() -> None:
    source = '"""Catches Motif.DoesNotExist and role == "org_admin" in prose."""\n# get_object_or_404\nx = 1\n'
    assert scan_source(source, "web/prose.py") == []
    assert _exempt(ROOT / "booking" / "selectors.py") and not _exempt(ROOT / "booking" / "services.py")

"""The import layering of ARCHITECTURE.md, checked on the source (``ast``, nothing is imported).

Rooms and the rules checked here:

- ``protocols.*`` are sans-I/O codecs: never ``gateway``, never asyncio, sockets or aiohttp.
- ``gateway.store.*`` is the meeting point: it never imports a front end (``gateway.ews``,
  ``gateway.emsmdb``, ``gateway.nspi``, ``gateway.autodiscover``) nor the web app (``gateway.http``).
- The front ends import from ``gateway`` only
    * their own package,
    * the store's public modules (``STORE_PUBLIC`` below: the package API, errors, objects, model,
      mailbox, the directory facade, and the protocol-neutral logic modules: conversions,
      property/MIME/iCalendar/vCard converters, summaries, change classification, recurrence
      expansion, free/busy, OOF),
      never ``gateway.store.state.*`` (SQL), ``gateway.store.adapters.*`` (backend glue),
      ``gateway.store.factory`` and never ``gateway.backends.*``,
    * ``gateway.http`` modules that import no front end (sessions, auth, the request keys in
      ``gateway.http.keys``), and ``gateway.config``.
- ``gateway.http`` is the composition root (a decision beyond ARCHITECTURE.md's table, which lists
  only protocols and the fronts): ``app.py`` builds the aiohttp app, ``server.py`` opens the state
  database and the directory client, ``sessions.py`` opens mailboxes (``gateway.store.factory``),
  ``auth/`` checks sign-ins against the directory (``gateway.backends``), and ``app.py`` registers
  each front end's routes. So http may import protocols, the store, backends for sign-in and
  ``gateway.config``, and the fronts only from ``app.py`` (their ``register``). A front end never
  imports ``gateway.http.app``: it finds the shared gateway state on the aiohttp app under
  ``gateway.http.keys.GATEWAY``, and the directory as ``GatewayState.store_directory`` (a
  ``gateway.store.directory.Directory``), which ``EwsContext.directory`` hands to EWS handlers.
- No import cycles among gateway modules: module-level imports form a DAG, and so do all imports
  including the lazy ones inside functions, except for the edges named in ``LAZY_CYCLE_ALLOWLIST``.
- Front ends contain no SQL and do not touch the state database (``.db.one/.all/.execute``,
  ``StateDB``, SQL statement literals), and reach the directory (GAL, ResolveNames, ExpandDL,
  photos, free/busy of others) through the store (``gateway.store.directory``), never through the
  gateway state's directory client.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRONTS = ("gateway.ews", "gateway.emsmdb", "gateway.nspi", "gateway.autodiscover", "gateway.oab")

# The store's public surface for front ends (a module, or a package with everything below it).
STORE_PUBLIC_MODULES = {
    "gateway.store", "gateway.store.errors", "gateway.store.objects", "gateway.store.model",
    "gateway.store.mailbox", "gateway.store.directory",
    # protocol-neutral logic a front end calls on store objects
    "gateway.store.conversions", "gateway.store.summary", "gateway.store.changes", "gateway.store.events",
    "gateway.store.freebusy", "gateway.store.recurrence", "gateway.store.searchfolders", "gateway.store.permissions",
    "gateway.store.oof", "gateway.store.sieve_oof", "gateway.store.sieve_rules",
    # the offline address book's files, made from the directory (MS-OXOAB)
    "gateway.store.oab",
    # contents tables: the package API and the view a front end reads a window at a time; not the index's
    # SQL (tables.sql), rows or columns
    "gateway.store.tables", "gateway.store.tables.view",
}
STORE_PUBLIC_PACKAGES = ("gateway.store.convert",)
FRONT_MAY_IMPORT_ALSO = {"gateway", "gateway.config", "gateway.http"}

# (importer, imported) lazy edges that are allowed to close a cycle, each with its reason.
LAZY_CYCLE_ALLOWLIST: dict[tuple[str, str], str] = {
    ("gateway.store.submit", "gateway.store.outbox"):
        "submission's two halves call each other: a send the SMTP server refuses for now is queued in the "
        "Outbox (submit -> outbox.enqueue), and the Outbox worker retries it by sending again "
        "(outbox -> submit.send_once); both stay inside gateway.store",
}

SQL_LITERAL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE\s+FROM|CREATE\s+TABLE|REPLACE\s+INTO)\s", re.I)


@dataclass(frozen=True)
class Imp:
    importer: str
    target: str
    line: int
    lazy: bool          # inside a function body
    typing_only: bool   # under ``if TYPE_CHECKING:``


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _sources() -> dict[str, tuple[Path, ast.Module]]:
    out = {}
    for top in ("protocols", "gateway"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            out[_module_name(path)] = (path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return out


SOURCES = _sources()
MODULES = set(SOURCES)


def _is_package(mod: str) -> bool:
    return SOURCES[mod][0].name == "__init__.py"


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if not _is_package(importer):
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports_of(mod: str, tree: ast.Module) -> list[Imp]:
    found: list[Imp] = []

    def visit(node: ast.AST, lazy: bool, typing_only: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Imp(mod, alias.name, node.lineno, lazy, typing_only))
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(mod, node)
            for alias in node.names:
                sub = f"{base}.{alias.name}" if base else alias.name
                target = sub if sub in MODULES else base
                found.append(Imp(mod, target, node.lineno, lazy, typing_only))
        for child in ast.iter_child_nodes(node):
            if isinstance(node, ast.If) and _is_type_checking(node.test) and child in node.body:
                visit(child, lazy, True)
            else:
                visit(child, lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)),
                      typing_only)

    visit(tree, False, False)
    return found


IMPORTS = [imp for mod, (_, tree) in SOURCES.items() for imp in _imports_of(mod, tree)]


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _where(imp: Imp) -> str:
    kind = "lazy " if imp.lazy else "type-only " if imp.typing_only else ""
    return f"{imp.importer}:{imp.line} {kind}imports {imp.target}"


def _front_of(mod: str) -> str | None:
    return next((f for f in FRONTS if _under(mod, f)), None)


# ---------------------------------------------------------------------------------------- the rules

def test_the_parser_sees_the_tree():
    assert "gateway.ews.items" in MODULES and "protocols.mapi.ids" in MODULES
    assert any(i.importer == "gateway.ews.endpoint" and i.target == "gateway.ews.context" for i in IMPORTS)


def test_protocols_never_import_gateway_nor_io():
    bad = [_where(i) for i in IMPORTS if _under(i.importer, "protocols")
           and any(_under(i.target, t) for t in ("gateway", "asyncio", "socket", "aiohttp"))]
    assert not bad, "\n".join(bad)


def test_store_never_imports_front_ends_or_http():
    bad = [_where(i) for i in IMPORTS if _under(i.importer, "gateway.store")
           and any(_under(i.target, t) for t in FRONTS + ("gateway.http",))]
    assert not bad, "\n".join(bad)


def _closure(mod: str, graph: dict[str, set[str]]) -> set[str]:
    seen, todo = set(), [mod]
    while todo:
        m = todo.pop()
        for n in graph.get(m, ()):
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


def _graph(*, lazy: bool) -> dict[str, set[str]]:
    g: dict[str, set[str]] = {}
    for i in IMPORTS:
        if i.typing_only or (i.lazy and not lazy) or not _under(i.importer, "gateway") \
                or not _under(i.target, "gateway") or i.target not in MODULES:
            continue
        g.setdefault(i.importer, set()).add(i.target)
    return g


def _http_without_fronts() -> set[str]:
    g = _graph(lazy=True)
    return {m for m in MODULES if _under(m, "gateway.http")
            and not any(_front_of(t) for t in _closure(m, g) | {m})}


def _front_may_import(front: str, target: str, http_ok: set[str]) -> bool:
    if _under(target, front) or target in FRONT_MAY_IMPORT_ALSO - {"gateway.http"}:
        return True
    if target in STORE_PUBLIC_MODULES or any(_under(target, p) for p in STORE_PUBLIC_PACKAGES):
        return True
    return target in http_ok


def test_front_ends_import_only_the_store_api_and_http():
    http_ok = _http_without_fronts()
    bad = []
    for i in IMPORTS:
        front = _front_of(i.importer)
        if front is None or not _under(i.target, "gateway"):
            continue
        if not _front_may_import(front, i.target, http_ok):
            bad.append(_where(i))
    assert not bad, "\n".join(bad)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (or a self-import), Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_no_import_cycles_at_module_level():
    cycles = _cycles(_graph(lazy=False))
    assert not cycles, "\n".join(" <-> ".join(c) for c in cycles)


def test_no_import_cycles_even_through_lazy_imports():
    g = _graph(lazy=True)
    for (a, b) in LAZY_CYCLE_ALLOWLIST:
        g.get(a, set()).discard(b)
    cycles = _cycles(g)
    detail = []
    for comp in cycles:
        edges = sorted(_where(i) for i in IMPORTS if i.importer in comp and i.target in comp and not i.typing_only)
        detail.append(" <-> ".join(comp) + "\n    " + "\n    ".join(edges))
    assert not cycles, "\n".join(detail)


def test_lazy_cycle_allowlist_is_current():
    """Every allowlisted edge still exists and still closes a cycle; a stale entry must go."""
    g = _graph(lazy=True)
    for (a, b) in LAZY_CYCLE_ALLOWLIST:
        assert b in g.get(a, set()), f"{a} -> {b} is gone: remove it from the allowlist"
        assert a in _closure(b, g), f"{a} -> {b} no longer closes a cycle: remove it from the allowlist"


def _front_sources():
    return [(mod, path, tree) for mod, (path, tree) in SOURCES.items() if _front_of(mod)]


def test_front_ends_contain_no_sql():
    bad = []
    for mod, path, tree in _front_sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("one", "all", "execute", "executemany") \
                    and isinstance(node.value, ast.Attribute) and node.value.attr == "db":
                bad.append(f"{mod}:{node.lineno} .db.{node.attr}")
            elif isinstance(node, ast.Attribute) and node.attr == "db" and isinstance(node.ctx, ast.Load):
                bad.append(f"{mod}:{node.lineno} reaches the state database (.db)")
            elif isinstance(node, ast.Name) and node.id == "StateDB":
                bad.append(f"{mod}:{node.lineno} StateDB")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_LITERAL.match(node.value):
                bad.append(f"{mod}:{node.lineno} SQL literal {node.value[:40]!r}")
    assert not bad, "\n".join(sorted(set(bad)))


# What a front end may not reach on any object (the mailbox above all): message rows, overlays and the
# state database are the store's inside. A front end says what it means instead (Mailbox.item_folder,
# change_key_of, item_entryid, remember/remembered/forget, remove_folder_props ...).
STORE_INSIDE_ATTRS = frozenset({"message_row", "set_overlay", "overlay", "_overlay", "move_overlay", "db"})


def _inside_uses(mod: str, tree) -> list[str]:
    return [f"{mod}:{node.lineno} .{node.attr}" for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in STORE_INSIDE_ATTRS]


def test_front_ends_read_no_rows_or_overlays():
    bad = []
    for mod, path, tree in _front_sources():
        bad += _inside_uses(mod, tree)
    assert not bad, "\n".join(sorted(set(bad)))


def test_the_row_and_overlay_rule_catches_a_violation():
    planted = ast.parse("row = ctx.mbx.message_row(g)\nmbx.set_overlay('f', 1, {})\nx = mbx.overlay('m', 2)\n"
                        "mbx.move_overlay('m', 1, 2)\nmbx.db\nok = mbx.item_folder(3)\n")
    assert sorted(u.split(" ")[1] for u in _inside_uses("gateway.ews.x", planted)) == \
        [".db", ".message_row", ".move_overlay", ".overlay", ".set_overlay"]


def test_front_ends_reach_the_directory_through_the_store():
    """No ``state.directory`` / ``getattr(state, "directory")``: the directory client is the store's."""
    bad = []
    for mod, path, tree in _front_sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "directory" \
                    and isinstance(node.value, (ast.Attribute, ast.Name)) \
                    and (getattr(node.value, "attr", None) or getattr(node.value, "id", None)) in ("state", "_state"):
                bad.append(f"{mod}:{node.lineno} state.directory")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" \
                    and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                    and node.args[1].value == "directory":
                bad.append(f"{mod}:{node.lineno} getattr(..., 'directory')")
    assert not bad, "\n".join(sorted(set(bad)))


@pytest.mark.parametrize("rule", ["protocols", "store", "fronts"])
def test_the_rules_catch_a_violation(rule):
    """The checks themselves: a planted bad import is reported."""
    planted = {"protocols": Imp("protocols.mapi.ids", "gateway.store", 1, False, False),
               "store": Imp("gateway.store.mailbox", "gateway.ews.items", 1, True, False),
               "fronts": Imp("gateway.ews.items", "gateway.store.state.db", 1, False, False)}[rule]
    if rule == "fronts":
        assert not _front_may_import("gateway.ews", planted.target, _http_without_fronts())
        assert not _front_may_import("gateway.ews", "gateway.backends.ldap", _http_without_fronts())
        assert not _front_may_import("gateway.ews", "gateway.http.app", _http_without_fronts())
    else:
        assert _under(planted.target, "gateway")
    assert _cycles({"gateway.a": {"gateway.b"}, "gateway.b": {"gateway.a"}}) == [["gateway.a", "gateway.b"]]


def test_only_the_app_imports_front_ends_from_http():
    """``gateway.http.app`` registers the front ends' routes; no other http module knows a front end."""
    bad = [_where(i) for i in IMPORTS if _under(i.importer, "gateway.http") and i.importer != "gateway.http.app"
           and _front_of(i.target)]
    assert not bad, "\n".join(bad)

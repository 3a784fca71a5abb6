"""Every package the shipped code imports is declared in pyproject.toml, and every declared one is used.

A fresh `pip install -e .` must be enough for `exgate demo`: a module that the
gateway imports but only the [test] extra brings (pyspnego once was) breaks
the newcomer's first command. This reads the imports of gateway/ and
protocols/ from their source (nothing is imported) and compares them with
[project].dependencies.
"""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("gateway", "protocols")
# declared only for an extra: imported lazily behind a config switch
OPTIONAL = {"psycopg"}


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(group: str | None = None) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] if group is None else project["optional-dependencies"][group]
    return {_canon(re.split(r"[\s<>=!~\[;]", s, maxsplit=1)[0]) for s in specs}


def _imported_top_levels() -> dict[str, str]:
    """top-level module -> one file importing it, for absolute imports outside the project."""
    found: dict[str, str] = {}
    for pkg in SHIPPED:
        for path in (ROOT / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in SHIPPED and top not in sys.stdlib_module_names and top != "__future__":
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def _distributions_of(module: str) -> set[str]:
    return {_canon(d) for d in packages_distributions().get(module, [])}


def test_every_imported_package_is_declared():
    declared = _declared()
    missing = {}
    for module, where in _imported_top_levels().items():
        dists = _distributions_of(module)
        assert dists, f"{module} (imported by {where}) is not installed: no distribution provides it"
        if module in OPTIONAL:
            assert dists & _declared("postgres"), f"{module} should be in the postgres extra"
            continue
        if not dists & declared:
            missing[module] = (where, sorted(dists))
    assert not missing, f"imported but not in [project].dependencies: {missing}"


def test_every_declared_dependency_is_imported():
    used = set()
    for module in _imported_top_levels():
        used |= _distributions_of(module)
    unused = _declared() - used
    assert not unused, f"declared but never imported by gateway/ or protocols/: {sorted(unused)}"


def test_pyspnego_private_modules_are_used_in_one_place():
    users = []
    for pkg in SHIPPED:
        for path in (ROOT / pkg).rglob("*.py"):
            if re.search(r"^\s*(from|import) spnego\._", path.read_text(), re.M):
                users.append(str(path.relative_to(ROOT)))
    assert users == ["gateway/http/auth/pyspnego.py"]

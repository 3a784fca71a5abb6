"""MAPI restrictions and sort orders compiled onto the table index's columns.

``compile_restriction`` gives a SQL condition that selects exactly the rows the restriction would,
or a superset of them (``exact`` False: the rows the database found are checked again with
``protocols.mapi.restrictions.evaluate``), or nothing at all when no indexed column is involved.
A property a row does not have makes a leaf FALSE (MS-OXCDATA 2.12: a restriction on a missing
property does not match), so every leaf tests ``col IS NOT NULL`` and NOT of it is then TRUE, as in MAPI.
"""
from __future__ import annotations

from dataclasses import dataclass

from protocols.mapi import restrictions as R

from .columns import column_of, stored

_OPS = {R.RELOP_LT: "<", R.RELOP_LE: "<=", R.RELOP_GT: ">", R.RELOP_GE: ">=", R.RELOP_EQ: "=", R.RELOP_NE: "<>"}
TRUE, FALSE = "1 = 1", "1 = 0"


@dataclass(frozen=True)
class Compiled:
    sql: str | None          # None: nothing the database can narrow (every row is a candidate)
    params: tuple
    exact: bool              # the condition is exactly the restriction (no check in Python needed)


NOTHING = Compiled(None, (), False)


def compile_restriction(r) -> Compiled:
    if r is None:
        return Compiled(None, (), True)
    if isinstance(r, R.AndRestriction):
        parts = [compile_restriction(c) for c in r.children]
        used = [p for p in parts if p.sql is not None]
        if not used:
            return Compiled(TRUE, (), True) if not parts else NOTHING
        return Compiled("(" + " AND ".join(p.sql for p in used) + ")", sum((p.params for p in used), ()),
                        all(p.exact for p in parts))
    if isinstance(r, R.OrRestriction):
        parts = [compile_restriction(c) for c in r.children]
        if not parts:
            return Compiled(FALSE, (), True)
        if any(p.sql is None for p in parts):
            return NOTHING       # one branch the database cannot narrow: any row may match
        return Compiled("(" + " OR ".join(p.sql for p in parts) + ")", sum((p.params for p in parts), ()),
                        all(p.exact for p in parts))
    if isinstance(r, R.NotRestriction):
        inner = compile_restriction(r.child)
        if inner.sql is None or not inner.exact:
            return NOTHING       # NOT of a superset is not a superset
        return Compiled(f"NOT {inner.sql}", inner.params, True)
    if isinstance(r, R.CommentRestriction):
        return compile_restriction(r.restriction) if r.restriction is not None else Compiled(TRUE, (), True)
    if isinstance(r, R.ExistRestriction):
        col = column_of(r.tag)
        return Compiled(f"{col[0]} IS NOT NULL", (), True) if col else NOTHING
    if isinstance(r, R.PropertyRestriction):
        return _property(r)
    if isinstance(r, R.ContentRestriction):
        return _content(r)
    if isinstance(r, R.BitMaskRestriction):
        col = column_of(r.tag)
        if not col or col[1] not in ("int", "bool"):
            return NOTHING
        test = "=" if r.bmr == R.BMR_EQZ else "<>"
        return Compiled(f"({col[0]} IS NOT NULL AND ({col[0]} & ?) {test} 0)", (int(r.mask),), True)
    if isinstance(r, R.ComparePropertiesRestriction):
        a, b = column_of(r.tag1), column_of(r.tag2)
        op = _OPS.get(r.relop)
        if not a or not b or a[1] != b[1] or op is None:
            return NOTHING
        return Compiled(f"({a[0]} IS NOT NULL AND {b[0]} IS NOT NULL AND {a[0]} {op} {b[0]})", (), a[1] != "text")
    return NOTHING   # size, sub-object, count, RELOP_RE ...: checked in Python


def _property(r) -> Compiled:
    col = column_of(r.tag)
    op = _OPS.get(r.relop)
    if not col or op is None or isinstance(r.value, (list, tuple)):
        return NOTHING
    value = stored(col[1], r.value)
    if value is None:
        return NOTHING
    # text columns hold case-folded strings: the comparison is the case-insensitive one MAPI makes
    return Compiled(f"({col[0]} IS NOT NULL AND {col[0]} {op} ?)", (value,), True)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _content(r) -> Compiled:
    col = column_of(r.tag)
    if not col or col[1] != "text" or not isinstance(r.value, str):
        return NOTHING
    needle = r.value.casefold()
    level = r.fuzzy & 0xFFFF
    # without IgnoreCase the database finds the case-insensitive superset; Python checks the case
    exact = bool(r.fuzzy & (R.FL_IGNORECASE | R.FL_LOOSE)) and not r.fuzzy & R.FL_IGNORENONSPACE
    if level == R.FL_FULLSTRING:
        return Compiled(f"({col[0]} IS NOT NULL AND {col[0]} = ?)", (needle,), exact)
    if level == R.FL_PREFIX:
        return Compiled(f"({col[0]} IS NOT NULL AND {col[0]} LIKE ? ESCAPE '\\')", (_like(needle) + "%",), exact)
    if level == R.FL_SUBSTRING:
        return Compiled(f"({col[0]} IS NOT NULL AND {col[0]} LIKE ? ESCAPE '\\')", ("%" + _like(needle) + "%",),
                        exact)
    return NOTHING


def compile_sort(sorts) -> str | None:
    """ORDER BY for the sort keys, missing values first when ascending (as Exchange orders them), the
    MID last so equal keys keep one order; None when a key is not an indexed column."""
    if not sorts:
        return "mid ASC"
    parts = []
    for s in sorts:
        col = column_of(s.tag)
        if col is None or s.order not in (R.ORDER_ASCENDING, R.ORDER_DESCENDING):
            return None
        if s.order == R.ORDER_DESCENDING:
            parts.append(f"{col[0]} DESC NULLS LAST")
        else:
            parts.append(f"{col[0]} ASC NULLS FIRST")
    last = "DESC" if sorts[-1].order == R.ORDER_DESCENDING else "ASC"
    parts.append(f"mid {last}")
    return ", ".join(parts)

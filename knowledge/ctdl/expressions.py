"""Requirement expressions: what earning a pathway's destination takes, before flattening into rules."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from knowledge.ctdl.values import (
    _RELAXATION_BUDGET,
)

# ---------------------------------------------------------------- requirement expressions


@dataclass(frozen=True)
class _Unit:
    """Earning credential ``cred`` (and meeting ``requires``, the component's own conditions)."""

    cred: str
    requires: tuple[_Expr, ...] = ()


@dataclass(frozen=True)
class _Group:
    """At least ``n`` of ``children`` (or, with ``credits``, that many ECTS from them)."""

    n: int
    children: tuple[_Expr, ...]
    label: str
    credits: float | None = None


_Expr = _Unit | _Group


def _satisfied(expr: _Expr, chosen: frozenset[str], ects: dict[str, float]) -> bool:
    if isinstance(expr, _Unit):
        return expr.cred in chosen and all(_satisfied(r, chosen, ects) for r in expr.requires)
    if expr.credits is not None:
        total = sum(ects.get(c.cred, 0.0) for c in expr.children
                    if isinstance(c, _Unit) and _satisfied(c, chosen, ects))
        return total >= expr.credits
    return sum(1 for c in expr.children if _satisfied(c, chosen, ects)) >= expr.n


def _leaves(expr: _Expr, out: dict[str, None] | None = None) -> list[str]:
    out = {} if out is None else out
    if isinstance(expr, _Unit):
        out.setdefault(expr.cred, None)
        for r in expr.requires:
            _leaves(r, out)
    else:
        for c in expr.children:
            _leaves(c, out)
    return list(out)


def _min_credentials(expr: _Expr, pool: list[str], ects: dict[str, float]) -> int | None:
    """Fewest credentials from ``pool`` that satisfy ``expr`` (None when the search is too large)."""
    evaluations = 0
    for k in range(len(pool) + 1):
        for combo in itertools.combinations(pool, k):
            evaluations += 1
            if evaluations > _RELAXATION_BUDGET:
                return None
            if _satisfied(expr, frozenset(combo), ects):
                return k
    return None


def _direct_necessary(expr: _Expr) -> tuple[set[str], bool]:
    """Credentials ``expr`` always needs (not looking past another earnable unit), and whether that is all."""
    if isinstance(expr, _Unit):
        return {expr.cred}, True
    if expr.credits is None and expr.n >= len(expr.children):
        needed: set[str] = set()
        exact = True
        for child in expr.children:
            sub, sub_exact = _direct_necessary(child)
            needed |= sub
            exact = exact and sub_exact
        return needed, exact
    return set(), False


def _units(expr: _Expr, out: list[_Unit] | None = None) -> list[_Unit]:
    out = [] if out is None else out
    if isinstance(expr, _Unit):
        if expr not in out:
            out.append(expr)
        for r in expr.requires:
            _units(r, out)
    else:
        for c in expr.children:
            _units(c, out)
    return out

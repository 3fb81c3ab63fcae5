"""The one Jinja2 environment for the evals' HTML reports.

Templates live in ``evals/templates/*.html.j2`` (shipped as package data) and are autoescaped: every value a
template prints is HTML-escaped unless a template marks it safe, so dataset text, answers and model output
cannot inject markup. ``fmt``, ``pct`` and ``counts`` are the formats the reports share (as filters).
"""

from __future__ import annotations

import math
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape


def fmt(value: float | None, digits: int = 3) -> str:
    """A figure to ``digits`` decimals; an en dash when it is missing or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def pct(value: float | None) -> str:
    """A share as a percentage to one decimal; an en dash when it is missing."""
    return "–" if value is None else f"{value:.1%}"


def counts(tally: dict[str, int]) -> str:
    """``{"b": 2, "a": 1}`` as ``"a 1, b 2"`` (sorted by label)."""
    return ", ".join(f"{k} {v}" for k, v in sorted(tally.items()))


# ".j2" is listed because select_autoescape() matches the last suffix: "report.html.j2" would not be escaped
ENV = Environment(loader=PackageLoader("evals", "templates"), autoescape=select_autoescape(("html", "htm", "j2")),
                  keep_trailing_newline=True)
ENV.filters.update(fmt=fmt, pct=pct, counts=counts)


def render(template: str, **context: Any) -> str:
    """Render ``evals/templates/<template>`` with ``context``."""
    return ENV.get_template(template).render(**context)

"""Routing with a bound: choose the confidence above which the grader decides alone.

Pure functions. A threshold is accepted only when, on held-out graded evidence, the one-sided 95 %
Clopper–Pearson upper bound on the error rate of the decisions it would have made automatically
stays at or below a configured limit. Thresholds are tested from the strictest to the loosest and
the search stops at the first one that fails (fixed-sequence testing, as in Learn-then-Test), so
trying many thresholds does not inflate the error. With too few graded examples nothing is
accepted and everything goes to an assessor; :func:`examples_needed` says how many error-free
decisions the limit requires.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import beta

ALPHA = 0.05  # one-sided: the bound holds with 95 % confidence


def upper_bound(errors: int, n: int, alpha: float = ALPHA) -> float:
    """One-sided (1 - alpha) Clopper–Pearson upper bound on an error rate seen as ``errors`` of ``n``."""
    if n < 0 or errors < 0 or errors > n:
        raise ValueError(f"need 0 <= errors <= n, got errors={errors}, n={n}")
    if n == 0 or errors == n:
        return 1.0
    return float(beta.ppf(1 - alpha, errors + 1, n - errors))


def examples_needed(limit: float, alpha: float = ALPHA) -> int:
    """The fewest error-free automatic decisions whose upper bound is at most ``limit``."""
    if not 0 < limit < 1:
        raise ValueError(f"limit must be in (0, 1), got {limit}")
    return math.ceil(math.log(alpha) / math.log(1 - limit))


@dataclass(frozen=True)
class Choice:
    """The accepted threshold (None: decide nothing automatically) and what it did on the calibration data."""

    threshold: float | None
    limit: float
    n_calibration: int
    automatic: int  # calibration decisions the threshold decides automatically
    errors: int  # of those, how many were wrong
    bound: float  # the upper bound on their error rate (1.0 when nothing is automatic)
    needed: int  # error-free automatic decisions the limit needs at the least
    errors_at_needed: int = 0  # errors among the ``needed`` most confident cases (why nothing was accepted)

    @property
    def coverage(self) -> float:
        return self.automatic / self.n_calibration if self.n_calibration else 0.0

    def describe(self) -> str:
        if self.threshold is None:
            if self.n_calibration < self.needed:
                return (f"only {self.n_calibration} calibration examples: a {self.limit:.1%} bound needs at least "
                        f"{self.needed} error-free automatic decisions ({self.needed - self.n_calibration} more graded "
                        "examples at the least): everything goes to an assessor")
            return (f"the {self.needed} most confident of {self.n_calibration} calibration examples already include "
                    f"{self.errors_at_needed} error(s), so no threshold keeps the 95 % upper bound at or below "
                    f"{self.limit:.1%}: everything goes to an assessor (more graded examples, or a grader that "
                    "separates better, are needed)")
        return (f"threshold {self.threshold:.3f}: {self.automatic}/{self.n_calibration} calibration examples decided "
                f"automatically, {self.errors} wrong, 95 % upper bound {self.bound:.1%} <= {self.limit:.1%}")


def choose_threshold(confidences: Sequence[float], wrong: Sequence[bool], limit: float,
                     alpha: float = ALPHA) -> Choice:
    """The loosest confidence threshold whose automatic decisions keep the error bound within ``limit``.

    ``confidences[i]``: how sure the grader was of calibration case ``i``; ``wrong[i]``: whether deciding it
    automatically would have been an error (a false pass, say). A case is automatic when its confidence is at
    least the threshold. Candidates are the distinct confidences, strictest first, from the first one that
    decides at least :func:`examples_needed` cases; the first candidate whose bound exceeds ``limit`` ends
    the search.
    """
    if len(confidences) != len(wrong):
        raise ValueError("need one 'wrong' flag per confidence")
    needed = examples_needed(limit, alpha)
    n = len(confidences)
    order = sorted(range(n), key=lambda i: -confidences[i])
    best = Choice(None, limit, n, 0, 0, 1.0, needed)
    automatic = errors = 0
    i = 0
    while i < n:
        level = confidences[order[i]]
        while i < n and confidences[order[i]] == level:  # ties enter together
            automatic += 1
            errors += bool(wrong[order[i]])
            i += 1
        if automatic < needed:
            continue  # too few cases for any bound within the limit: not yet a test
        bound = upper_bound(errors, automatic, alpha)
        if bound > limit:
            if best.threshold is None:
                best = Choice(None, limit, n, 0, 0, 1.0, needed, errors)
            break  # the first failed test ends the sequence: looser thresholds are not tried
        best = Choice(float(level), limit, n, automatic, errors, bound, needed)
    return best

"""Whole-catalogue checks: references between entities and prerequisite cycles."""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter

from knowledge.loading import LoadedCatalogue, Located, Problem
from knowledge.schema import MinCredits, Prerequisite


def _at(where: Located, *loc: str | int) -> int:
    return where.source.line_of((*where.loc, *loc))


def check_references(loaded: LoadedCatalogue) -> list[Problem]:
    """Every id a credential or pathway mentions must exist."""
    problems: list[Problem] = []
    providers, credentials = loaded.providers, loaded.credentials

    for cred, where in credentials.values():
        if cred.awarding_body not in providers:
            problems.append(Problem(where.file, _at(where, "awarding_body"),
                                    f"credential {cred.id!r}: unknown awarding body {cred.awarding_body!r}"))
        for i, pre in enumerate(cred.prerequisites):
            if pre not in credentials:
                problems.append(Problem(where.file, _at(where, "prerequisites", i),
                                        f"credential {cred.id!r}: unknown prerequisite {pre!r}"))
        for i, pre in enumerate(cred.recommended):
            if pre not in credentials:
                problems.append(Problem(where.file, _at(where, "recommended", i),
                                        f"credential {cred.id!r}: unknown recommended credential {pre!r}"))

    for path, where in loaded.pathways.values():
        if path.awarding_body not in providers:
            problems.append(Problem(where.file, _at(where, "awarding_body"),
                                    f"pathway {path.id!r}: unknown awarding body {path.awarding_body!r}"))
        if path.destination is not None and path.destination not in credentials:
            problems.append(Problem(where.file, _at(where, "destination"),
                                    f"pathway {path.id!r}: unknown destination credential {path.destination!r}"))
        for r, rule in enumerate(path.requirements):
            if isinstance(rule, Prerequisite):
                refs = [("credential", None, rule.credential)]
                refs += [("requires", i, c) for i, c in enumerate(rule.requires)]
            else:
                refs = [("credentials", i, c) for i, c in enumerate(rule.credentials or [])]
            for key, index, cid in refs:
                if cid not in credentials:
                    loc = ("requirements", r, key) if index is None else ("requirements", r, key, index)
                    problems.append(Problem(where.file, _at(where, *loc),
                                            f"pathway {path.id!r}: unknown credential {cid!r}"))
            if isinstance(rule, MinCredits):
                pool = rule.credentials if rule.credentials is not None else path.credential_ids()
                available = sum(credentials[c][0].ects for c in pool if c in credentials)
                if available < rule.ects:
                    problems.append(Problem(where.file, _at(where, "requirements", r, "ects"),
                                            f"pathway {path.id!r}: min_credits asks for {rule.ects:g} ECTS but the "
                                            f"listed credentials offer only {available:g}"))
        for k, rec in enumerate(path.credit_recognition):
            if rec.recognised_by not in providers:
                problems.append(Problem(where.file, _at(where, "credit_recognition", k, "recognised_by"),
                                        f"pathway {path.id!r}: unknown recognising provider {rec.recognised_by!r}"))
            for i, cid in enumerate(rec.credentials or []):
                if cid not in credentials:
                    problems.append(Problem(where.file, _at(where, "credit_recognition", k, "credentials", i),
                                            f"pathway {path.id!r}: unknown credential {cid!r}"))
    return problems


def prerequisite_graph(loaded: LoadedCatalogue) -> dict[str, set[str]]:
    """credential id -> ids that must come before it (catalogue prerequisites plus pathway rules)."""
    graph: dict[str, set[str]] = {cid: set(c.prerequisites) for cid, (c, _) in loaded.credentials.items()}
    for path, _ in loaded.pathways.values():
        for rule in path.requirements:
            if isinstance(rule, Prerequisite):
                graph.setdefault(rule.credential, set()).update(rule.requires)
    return graph


def check_cycles(loaded: LoadedCatalogue) -> list[Problem]:
    """Prerequisites must not form a cycle; report one problem per cycle found."""
    graph = prerequisite_graph(loaded)
    problems: list[Problem] = []
    seen_cycles: set[frozenset[str]] = set()
    while True:
        try:
            TopologicalSorter(graph).prepare()
            return problems
        except CycleError as exc:
            cycle: list[str] = exc.args[1]
            key = frozenset(cycle)
            if key in seen_cycles:
                return problems
            seen_cycles.add(key)
            first = cycle[0]
            if first in loaded.credentials:
                _, where = loaded.credentials[first]
                file, line = where.file, _at(where, "prerequisites")
            else:
                file, line = "<catalogue>", 1
            problems.append(Problem(file, line, "prerequisite cycle: " + " requires ".join(reversed(cycle))))
            # cycle[0] is a predecessor of cycle[1]: drop that edge and look for further cycles
            graph[cycle[1]].discard(cycle[0])


def check_catalogue(loaded: LoadedCatalogue) -> list[Problem]:
    problems = check_references(loaded)
    problems += check_cycles(loaded)
    return problems

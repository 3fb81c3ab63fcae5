"""The import graph keeps the contracts in pyproject.toml's ``[tool.importlinter]``: arrows point down
(stackwise and evals, assistant, issuance, grader, knowledge, then llm/storage/prompts), domains import neither
the composition root nor a channel library, and no package's modules import each other in a circle.

Runs ``lint-imports`` (import-linter) on this checkout in a child process, so the graph is built from these
files (not from an installed copy) and nothing is cached between runs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ("layers", "domains-no-channels", "acyclic")
PACKAGES = ("stackwise", "evals", "assistant", "issuance", "grader", "knowledge", "llm", "storage", "prompts")


def _lint_imports(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", code, "--no-cache", "--no-logo", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def _all_but_python(folder: str, names: list[str]) -> list[str]:
    """``copytree``'s ignore: keep Python sources and folders (not caches), skip every other file."""
    return [n for n in names if n == "__pycache__" or not (n.endswith(".py") or (Path(folder) / n).is_dir())]


def test_every_import_contract_is_kept():
    from importlinter.api import read_configuration

    declared = {c["id"] for c in read_configuration(str(ROOT / "pyproject.toml"))["contracts_options"]}
    assert declared == set(CONTRACTS)
    result = _lint_imports(str(ROOT / "pyproject.toml"))
    report = result.stdout + result.stderr
    broken = report.split("Broken contracts", 1)[1] if "Broken contracts" in report else report
    assert result.returncode == 0, f"import contracts broken:\n{broken}"
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in report, report


def test_an_upward_import_breaks_the_contracts(tmp_path):
    """A copy of the sources where knowledge imports the composition root: both contracts that forbid it fail."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=_all_but_python)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "knowledge" / "upward.py").write_text("from stackwise.config import get_settings\n")

    result = _lint_imports("pyproject.toml", cwd=tmp_path)
    report = result.stdout + result.stderr
    assert result.returncode != 0
    assert "knowledge is not allowed to import stackwise" in report
    assert "knowledge.upward -> stackwise.config" in report
    assert f"Contracts: {len(CONTRACTS) - 2} kept, 2 broken." in report, report

"""Each domain has one public face (``<domain>/api.py``) and one error root, and events have no module-level state."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOMAINS = {"grader": "GraderError", "issuance": "IssuanceError", "assistant": "AssistantError",
           "knowledge": "KnowledgeError"}
CHANNELS: set[str] = set()  # every channel lives in the composition root (stackwise/)
CALLERS = [*sorted(str(p.relative_to(ROOT)) for p in (ROOT / "stackwise").rglob("*.py")),
           *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "evals").rglob("*.py"))]


def _domain_modules(domain: str) -> list[str]:
    package = importlib.import_module(domain)
    names = [domain] + [m.name for m in pkgutil.walk_packages(package.__path__, f"{domain}.")]
    return [n for n in names if n not in CHANNELS and not n.endswith("extract_worker")]


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_the_face_exports_what_it_lists(domain: str) -> None:
    api = importlib.import_module(f"{domain}.api")
    assert api.__doc__ and len(api.__all__) == len(set(api.__all__))
    missing = [name for name in api.__all__ if getattr(api, name, None) is None]
    assert missing == []
    assert getattr(api, DOMAINS[domain]).__name__ == DOMAINS[domain]


def test_every_name_a_channel_or_eval_imports_from_a_domain_is_on_its_face() -> None:
    missing = []
    for path in CALLERS:
        for node in ast.walk(ast.parse((ROOT / path).read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not node.module or node.module in CHANNELS:
                continue
            domain = node.module.split(".")[0]
            if domain not in DOMAINS:
                continue
            api = importlib.import_module(f"{domain}.api")
            for alias in node.names:
                module = importlib.import_module(node.module)
                value = getattr(module, alias.name)
                if inspect.ismodule(value) or alias.name.startswith("_"):
                    continue  # a module (``from grader import accounts``), or a private name kept for evals
                if getattr(api, alias.name, None) is not value:
                    missing.append(f"{path}: {node.module}.{alias.name}")
    assert missing == []


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_every_exception_of_a_domain_derives_from_its_root(domain: str) -> None:
    root = getattr(importlib.import_module(f"{domain}.api"), DOMAINS[domain])
    strays = []
    for name in _domain_modules(domain):
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == name and issubclass(cls, BaseException) and not issubclass(cls, root):
                strays.append(f"{name}.{cls.__name__}")
    assert strays == []


def test_no_module_holds_event_listeners() -> None:
    """Listeners live on instances: no grader or issuance module keeps a list (or lock) of them."""
    for domain in ("grader", "issuance"):
        for name in _domain_modules(domain):
            module = importlib.import_module(name)
            state = [attr for attr, value in vars(module).items()
                     if "listener" in attr.lower() and isinstance(value, list | set | dict)]
            assert state == [], name
    import grader.queue

    assert not hasattr(grader.queue, "on_ready_to_issue")

"""Model-written reasons and next steps per criterion, after the decision (so they never delay it).

One generation per submission, constrained to JSON by the runtime where it can be (llama.cpp grammar) and
validated either way: a quote is kept only when it appears verbatim in the evidence (else the engine's own
verbatim quote is used), and a criterion the model skipped keeps the engine's draft reason. For every level
below the top, ``next_step`` says what the next level asks for, in the model's words tied to the evidence,
or the next level's descriptor when the model gave nothing usable.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any, Protocol

from grader.checks import MAX_EVIDENCE_CHARS, new_marker
from grader.models import CriterionFeedback
from knowledge.schema import Credential
from prompts import Prompt, load_prompt


class ChatModel(Protocol):
    name: str

    def chat(self, messages: Sequence[dict[str, str]], *, max_tokens: int = 256, temperature: float = 0.0,
             stop: Sequence[str] | None = None, json_schema: dict[str, Any] | None = None) -> str: ...


def _squash(text: str) -> str:
    return " ".join(text.split())


def schema(criterion_ids: Sequence[str]) -> dict[str, Any]:
    item = {"type": "object", "properties": {
        "criterion": {"type": "string", "enum": list(criterion_ids)},
        "reason": {"type": "string", "maxLength": 180},
        "quote": {"type": "string", "maxLength": 160},
        "next_step": {"type": "string", "maxLength": 160}},
        "required": ["criterion", "reason", "quote", "next_step"]}
    return {"type": "object", "properties": {"criteria": {"type": "array", "items": item,
                                                          "minItems": len(criterion_ids),
                                                          "maxItems": len(criterion_ids)}},
            "required": ["criteria"]}


class FeedbackWriter:
    def __init__(self, model: ChatModel, prompt: Prompt | None = None, max_tokens: int = 520):
        self.model = model
        self.prompt = prompt or load_prompt("grader_feedback")
        self.max_tokens = max_tokens

    def messages(self, credential: Credential, evidence: str, levels: dict[str, str]) -> list[dict[str, str]]:
        lines = []
        for c in credential.rubric.criteria:
            ids = [lv.id for lv in c.levels]
            i = ids.index(levels[c.id])
            nxt = c.levels[i + 1] if i + 1 < len(ids) else None
            lines.append(f"- {c.id} ({c.title}): {c.levels[i].label} — {_squash(c.levels[i].descriptor)}"
                         + (f" | next level {nxt.label}: {_squash(nxt.descriptor)}" if nxt else " | top level"))
        text = evidence[:MAX_EVIDENCE_CHARS]
        return [{"role": "system", "content": self.prompt.render("system")},
                {"role": "user", "content": self.prompt.render("user", title=credential.title, evidence=text,
                                                               marker=new_marker(), levels="\n".join(lines))}]

    def write(self, credential: Credential, evidence: str, levels: dict[str, str],
              fallback_quotes: dict[str, list[str]] | None = None) -> tuple[list[CriterionFeedback], float]:
        """Feedback per criterion (in rubric order) and the seconds it took."""
        started = time.perf_counter()
        ids = [c.id for c in credential.rubric.criteria]
        raw = self.model.chat(self.messages(credential, evidence, levels), max_tokens=self.max_tokens,
                              json_schema=schema(ids))
        try:
            given = {row["criterion"]: row for row in json.loads(raw).get("criteria", [])
                     if isinstance(row, dict) and row.get("criterion") in ids}
        except (json.JSONDecodeError, AttributeError):
            given = {}
        flat = _squash(evidence)
        out = []
        for c in credential.rubric.criteria:
            row = given.get(c.id, {})
            level_ids = [lv.id for lv in c.levels]
            i = level_ids.index(levels[c.id])
            quote = _squash(str(row.get("quote", "")))
            quotes = [quote] if len(quote.split()) >= 3 and quote in flat else list((fallback_quotes or {}).get(c.id,
                                                                                                            []))[:1]
            reason = _squash(str(row.get("reason", ""))) or f"{c.levels[i].label}: {_squash(c.levels[i].descriptor)}"
            if i + 1 < len(level_ids):
                step = _squash(str(row.get("next_step", ""))) or (
                    f"To reach {c.levels[i + 1].label}: {_squash(c.levels[i + 1].descriptor)}")
            else:
                step = ""
            out.append(CriterionFeedback(criterion_id=c.id, rationale=reason, quotes=quotes, next_step=step))
        return out, round(time.perf_counter() - started, 3)

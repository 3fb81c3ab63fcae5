"""The model's side of injection detection: P(yes) that a passage of evidence is aimed at the grader.

The messages are the system prompt and a few worked examples (``prompts/grader_injection.vN.md``; the
same for every passage, so the model's prefix cache computes them once per process), then one short
question per passage. The passage sits between marker lines holding a fresh random token per request
(:func:`grader.checks.new_marker`), so no evidence can forge its own end (the worked examples use a
fixed marker of their own). Answers are cached by passage
text (an evidence piece shares most of its passages with its previous version).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence

from grader.checks import new_marker
from grader.choice_model import ChoiceModel
from prompts import Prompt, load_prompt

EXAMPLE_MARKER = "=====PASSAGE-EXAMPLE====="


class ModelJudge:
    """``p_yes(passages)``: the model's P(yes) per passage (see the module doc)."""

    def __init__(self, model: ChoiceModel | Callable[[], ChoiceModel], prompt: Prompt | None = None,
                 cache_size: int = 20000):
        self._model = model
        self.prompt = prompt or load_prompt("grader_injection")
        self._cache: OrderedDict[str, float] = OrderedDict()
        self._cache_size = cache_size

    @property
    def model(self) -> ChoiceModel:
        if callable(self._model) and not hasattr(self._model, "choice_distribution"):
            self._model = self._model()  # loaded on first use
        return self._model  # type: ignore[return-value]

    @property
    def fingerprint(self) -> str:
        """The prompt's id and a hash of its text: what a stored answer depends on (beside the model)."""
        text = "\n".join(f"{k}\n{v}" for k, v in sorted(self.prompt.parts.items()))
        return f"{self.prompt.id}:{hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]}"

    def head(self) -> list[dict[str, str]]:
        """System prompt and worked examples: identical for every request, so the model caches them once.
        The examples' marker is fixed (it is public anyway); each real passage gets a fresh random one."""
        messages = [{"role": "system", "content": self.prompt.render("system")}]
        for line in self.prompt.parts.get("examples", "").splitlines():
            answer, _, example = line.partition("|")
            if example.strip():
                messages += [self.question(example.strip(), EXAMPLE_MARKER),
                             {"role": "assistant", "content": answer.strip()}]
        return messages

    def question(self, passage: str, marker: str) -> dict[str, str]:
        return {"role": "user", "content": self.prompt.render("passage", passage=passage[:1500], marker=marker)}

    def p_yes(self, passages: Sequence[str]) -> list[float]:
        marker = new_marker("PASSAGE")
        head: list[dict[str, str]] | None = None
        out = []
        for passage in passages:
            key = " ".join(passage.split())
            if key not in self._cache:
                head = head or self.head()
                dist = self.model.choice_distribution([*head, self.question(passage, marker)], ["yes", "no"])
                self._cache[key] = float(dist["yes"])
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            out.append(self._cache[key])
        return out

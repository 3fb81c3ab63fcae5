"""The labelled portfolio-evidence set for the grader benchmark (evals/grading_evidence/items.yaml).

No language model: the file is well formed, agrees with the demo catalogue's rubrics, is big and varied
enough, and malformed input is reported with the file and the item.
"""

from __future__ import annotations

from collections import Counter

import pytest

from evals.grading_evidence import (
    DEFAULT_EVIDENCE_SET,
    EvidenceItem,
    EvidenceSetInvalid,
    check_against,
    load_evidence_dir,
    load_evidence_set,
    word_count,
)
from knowledge import load_catalogue
from stackwise.config import BUNDLED_CATALOGUE


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(BUNDLED_CATALOGUE)


@pytest.fixture(scope="module")
def items() -> list[EvidenceItem]:
    return load_evidence_dir()


def test_set_agrees_with_the_demo_catalogue(catalogue, items):
    assert check_against(catalogue, items) == []


def test_set_is_big_and_varied_enough(catalogue, items):
    tags = Counter(tag for item in items for tag in item.tags)
    credentials = {item.credential for item in items}
    five_criteria = {c for c in credentials if len(catalogue.credentials[c].rubric.criteria) == 5}
    assert len(items) >= 150
    assert tags["strong"] >= 15 and tags["weak"] >= 40 and tags["borderline"] >= 25
    assert tags["injection"] >= 6
    assert tags["off_topic"] >= 4
    assert tags["machine_generated"] >= 2
    assert len(credentials) >= 8
    assert len(five_criteria) >= 3
    assert {i.expected_decision for i in items} == {"pass", "fail", "review"}
    assert all(i.expected_decision == "review" for i in items if "injection" in i.tags)
    assert all(i.expected_decision == "fail" for i in items if "off_topic" in i.tags)


def test_every_credential_has_a_pass_and_a_fail(items):
    decisions: dict[str, set[str]] = {}
    for item in items:
        decisions.setdefault(item.credential, set()).add(item.expected_decision)
    assert all({"pass", "fail"} <= seen for seen in decisions.values()), decisions


def test_evidence_length(items):
    wrong = {i.id: word_count(i.evidence) for i in items if not 30 <= word_count(i.evidence) <= 600}
    assert not wrong, f"evidence outside 30-600 words: {wrong}"
    assert sum(word_count(i.evidence) < 80 for i in items) >= 8  # the short boasts a grader must not pass


def test_the_test_split_is_fixed_and_balanced(catalogue, items):
    test = [i for i in items if i.split == "test"]
    assert 40 <= len(test) <= 60
    assert {i.expected_decision for i in test} >= {"pass", "fail"}
    assert len({i.credential for i in test}) >= 8
    # the first 51 items were written and looked at while the earlier graders were built: never test items
    assert all(i.split == "train" for i in load_evidence_set())


def test_ids_and_texts_are_unique(items):
    assert len({i.id for i in items}) == len(items)
    assert len({" ".join(i.evidence.split()) for i in items}) == len(items)


def test_check_against_reports_each_kind_of_problem(catalogue, items):
    good = next(i for i in items if i.credential == "data-governance" and i.expected_decision == "pass")
    labels = dict(good.labels)
    first = next(iter(labels))
    broken = [
        good,
        good,  # duplicate id
        good.model_copy(update={"id": "x-unknown", "credential": "no-such-credential"}),
        good.model_copy(update={"id": "x-missing", "labels": {k: v for k, v in labels.items() if k != first}}),
        good.model_copy(update={"id": "x-extra", "labels": {**labels, "no-such-criterion": "competent"}}),
        good.model_copy(update={"id": "x-level", "labels": {**labels, first: "no-such-level"}}),
        good.model_copy(update={"id": "x-decision", "expected_decision": "fail"}),
    ]
    problems = "\n".join(check_against(catalogue, broken))
    assert f"{good.id}: duplicate item id" in problems
    assert "x-unknown: unknown credential 'no-such-credential'" in problems
    assert f"x-missing: no label for criteria {first}" in problems
    assert "x-extra: labels for unknown criteria no-such-criterion" in problems
    assert "x-level: unknown level 'no-such-level'" in problems
    assert "x-decision: expected_decision 'fail'" in problems


def test_malformed_item_is_reported_with_file_and_item(tmp_path):
    path = tmp_path / "items.yaml"
    path.write_text(
        "items:\n"
        "  - id: ok-01\n"
        "    credential: data-governance\n"
        "    evidence: Some evidence.\n"
        "    labels: {roles-ownership: competent}\n"
        "    expected_decision: pass\n"
        "  - id: bad-02\n"
        "    credential: data-governance\n"
        "    evidence: Some evidence.\n"
        "    labels: {roles-ownership: competent}\n"
        "    expected_decision: maybe\n"
        "    tags: [weak, not-a-tag]\n",
        encoding="utf-8",
    )
    with pytest.raises(EvidenceSetInvalid) as caught:
        load_evidence_set(path)
    message = str(caught.value)
    assert str(path) in message
    assert "'bad-02'" in message
    assert "expected_decision" in message and "tags" in message
    assert "ok-01" not in message


def test_yaml_syntax_error_names_the_item(tmp_path):
    text = DEFAULT_EVIDENCE_SET.read_text(encoding="utf-8")
    broken = text.replace("  - id: pe-03\n    credential: prompt-engineering\n",
                          "  - id: pe-03\n    credential: [prompt-engineering\n", 1)
    assert broken != text
    path = tmp_path / "items.yaml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(EvidenceSetInvalid, match=r"items\.yaml: line \d+ in item 'pe-03': invalid YAML"):
        load_evidence_set(path)

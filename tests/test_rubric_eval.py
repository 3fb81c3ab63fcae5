"""The rubric engine's evaluation on small slices, model-free (local MiniLM embeddings and text measurements):
the demo evidence and ELLIPSE essays (read from ../shared through the path helper), fitted on the train split
and measured on the held-out one; the report files; the CLI's clear errors."""

from __future__ import annotations

import json

import pytest

from evals.rubric_eval import make_reader, render_text
from evals.rubric_eval.datasets import ELLIPSE_TEST_PROMPTS, RubricDatasetError, load_demo_evidence, load_ellipse
from evals.rubric_eval.report import write
from evals.rubric_eval.runner import run
from knowledge import load_catalogue
from stackwise.config import BUNDLED_CATALOGUE, Settings
from tests.paths import shared_path

CATALOGUE = load_catalogue(BUNDLED_CATALOGUE)


@pytest.fixture(scope="module")
def reader():
    return make_reader("none", Settings())


def test_demo_evidence_split_is_fixed_and_the_test_split_stays_out_of_fitting(tmp_path, reader):
    dataset = load_demo_evidence(CATALOGUE)
    train, test = dataset.split("train"), dataset.split("test")
    assert len(train) >= 100 and len(test) >= 40
    result = run(dataset, *reader, tmp_path / "cache", train_limit=40, test_limit=12, curve=True)
    assert result.n_train == 40 and result.n_test == 12
    names = {v.name for v in result.variants}
    assert "text+semantic+overlap+knn" in names and not any("checks" in n or "letters" in n for n in names)
    for v in result.variants:
        assert v.n_criteria_scored > 0
        assert v.qwk_pooled is None or -1 <= v.qwk_pooled <= 1
        assert v.routing is not None and v.routing.test_n == 12
        assert v.routing.test_auto + v.routing.test_flagged <= 12
        if v.routing.threshold is None:  # 40 training submissions cannot support a 5 % bound
            assert v.routing.test_auto == 0 and "assessor" in v.routing.describe
    assert [p.n_train_items for p in result.curve] == sorted(p.n_train_items for p in result.curve)
    files = write(result, tmp_path / "report")
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "never used to fit" in html and json.loads(files[1].read_text())["dataset"] == "demo-evidence"
    assert "test never tuned on" in render_text(result)


def test_ellipse_is_evaluated_across_writing_prompts(tmp_path, reader):
    shared_path("datasets", "ellipse_dev", "essays.jsonl")
    dataset = load_ellipse(shared_path("datasets"))
    assert len(dataset.items) == 1292
    train_prompts = {i.group for i in dataset.split("train")}
    test_prompts = {i.group for i in dataset.split("test")}
    assert test_prompts == set(ELLIPSE_TEST_PROMPTS) and not train_prompts & test_prompts
    assert any(len(v) == 2 for i in dataset.items for v in i.levels.values())  # two raters who split
    result = run(dataset, *reader, tmp_path / "cache", train_limit=30, test_limit=15, curve=False,
                 variants=["text", "text+semantic+overlap+knn"])
    assert {v.name for v in result.variants} == {"text", "text+semantic+overlap+knn"}
    for v in result.variants:
        assert v.routing is None  # essays carry levels, not a pass rule
        assert set(v.qwk_per_group) == {s.key for s in dataset.items[0].specs}


def test_missing_ellipse_is_a_clear_error(tmp_path):
    with pytest.raises(RubricDatasetError, match="ELLIPSE not found"):
        load_ellipse(tmp_path)

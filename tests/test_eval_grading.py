"""Grading evaluation (issue 5): metrics against sklearn and by hand, dataset loaders, the short-answer
scorer's prompt and calibrator, cache resume, report files, the CLI; one slice on the real model."""

from __future__ import annotations

import json
import math
import random

import pytest
from typer.testing import CliRunner

from evals.grading_eval import DatasetError, EvalOptions, evaluate, load_dataset
from evals.grading_eval import metrics as M
from evals.grading_eval.cache import ResultCache
from evals.grading_eval.datasets import gold_label, load_file
from grader.short_answer import (
    SCALES,
    Calibrator,
    ExamplePool,
    GradedAnswer,
    RawScore,
    ShortAnswerScorer,
    ShortAnswerTask,
    memoised,
    overlap_f1,
    scale_for,
)
from stackwise.cli import app
from stackwise.config import Settings
from tests.paths import shared_path

LABELS = ["incorrect", "partial", "correct"]


# ------------------------------------------------------------------ metrics


def _random_labels(n: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    gold = [rng.choice(LABELS) for _ in range(n)]
    pred = [g if rng.random() < 0.6 else rng.choice(LABELS) for g in gold]
    return gold, pred


def test_metrics_hand_checkable():
    gold = ["correct", "correct", "incorrect", "incorrect"]
    pred = ["correct", "incorrect", "incorrect", "incorrect"]
    labels = ["incorrect", "correct"]
    assert M.confusion(gold, pred, labels) == [[2, 0], [1, 1]]
    assert M.accuracy(gold, pred) == 0.75
    # F1(incorrect) = 2*2/(2+3) = 0.8, F1(correct) = 2*1/(2+1) = 2/3
    assert M.per_label_f1(gold, pred, labels) == pytest.approx({"incorrect": 0.8, "correct": 2 / 3})
    assert M.macro_f1(gold, pred, labels) == pytest.approx((0.8 + 2 / 3) / 2)
    # po = 0.75, pe = 0.5*0.75 + 0.5*0.25 = 0.5 -> kappa 0.5
    assert M.cohen_kappa(gold, pred, labels) == pytest.approx(0.5)
    assert math.isnan(M.cohen_kappa(["correct"] * 3, ["correct"] * 3, labels))


def test_metrics_match_sklearn():
    from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix, f1_score, roc_auc_score

    for seed in range(5):
        gold, pred = _random_labels(60, seed)
        assert M.confusion(gold, pred, LABELS) == confusion_matrix(gold, pred, labels=LABELS).tolist()
        assert M.accuracy(gold, pred) == pytest.approx(accuracy_score(gold, pred))
        assert M.macro_f1(gold, pred, LABELS) == pytest.approx(f1_score(gold, pred, labels=LABELS, average="macro"))
        assert M.cohen_kappa(gold, pred, LABELS) == pytest.approx(cohen_kappa_score(gold, pred, labels=LABELS))
        to_int = {label: i for i, label in enumerate(LABELS)}
        qwk = cohen_kappa_score([to_int[g] for g in gold], [to_int[p] for p in pred], weights="quadratic")
        assert M.cohen_kappa(gold, pred, LABELS, weights="quadratic") == pytest.approx(qwk)
        rng = random.Random(seed)
        scores = [round(rng.random(), 1) for _ in gold]  # rounded: ties on purpose
        positive = [g == "correct" for g in gold]
        assert M.auroc(scores, positive) == pytest.approx(roc_auc_score(positive, scores))
    # macro-F1 over labels that appear (sklearn's behaviour when a label never occurs)
    assert M.macro_f1(["correct", "incorrect"], ["correct", "correct"], LABELS) == pytest.approx(
        f1_score(["correct", "incorrect"], ["correct", "correct"], average="macro"))


def test_metrics_edge_cases_the_reports_rely_on():
    labels = ["incorrect", "correct"]
    assert math.isnan(M.auroc([0.2, 0.9], [True, True]))  # one class: undefined, shown as a dash
    assert M.auroc([0.2, 0.9, 0.9], [False, True, False]) == pytest.approx(0.75)  # a tie counts one half
    assert math.isnan(M.accuracy([], [])) and math.isnan(M.macro_f1([], [], labels))
    assert math.isnan(M.cohen_kappa([], [], labels, weights="quadratic"))
    assert M.confusion([], [], labels) == [[0, 0], [0, 0]]
    assert M.per_label_f1([], [], labels) == {"incorrect": 0.0, "correct": 0.0}
    assert M.per_label_f1(["correct"], ["correct"], labels) == {"incorrect": 0.0, "correct": 1.0}
    assert M.cohen_kappa(["correct"], ["incorrect"], labels) == 0.0
    with pytest.raises(ValueError, match="not on the scale"):
        M.confusion(["correct"], ["maybe"], labels)
    with pytest.raises(ValueError, match="unknown weights"):
        M.cohen_kappa(["correct"], ["correct"], labels, weights="cubic")


def test_calibration_and_risk_coverage_by_hand():
    conf = [0.95, 0.95, 0.85, 0.75, 0.55]
    correct = [True, True, False, True, False]
    bins = M.reliability(conf, correct, bins=10)
    assert [b.count for b in bins if b.count] == [1, 1, 1, 2]
    # |0-0.55|*1 + |1-0.75|*1 + |0-0.85|*1 + |1-0.95|*2 = 0.55+0.25+0.85+0.1 = 1.75 / 5
    assert M.expected_calibration_error(conf, correct) == pytest.approx(0.35)
    curve = M.risk_coverage(conf, correct)
    assert [(p.threshold, p.coverage, p.accuracy) for p in curve] == [
        (0.95, 0.4, 1.0), (0.85, 0.6, pytest.approx(2 / 3)), (0.75, 0.8, 0.75), (0.55, 1.0, 0.6)]
    assert M.choose_threshold(conf, correct, 0.95) == 0.95
    assert M.choose_threshold(conf, correct, 0.7) == 0.75
    assert math.isinf(M.choose_threshold(conf, [False] * 5, 0.5))
    point = M.at_threshold(conf, correct, 0.8)
    assert (point.auto, point.coverage, point.accuracy) == (3, 0.6, pytest.approx(2 / 3))
    assert M.accuracy_at_coverage(conf, correct, 0.4) == 1.0
    # AURC: mean over k of errors(k)/k = (0 + 0 + 1/3 + 1/4 + 2/5) / 5
    assert M.aurc(conf, correct) == pytest.approx((1 / 3 + 1 / 4 + 2 / 5) / 5)
    probs = [{"a": 0.8, "b": 0.2}, {"a": 0.4, "b": 0.6}]
    assert M.brier(probs, ["a", "a"], ["a", "b"]) == pytest.approx(((0.2**2 + 0.2**2) + (0.6**2 + 0.6**2)) / 2)


# ------------------------------------------------------------------ loaders


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _rows(n: int = 12, split: str | None = None):
    rows = []
    for i in range(n):
        good = i % 3 != 0
        rows.append({"id": f"r{i}", "question": f"Why does the bulb light in circuit {i % 2}?",
                     "question_id": f"q{i % 2}", "reference": "The bulb is in a closed path with the battery.",
                     "response": "it is in a closed path with the battery" if good else "because it is bright",
                     "label": "correct" if good else "incorrect", **({"split": split} if split else {})})
    return rows


def test_generic_jsonl_and_csv(tmp_path):
    ds = load_file(_write_jsonl(tmp_path / "mine.jsonl", _rows()))
    assert ds.scale == SCALES["2way"] and len(ds.items) == 12 and ds.items[0].references
    assert ds.slug.startswith("mine-") and ds.split_items(None) == ds.items
    csv_path = tmp_path / "mine.csv"
    csv_path.write_text("id,criterion,reference,response,labels\n"
                        "a,State the law,Force equals mass times acceleration || F = m a,F=ma,2|2|1\n"
                        "b,State the law,Force equals mass times acceleration,no idea,0\n"
                        "c,State the law,,\"force, mass, acceleration\",1|2\n", encoding="utf-8")
    ds = load_file(csv_path)
    assert ds.scale.labels == ("0", "1", "2") and ds.scale.ordinal
    a, _, c = ds.items
    assert a.references == ["Force equals mass times acceleration", "F = m a"]
    assert a.label == "2" and a.labels == ["2", "2", "1"]
    assert c.label == "1"  # a tie goes to the lower (stricter) label
    assert c.question_id == a.question_id  # same question text -> same derived id
    ordered = load_file(csv_path, labels=["0", "1", "2", "3"])
    assert ordered.scale.labels == ("0", "1", "2", "3")
    assert gold_label(["b", "a"], ("a", "b")) == "a"


@pytest.mark.parametrize(("content", "suffix", "message"), [
    ('{"id": "x", "question": "q", "response": "r", "label": "correct"}\n{not json}\n', ".jsonl", ":2: not valid JSON"),
    ('{"id": "x", "question": "q", "response": "r"}\n', ".jsonl", ":1: missing 'label'"),
    ('{"id": "x", "response": "r", "label": "a"}\n', ".jsonl", ":1: missing 'question'"),
    ('{"id": "x", "question": "q", "response": "r", "label": "a"}\n'
     '{"id": "x", "question": "q", "response": "s", "label": "b"}\n', ".jsonl", ":2: duplicate id 'x'"),
    ('["a list"]\n', ".jsonl", "expected a JSON object"),
    ("id,question,response,label\nx,q,r,a,extra\n", ".csv", ":2: more fields than the header"),
    ("", ".csv", "empty CSV"),
    ('{"id": "x", "question": "q", "response": "r", "label": "a"}\n', ".txt", "unknown file type"),
    ('{"id": "x", "question": "q", "response": "r", "label": "a"}\n', ".jsonl", "at least two"),
])
def test_malformed_files_are_reported(tmp_path, content, suffix, message):
    path = tmp_path / f"bad{suffix}"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError) as err:
        load_file(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_labels_outside_the_given_scale_and_unknown_names(tmp_path):
    path = _write_jsonl(tmp_path / "d.jsonl", _rows())
    with pytest.raises(DatasetError, match="not on the given scale"):
        load_file(path, labels=["wrong", "right"])
    with pytest.raises(DatasetError, match="neither a built-in dataset"):
        load_dataset("no-such-set", datasets_dir=tmp_path)
    with pytest.raises(DatasetError, match="built-in dataset file missing"):
        load_dataset("saf", datasets_dir=tmp_path)
    ds = load_file(path)
    with pytest.raises(DatasetError, match="no split 'test'"):
        ds.resolve_split("test")


def test_builtin_datasets_load():
    datasets_dir = shared_path("datasets")
    two = load_dataset("scientsbank-2way", datasets_dir=datasets_dir)
    three = load_dataset("scientsbank-3way", datasets_dir=datasets_dir)
    assert two.scale.labels == ("incorrect", "correct") and set(three.scale.labels) == {"correct", "contradictory",
                                                                                        "incorrect"}
    ua = two.split_items("ua")
    assert len(ua) == 540 and len(two.split_items("uq")) == 733 and len(two.pool()) == 4969
    assert all(i.references and i.response is not None for i in ua)
    assert len({i.id for i in two.items}) == len(two.items)
    assert load_dataset("beetle-2way", datasets_dir=datasets_dir).split_items("uq")
    saf = load_dataset("saf", datasets_dir=datasets_dir)
    assert saf.scale.ordinal and len({i.id for i in saf.items}) == len(saf.items) == 2502
    assert saf.licence is not None and saf.licence.is_file()
    evidence = load_dataset("demo-evidence", datasets_dir=datasets_dir)
    assert evidence.kind == "rubric" and evidence.scale.ordinal and len(evidence.items) > 100
    assert all(i.label in evidence.scale.labels for i in evidence.items)


# ------------------------------------------------------------------ scorer, pool, calibrator


class FakeModel:
    """Deterministic stand-in: P(correct) grows with word overlap between answer and reference."""

    name = "fake-model"

    def __init__(self):
        self.calls = 0
        self.last_messages: list[dict[str, str]] = []

    def choice_distribution(self, messages, options):
        self.calls += 1
        self.last_messages = messages
        p = min(max(1.5 * overlap_f1(messages[-1]["content"], messages[1]["content"]), 0.05), 0.95)
        rest = (1 - p) / (len(options) - 1)
        return {o: (p if o == "correct" else rest) for o in options}


def test_scorer_prompt_shots_and_signals():
    pool = ExamplePool([
        GradedAnswer("a1", "q", "the bulb is in a closed path", "correct"),
        GradedAnswer("a2", "q", "closed path with the battery", "correct"),
        GradedAnswer("a3", "q", "the bulb is bright", "incorrect"),
        GradedAnswer("a4", "q", "it uses electricity", "incorrect"),
        GradedAnswer("b1", "other", "the bulb is in a closed path", "incorrect"),
    ])
    model = FakeModel()
    scorer = ShortAnswerScorer(model, SCALES["2way"], pool, shots_per_label=1)
    task = ShortAnswerTask("t1", "q", "Why does the bulb light?", ("A closed path with the battery.",),
                           "a closed path through the bulb")
    raw = scorer.score(task)
    roles = [m["role"] for m in model.last_messages]
    assert roles == ["system", "user", "user", "user"]
    assert "A closed path with the battery." in model.last_messages[1]["content"]
    shots_text = model.last_messages[2]["content"]
    assert "-> correct" in shots_text and "-> incorrect" in shots_text and "b1" not in raw.shots
    assert len(raw.shots) == 2 and set(raw.shots) <= {"a1", "a2", "a3", "a4"}
    assert model.last_messages[3]["content"].startswith("LEARNER'S ANSWER:\na closed path through the bulb")
    assert set(raw.model) == {"correct", "incorrect"} and raw.knn and raw.knn["correct"] > raw.knn["incorrect"]
    assert raw.lexical["ref_f1"] > 0
    assert RawScore.from_dict(json.loads(json.dumps(raw.to_dict()))) == raw
    unseen = scorer.score(task, use_pool=False)
    assert unseen.knn is None and unseen.shots == [] and len(model.last_messages) == 3
    assert scale_for(["correct", "incorrect"]) is SCALES["2way"]


def test_memoised_embedder_batches_only_new_texts():
    calls = []

    def embed(texts):
        calls.append(list(texts))
        return [[float(len(t))] for t in texts]

    cached = memoised(embed)
    assert cached(["a", "bb", "a"]) == [[1.0], [2.0], [1.0]]
    assert cached(["bb", "ccc"]) == [[2.0], [3.0]]
    assert calls == [["a", "bb"], ["ccc"]]


def test_calibrator_learns_a_shifted_threshold():
    rng = random.Random(0)
    raws, gold = [], []
    for _ in range(300):
        correct = rng.random() < 0.4
        p = min(max(rng.gauss(0.35 if correct else 0.15, 0.08), 0.01), 0.99)  # the model is biased low
        raws.append(RawScore(model={"correct": p, "incorrect": 1 - p}, lexical={"ref_f1": 0.0}))
        gold.append("correct" if correct else "incorrect")
    cal = Calibrator(["incorrect", "correct"], ("model",)).fit(raws, gold)
    raw_acc = sum((r.model["correct"] > 0.5) == (g == "correct") for r, g in zip(raws, gold, strict=True)) / 300
    fitted_acc = sum((cal.predict(r)["correct"] > 0.5) == (g == "correct") for r, g in zip(raws, gold, strict=True))
    assert fitted_acc / 300 > raw_acc + 0.2
    again = Calibrator.from_dict(json.loads(json.dumps(cal.to_dict())))
    assert again.predict(raws[0]) == pytest.approx(cal.predict(raws[0]))
    only = Calibrator(["incorrect", "correct"]).fit(raws[:3], ["correct"] * 3)
    assert only.predict(raws[0]) == {"incorrect": 0.0, "correct": 1.0}
    with pytest.raises(ValueError):
        Calibrator(["a", "b"], ("bogus",))


# ------------------------------------------------------------------ the run: cache, reports, CLI


def _dataset_file(tmp_path):
    rows = []
    rng = random.Random(1)
    for q in range(3):
        for i in range(30):
            good = rng.random() < 0.5
            words = "closed path battery bulb" if good else "light bright glow"
            rows.append({"id": f"q{q}-{i}", "question_id": f"q{q}", "question": f"Question {q}: why does it light?",
                         "reference": "A closed path through the battery and the bulb.",
                         "response": f"{words} {rng.choice(['so', 'thus', 'hence'])} {i}",
                         "label": "correct" if good else "incorrect", "split": "train" if i < 18 else "test"})
    return _write_jsonl(tmp_path / "team.jsonl", rows)


def _fake_embedder():
    def embed(texts):
        return [[float(len(t) % 7), float(t.count("path")), 1.0] for t in texts]
    return embed


def test_evaluate_writes_reports_and_resumes_from_the_cache(tmp_path):
    path = _dataset_file(tmp_path)
    settings = Settings(home=tmp_path / "home")
    model = FakeModel()
    options = EvalOptions(split="test", calibration_limit=20, similarity="embedding")
    result, files = evaluate(str(path), options, settings, tmp_path / "out", model=model, progress=False,
                             embedder_factory=_fake_embedder)
    assert {f.name for f in files} == {"summary.json", "items.jsonl", "report.html"}
    assert result.items == 36 and result.calibration_items == 20 and model.calls == 56 and result.scored == 56
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    names = {s["name"] for s in summary["systems"]}
    assert {"model", "calibrated", "ensemble", "majority", "lexical overlap", "nearest graded answers"} <= names
    for s in summary["systems"]:
        assert 0 <= s["accuracy"] <= 1 and 0 <= s["macro_f1"] <= 1 and 0 <= s["ece"] <= 1
        assert sum(map(sum, s["confusion"])) == 36
    assert summary["routing"]["curve_test"] and summary["per_question"] and summary["reliability"]
    assert summary["regime"] == "seen questions" and "held out of the train split" in summary["calibration_mode"]
    fitted = Calibrator.from_dict(summary["calibrator"])
    assert fitted.features == ["model", "matcher"]  # stacked: the matcher holds overlap and the kNN vote
    assert "answer matcher" in names
    html = (tmp_path / "out" / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and "risk–coverage" in html and "<script" not in html
    assert len((tmp_path / "out" / "items.jsonl").read_text().splitlines()) == 36

    # resume: everything comes from the cache, results are identical
    again, _ = evaluate(str(path), options, settings, tmp_path / "out2", model=model, progress=False,
                        embedder_factory=_fake_embedder)
    assert model.calls == 56 and again.scored == 0 and again.from_cache == 56
    assert again.system("ensemble").accuracy == result.system("ensemble").accuracy

    # an interrupted run: drop the last records and leave a half-written line; only the missing items are redone
    cache_file = tmp_path / "home" / "evals" / "grading-cache"
    (cache_path,) = list(cache_file.iterdir())
    lines = cache_path.read_text().splitlines()
    cache_path.write_text("\n".join(lines[:-5]) + "\n" + lines[-5][:40])
    third, _ = evaluate(str(path), options, settings, tmp_path / "out3", model=model, progress=False,
                        embedder_factory=_fake_embedder)
    assert third.scored == 5 and model.calls == 61
    assert third.system("ensemble").accuracy == result.system("ensemble").accuracy

    # another configuration does not reuse those results
    fresh, _ = evaluate(str(path), options.model_copy(update={"shots_per_label": 1}), settings, tmp_path / "o4",
                        model=model, progress=False, embedder_factory=_fake_embedder)
    assert fresh.scored == 56


def test_matcher_off_and_embedding_choices(tmp_path):
    path = _dataset_file(tmp_path)
    settings = Settings(home=tmp_path / "home")
    off, _ = evaluate(str(path), EvalOptions(split="test", calibration_limit=20, matcher="off"), settings,
                      tmp_path / "off", model=FakeModel(), progress=False)
    assert off.calibrator["features"] == ["model", "lexical", "knn"]
    assert not any(s.name == "answer matcher" for s in off.systems)
    emb, _ = evaluate(str(path), EvalOptions(split="test", calibration_limit=20, matcher="embedding"), settings,
                      tmp_path / "emb", model=FakeModel(), progress=False, embedder_factory=_fake_embedder)
    assert emb.calibrator["features"] == ["model", "matcher"] and emb.from_cache == 56  # the matcher is not cached
    assert emb.system("answer matcher").n == 36


def test_report_escapes_markup_from_the_dataset(tmp_path):
    """Questions and responses are dataset text: the Jinja2 template escapes them, so a <script> stays text."""
    rows = [json.loads(line) for line in _dataset_file(tmp_path).read_text().splitlines()]
    for n, row in enumerate(rows):
        row["question"] = "<script>alert('q')</script> " + row["question"]
        row["response"] += " <script>alert(1)</script>"
        if row["split"] == "test" and n % 4 == 0:  # a few human labels the scorer cannot match: disagreements
            row["label"] = "correct" if row["label"] == "incorrect" else "incorrect"
    path = _write_jsonl(tmp_path / "hostile.jsonl", rows)
    evaluate(str(path), EvalOptions(split="test", calibration_limit=20), Settings(home=tmp_path / "home"),
             tmp_path / "out", model=FakeModel(), progress=False)
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#39;q&#39;)&lt;/script&gt; Question 0" in html  # the per-question table
    assert "&lt;script&gt;alert(1)&lt;/script&gt;</td></tr>" in html  # a response among the disagreements
    assert html.count("data:image/png;base64,") == 3 and "<h2>Most confident disagreements</h2>" in html


def test_cache_ignores_a_torn_line(tmp_path):
    cache = ResultCache(tmp_path, model="m", prompt_id="p.v1", dataset="d", config={"a": 1})
    cache.put("x", {"v": 1})
    with cache.path.open("a") as fh:
        fh.write('{"id": "y", "res')
    reopened = ResultCache(tmp_path, model="m", prompt_id="p.v1", dataset="d", config={"a": 1})
    assert reopened.get("x") == {"v": 1} and "y" not in reopened
    reopened.put("z", {"v": 2})
    assert ResultCache(tmp_path, model="m", prompt_id="p.v1", dataset="d", config={"a": 1}).get("z") == {"v": 2}


def test_without_a_pool_it_cross_fits_and_says_so(tmp_path):
    rows = [{**r, "split": None} for r in json.loads("[" + ",".join(
        _dataset_file(tmp_path).read_text().splitlines()) + "]")]
    path = _write_jsonl(tmp_path / "nosplit.jsonl", rows)
    result, _ = evaluate(str(path), EvalOptions(similarity="lexical"), Settings(home=tmp_path / "h"),
                         tmp_path / "out", model=FakeModel(), progress=False)
    assert result.calibration_mode == "cross-fitted" and result.items == 90
    assert any("no calibration split" in c for c in result.caveats)
    assert "optimistic" in result.routing.chosen_on


def test_builtin_report_carries_the_dataset_licence(tmp_path):
    settings = Settings(home=tmp_path / "home", shared_dir=shared_path())
    result, files = evaluate("scientsbank-2way", EvalOptions(split="uq", limit=12, calibration_limit=12,
                                                             similarity="lexical", matcher="lexical"),
                             settings, tmp_path / "out", model=FakeModel(), progress=False)
    assert (tmp_path / "out" / "DATASET-LICENSE.txt").read_text().startswith("Creative Commons")
    assert result.regime == "unseen questions" and "CC BY-SA" in result.licence_note
    assert "12 answers to 12 questions" in result.calibration_mode  # spread over questions, one each
    assert not any(s.name == "nearest graded answers" for s in result.systems)
    assert any(s.name == "answer matcher" for s in result.systems)  # fitted on the whole train split


runner = CliRunner()


def test_cli_eval_grading(tmp_path, monkeypatch):
    import llm
    from stackwise.config import get_settings

    monkeypatch.setenv("STACKWISE_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    monkeypatch.setattr(llm, "load_model", lambda settings=None, runtime=None: FakeModel())
    try:
        path = _dataset_file(tmp_path)
        ok = runner.invoke(app, ["eval", "grading", "--dataset", str(path), "--split", "test", "--out",
                                 str(tmp_path / "out"), "--calibration-limit", "20", "--similarity", "lexical"])
        assert ok.exit_code == 0, ok.output
        assert "*ensemble" in ok.output and "routing (ensemble" in ok.output and "report.html" in ok.output
        missing = runner.invoke(app, ["eval", "grading", "--dataset", str(tmp_path / "nope.jsonl")])
        assert missing.exit_code == 2 and "neither a built-in dataset" in missing.output
        bad_split = runner.invoke(app, ["eval", "grading", "--dataset", str(path), "--split", "nope"])
        assert bad_split.exit_code == 2 and "no split 'nope'" in bad_split.output
        assert "Traceback" not in missing.output + bad_split.output
    finally:
        get_settings.cache_clear()


# ------------------------------------------------------------------ the real model (CI slice)


@pytest.mark.model
def test_real_model_slice_scientsbank_2way(tmp_path):
    """8 unseen answers and 8 calibration answers of SciEntsBank on the bundled model (the CI slice; full
    runs are benchmarks): complete report, metrics in range (no figures pinned: a slice this small is noise)."""
    from stackwise.config import get_settings

    settings = Settings(home=tmp_path / "home", model_dir=get_settings().models_path, shared_dir=shared_path())
    result, files = evaluate("scientsbank-2way", EvalOptions(split="ua", limit=8, calibration_limit=8),
                             settings, tmp_path / "out", progress=False)
    assert {f.name for f in files} == {"summary.json", "items.jsonl", "report.html", "DATASET-LICENSE.txt"}
    assert result.items == 8 and result.calibration_items == 8 and result.scored == 16
    assert result.model == "qwen2.5-coder-1.5b" and result.prompt_id == "short_answer.v1"
    for system in result.systems:
        assert 0 <= system.accuracy <= 1 and 0 <= system.macro_f1 <= 1 and 0 <= system.ece <= 1
    for record in result.records:
        assert sum(record.model.values()) == pytest.approx(1, abs=1e-6) and 0.5 <= record.confidence <= 1
    assert result.routing.curve_test and len(result.per_question) >= 1
    assert result.seconds_per_item and result.seconds_per_item > 0

"""CLI adapters: clear messages and exit codes on bad input, real work on good input."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from knowledge import validate_catalogue
from stackwise.cli import app
from tests.paths import shared_path

runner = CliRunner()


def test_import_ctdl_writes_a_valid_catalogue_and_a_report(tmp_path):
    sample = shared_path("external", "ctdl", "pathway-examples", "CompTIA-IT_Networking_Specialist.jsonld")
    out = tmp_path / "imported"
    result = runner.invoke(app, ["catalogue", "import-ctdl", str(sample), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 pathways" in result.output and "placeholder" in result.output
    assert validate_catalogue(out) == []
    report = (out / "IMPORT-REPORT.txt").read_text()
    assert "REVIEW" in report and len(report.splitlines()) > 10

    again = runner.invoke(app, ["catalogue", "import-ctdl", str(sample), "--out", str(out)])
    assert again.exit_code == 2 and "not empty" in again.output


def test_import_ctdl_bad_inputs(tmp_path):
    missing = runner.invoke(app, ["catalogue", "import-ctdl", str(tmp_path / "nope.json"), "--out", str(tmp_path)])
    assert missing.exit_code == 2 and "no such file" in missing.output
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    bad = runner.invoke(app, ["catalogue", "import-ctdl", str(junk), "--out", str(tmp_path / "o")])
    assert bad.exit_code == 2 and "JSON" in bad.output and "Traceback" not in bad.output


def test_validate_reports_wrong_path(tmp_path):
    result = runner.invoke(app, ["catalogue", "validate", str(tmp_path / "missing")])
    assert result.exit_code == 1 and "no such file or directory" in result.output


def test_search_without_index_says_what_to_do(settings):
    result = runner.invoke(app, ["search", "ethics"])
    assert result.exit_code == 2 and "stackwise index" in result.output


def test_grader_fit_and_review_export_on_an_empty_queue(settings, tmp_path, monkeypatch):
    import json

    monkeypatch.setenv("STACKWISE_HOME", str(tmp_path / "home"))
    from stackwise.config import get_settings

    get_settings.cache_clear()
    fitted = runner.invoke(app, ["grader", "fit"])
    assert fitted.exit_code == 0, fitted.output
    assert "110 base submissions, 0 assessor-decided" in fitted.output and "routing for limits" in fitted.output
    combiner = json.loads((tmp_path / "home" / "grader" / "combiner.json").read_text())
    assert combiner["version"].startswith("combiner-") and combiner["routing"]
    out = tmp_path / "decisions.jsonl"
    exported = runner.invoke(app, ["review", "export", "--out", str(out)])
    assert exported.exit_code == 0 and "wrote 0 decided submissions" in exported.output and out.read_text() == ""
    get_settings.cache_clear()


def test_eval_grading_rubric_dataset_errors_are_one_line(tmp_path):
    bad = tmp_path / "export.jsonl"
    bad.write_text('{"credential": "no-such-credential", "evidence": "x", "levels": {}}\n')
    result = runner.invoke(app, ["eval", "grading", "--dataset", str(bad), "--questions", "none"])
    assert result.exit_code == 2 and "unknown or missing credential" in result.output
    assert "Traceback" not in result.output


def test_setup_reports_the_shipped_grading_engine_and_its_bounds(settings, tmp_path, monkeypatch, capsys):
    from stackwise.cli.grader import _grader_status
    from stackwise.config import Settings

    _grader_status(Settings(home=tmp_path / "fresh-home"))
    out = capsys.readouterr().out
    assert "grader: shipped engine combiner-" in out and "fitted on 110 graded submissions" in out
    assert "limits 0.1/0.1/0.1" in out and "decides alone at confidence" in out


def test_build_base_refuses_an_unknown_question_set():
    result = runner.invoke(app, ["grader", "build-base", "--questions", "bogus"])
    assert result.exit_code == 2 and "--questions must be" in result.output


@pytest.mark.model
def test_ask_prints_a_refusal_and_takes_titles_as_holdings(settings):
    refused = runner.invoke(app, ["ask", "What will the weather be in Paris tomorrow?", "--learner", "cli-refusal"])
    assert refused.exit_code == 0, refused.output
    assert "The catalogue does not say." in refused.output
    held = runner.invoke(app, ["ask", "How much does Data Strategy cost?", "--learner", "cli-holding",
                               "--holding", "Prompt Engineering for Professional Practice"])
    assert held.exit_code == 0, held.output
    assert "EUR 1,150" in held.output and "Sources: Data Strategy" in held.output
    unknown = runner.invoke(app, ["ask", "How much does Data Strategy cost?", "--holding", "HP-MC-99"])
    assert unknown.exit_code != 0 and "unknown credential" in unknown.output

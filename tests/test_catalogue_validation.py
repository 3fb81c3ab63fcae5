"""Catalogue schema and whole-catalogue checks, on the demo catalogue and on broken ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from knowledge import CatalogueInvalid, load_catalogue, validate_catalogue
from knowledge.schema import AllOf, AnyOf, MinCredits, NOfM, Prerequisite
from stackwise.cli import app
from stackwise.config import BUNDLED_CATALOGUE
from tests import catalogue_factory as f

runner = CliRunner()


def messages(path: Path) -> list[str]:
    return [str(p) for p in validate_catalogue(path)]


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


# --------------------------------------------------------------------------- the demo catalogue


def test_demo_catalogue_is_valid_and_rich():
    assert validate_catalogue(BUNDLED_CATALOGUE) == []
    cat = load_catalogue(BUNDLED_CATALOGUE)
    assert len(cat.credentials) >= 15
    assert len(cat.pathways) >= 3
    assert {p.kind.value for p in cat.providers.values()} >= {"university", "industry", "platform"}
    rule_types = {type(r) for p in cat.pathways.values() for r in p.requirements}
    assert rule_types == {AllOf, AnyOf, NOfM, MinCredits, Prerequisite}
    cross_provider = [
        rec for p in cat.pathways.values() for rec in p.credit_recognition if rec.recognised_by != p.awarding_body
    ]
    assert cross_provider, "at least one cross-provider credit recognition"
    for cred in cat.credentials.values():
        assert 3 <= len(cred.rubric.criteria) <= 6
        assert cred.learning_outcomes and cred.quality_assurance and cred.ects > 0


def test_demo_ai_literacy_covers_five_competencies():
    cat = load_catalogue(BUNDLED_CATALOGUE)
    foundations = [c for c in cat.credentials.values()
                   if "literacy" in c.title.lower() and "foundation" in c.title.lower()]
    assert foundations, "AI Literacy Foundations is in the demo catalogue"
    text = " ".join(
        [*foundations[0].learning_outcomes, *(c.title + " " + c.description for c in foundations[0].rubric.criteria)]
    ).lower()
    for area in ("technical", "practical", "critical", "ethic", "societ"):
        assert area in text, area


def test_cli_validate_demo_exits_zero():
    result = runner.invoke(app, ["catalogue", "validate"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok:")


# --------------------------------------------------------------------------- broken catalogues


def test_small_catalogue_valid(tmp_path):
    assert validate_catalogue(f.small_catalogue(tmp_path)) == []


def test_unknown_field_reported_with_line(tmp_path):
    f.small_catalogue(tmp_path)
    cred = f.credential("delta")
    cred["colour"] = "blue"
    path = f.write(tmp_path, "delta.yaml", {"credentials": [cred]})
    assert f"{path}:{line_of(path, 'colour:')}: unknown field 'credentials.0.colour'" in messages(tmp_path)


@pytest.mark.parametrize("element", ["title", "issuer_country", "awarding_body", "learning_outcomes", "ects",
                                     "eqf_level", "assessment_type", "participation", "quality_assurance"])
def test_missing_annex_i_element(tmp_path, element):
    f.small_catalogue(tmp_path)
    cred = f.credential("delta")
    del cred[element]
    path = f.write(tmp_path, "delta.yaml", {"credentials": [cred]})
    found = messages(tmp_path)
    assert f"{path}:{line_of(path, '- id: delta')}: missing required field 'credentials.0.{element}'" in found


def test_rubric_levels_out_of_order(tmp_path):
    f.small_catalogue(tmp_path)
    cred = f.credential("delta")
    cred["rubric"]["criteria"][1]["levels"].reverse()
    path = f.write(tmp_path, "delta.yaml", {"credentials": [cred]})
    (problem,) = validate_catalogue(tmp_path)
    assert problem.file == str(path)
    assert "ordered from lowest to highest" in problem.message and "criteria.1.levels" in problem.message
    assert path.read_text().splitlines()[problem.line - 1].strip().startswith("levels:")


def test_pathway_unknown_credential(tmp_path):
    f.small_catalogue(tmp_path)
    path = f.write(tmp_path, "more.yaml", {"pathways": [f.pathway("other", [
        {"rule": "any_of", "credentials": ["alpha", "nonexistent"]}])]})
    expected = f"{path}:{line_of(path, '- nonexistent')}: pathway 'other': unknown credential 'nonexistent'"
    assert expected in messages(tmp_path)


def test_prerequisite_cycle(tmp_path):
    f.write(tmp_path, "providers.yaml", {"providers": [f.provider()]})
    f.write(tmp_path, "c.yaml", {"credentials": [
        f.credential("alpha", prerequisites=["gamma"]),
        f.credential("beta", prerequisites=["alpha"]),
        f.credential("gamma", prerequisites=["beta"]),
    ]})
    found = messages(tmp_path)
    assert len(found) == 1 and "prerequisite cycle" in found[0]
    for cid in ("alpha", "beta", "gamma"):
        assert cid in found[0]


def test_pathway_prerequisite_rule_cycle(tmp_path):
    f.small_catalogue(tmp_path)  # beta requires alpha
    f.write(tmp_path, "more.yaml", {"pathways": [f.pathway("loop", [
        {"rule": "prerequisite", "credential": "alpha", "requires": ["beta"]}])]})
    assert any("prerequisite cycle" in m for m in messages(tmp_path))


def test_every_problem_listed_not_just_the_first(tmp_path):
    f.small_catalogue(tmp_path)
    bad1 = f.credential("delta")
    bad1["eqf_level"] = 11
    bad2 = f.credential("epsilon", provider_id="nobody")
    f.write(tmp_path, "bad.yaml", {"credentials": [bad1, bad2]})
    f.write(tmp_path, "broken.yaml", "credentials:\n  - id: x\n    title: [unclosed\n")
    found = messages(tmp_path)
    assert any("eqf_level" in m for m in found)
    assert any("unknown awarding body 'nobody'" in m for m in found)
    assert any("broken.yaml" in m and "YAML syntax error" in m for m in found)


def test_yaml_syntax_error_line(tmp_path):
    path = f.write(tmp_path, "broken.yaml", "providers:\n  - id: uni\n    name: [oops\n    kind: university\n")
    (problem,) = validate_catalogue(path)
    assert problem.file == str(path) and problem.line >= 3 and "YAML syntax error" in problem.message


def test_wrong_file_types_and_empty_files(tmp_path):
    f.small_catalogue(tmp_path)
    (tmp_path / "notes.json").write_text("{}")
    f.write(tmp_path, "empty.yaml", "")
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00bad")
    found = messages(tmp_path)
    assert any("notes.json" in m and "unsupported file type" in m for m in found)
    assert any("empty.yaml:1: file is empty" in m for m in found)
    assert any("binary.yaml:1: not UTF-8" in m for m in found)


def test_duplicate_ids_and_keys(tmp_path):
    f.small_catalogue(tmp_path)
    f.write(tmp_path, "dup.yaml", {"credentials": [f.credential("alpha")]})
    f.write(tmp_path, "dupkey.yaml", "providers:\n  - id: other\n    id: again\n")
    found = messages(tmp_path)
    assert any("duplicate credential id 'alpha'" in m and "first defined at" in m for m in found)
    assert any("dupkey.yaml:3: duplicate key 'id'" in m for m in found)


def test_unknown_top_level_key_and_non_list(tmp_path):
    f.small_catalogue(tmp_path)
    f.write(tmp_path, "odd.yaml", "courses: []\ncredentials: {id: x}\n")
    found = messages(tmp_path)
    assert any("odd.yaml:1: unknown top-level key 'courses'" in m for m in found)
    assert any("odd.yaml:2: 'credentials' must be a list" in m for m in found)


def test_unreachable_min_credits(tmp_path):
    f.small_catalogue(tmp_path)
    f.write(tmp_path, "more.yaml", {"pathways": [f.pathway("greedy", [
        {"rule": "min_credits", "ects": 100, "credentials": ["alpha", "beta"]}])]})
    assert any("min_credits asks for 100 ECTS" in m for m in messages(tmp_path))


def test_load_catalogue_raises_with_every_problem(tmp_path):
    f.small_catalogue(tmp_path)
    f.write(tmp_path, "bad.yaml", {"credentials": [f.credential("delta", provider_id="x"),
                                                   f.credential("epsilon", provider_id="y")]})
    with pytest.raises(CatalogueInvalid) as info:
        load_catalogue(tmp_path)
    assert len(info.value.problems) == 2


def test_missing_path(tmp_path):
    (problem,) = validate_catalogue(tmp_path / "nope")
    assert "no such file or directory" in problem.message


def test_cli_broken_catalogue_lists_problems_without_traceback(tmp_path):
    f.small_catalogue(tmp_path)
    cred = f.credential("delta")
    del cred["ects"]
    cred["rubric"]["criteria"][0]["levels"].reverse()
    f.write(tmp_path, "delta.yaml", {"credentials": [cred]})
    result = runner.invoke(app, ["catalogue", "validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith(str(tmp_path))]
    assert len(lines) == 2
    for line in lines:
        file, number, message = line.split(":", 2)
        assert file.endswith("delta.yaml") and int(number) > 0 and message.strip()

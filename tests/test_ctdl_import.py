"""CTDL JSON-LD import: every shared sample imports into a valid catalogue (or fails with a typed error),
conditions become the right pathway rules, and everything not mapped is reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge import load_catalogue, validate_catalogue
from knowledge.ctdl import CtdlImport, CtdlImportError, NoteKind, import_ctdl, write_catalogue
from knowledge.schema import AllOf, AnyOf, MinCredits, NOfM, Prerequisite
from tests.paths import shared_path

CTDL = ("external", "ctdl")

# Every file in the two sample folders, and what importing it alone must give:
# (credentials, pathways) for importable samples, or a fragment of the CtdlImportError message.
IMPORTABLE: dict[str, tuple[int, int]] = {
    "ingest-examples/Organization/1/Organization-1.json": (0, 0),
    "ingest-examples/Credential/1/Credential-1.json": (1, 0),
    "ingest-examples/Credential/1/Credential-1-graph.json": (1, 0),
    "ingest-examples/LearningProgram/1/LearningProgram-1.json": (1, 0),
    "ingest-examples/LearningProgram/1/LearningProgram-1-graph.json": (4, 0),
    "ingest-examples/LearningProgram/1/Course-1a.json": (1, 0),
    "ingest-examples/LearningProgram/1/Course-1b.json": (1, 0),
    "ingest-examples/LearningProgram/1/Course-1c.json": (1, 0),
    "ingest-examples/LearningProgram/2/LearningProgram-2.json": (1, 0),
    "pathway-examples/CompTIA-IT_Networking_Specialist.jsonld": (8, 1),
    "pathway-examples/CTDL-French_BA_Marketable_Skills.json": (24, 1),
    "pathway-examples/Badgr (Final) - CTDL-French_BA_Marketable_Skills-Nates.json": (29, 1),
    "pathway-examples/Badgr_French_B.A.MarketableSkills_CR_sandbox.json": (29, 1),
    "pathway-examples/Badgr (Final) - EmpoweringTeachingExcellence_Nate.json": (91, 1),
    "pathway-examples/Illinois-IT.json": (36, 1),
    "pathway-examples/Fluree Pathway.json": (3, 1),
}
REJECTED: dict[str, str] = {
    "pathway-examples/Badgr French BA in Marketable Skills.csv": "not valid JSON",
    "pathway-examples/badgr_TeachingExcellencePathway.csv": "not valid JSON",
    "pathway-examples/EmpoweringTeachingExcellence_Badgr.json": "Badgr pathway export",
    "pathway-examples/French-B-A-Marketable-Skills.json": "Badgr pathway export",
    "pathway-examples/comptia-IT_progModel.json": "nothing importable",
    "pathway-examples/termScheduleType.json": "nothing importable",
}


def sample(relative: str) -> Path:
    return shared_path(*CTDL, *relative.split("/"))


def write_and_validate(result: CtdlImport, out: Path) -> list[Path]:
    written = write_catalogue(result, out)
    problems = validate_catalogue(out)
    assert problems == [], "\n".join(str(p) for p in problems)
    return written


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# ---------------------------------------------------------------- the shared samples


def test_missing_shared_dir_fails_with_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setenv("STACKWISE_SHARED_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(pytest.fail.Exception, match=r"\.\./shared not found beside the checkout; expected at"):
        shared_path(*CTDL)


def test_every_sample_is_covered():
    root = shared_path(*CTDL)
    found = {
        str(p.relative_to(root))
        for folder in ("ingest-examples", "pathway-examples")
        for p in (root / folder).rglob("*")
        if p.is_file()
    }
    assert found == set(IMPORTABLE) | set(REJECTED), "a sample was added or removed: classify it above"


@pytest.mark.parametrize("relative", sorted(IMPORTABLE))
def test_sample_imports_and_validates(relative, tmp_path):
    result = import_ctdl([sample(relative)])
    credentials, pathways = IMPORTABLE[relative]
    assert (len(result.credentials), len(result.pathways)) == (credentials, pathways)
    assert result.providers, "every import names at least one awarding body"
    assert result.report, "CTDL never fills every catalogue element; the report cannot be empty"

    written = write_and_validate(result, tmp_path)
    catalogue = load_catalogue(tmp_path)  # round trip: what was written is what was imported
    assert set(catalogue.credentials) == {c.id for c in result.credentials}
    assert set(catalogue.pathways) == {p.id for p in result.pathways}
    assert set(catalogue.providers) == {p.id for p in result.providers}
    assert len(written) == (1 if result.providers else 0) + credentials + pathways


@pytest.mark.parametrize("relative", sorted(REJECTED))
def test_sample_without_ctdl_content_raises(relative):
    with pytest.raises(CtdlImportError) as caught:
        import_ctdl([sample(relative)])
    assert REJECTED[relative] in str(caught.value)
    assert Path(relative).name in str(caught.value), "the error names the file"


def test_all_ingest_examples_together_resolve_references(tmp_path):
    files = sorted(shared_path(*CTDL, "ingest-examples").rglob("*.json"))
    result = import_ctdl(files)
    assert [p.id for p in result.providers] == ["example-university"]
    provider = result.providers[0]
    assert provider.kind.value == "university" and provider.country == "US"  # agentType + addressCountry

    by_id = {c.id: c for c in result.credentials}
    # same @id in Credential-1.json and Credential-1-graph.json: merged into one credential
    assert len(result.credentials) == 6
    assert all(c.awarding_body == "example-university" for c in result.credentials)
    assert by_id["leadership-and-innovation-excellence"].prerequisites == [
        "personal-growth-mastery", "digital-skills-revolution"]  # entryCondition -> targetLearningOpportunity
    assert by_id["bachelor-of-science-in-cybersecurity"].prerequisites == ["cybersecurity-program"]
    assert by_id["bachelor-of-science-in-cybersecurity"].eqf_level == 6  # audLevel:BachelorsDegreeLevel
    assert by_id["bachelor-of-science-in-cybersecurity"].quality_assurance.startswith("Recognised by Example Town")
    accelerator = by_id["lifelong-learning-accelerator"]
    assert (accelerator.price.amount, accelerator.price.currency) == (4485, "USD")
    assert accelerator.participation.value == "blended" and accelerator.duration.weeks == 39  # P9M

    write_and_validate(result, tmp_path)
    catalogue = load_catalogue(tmp_path)
    assert catalogue.credentials["digital-skills-revolution"].prerequisites == ["personal-growth-mastery"]


def test_owner_outside_the_import_gets_a_marked_placeholder_provider():
    result = import_ctdl([sample("ingest-examples/Credential/1/Credential-1.json")])
    assert [p.id for p in result.providers] == ["unresolved-organization-1"]
    assert "REVIEW" in result.providers[0].quality_assurance
    assert any("not in the import" in n.message and n.kind is NoteKind.placeholder for n in result.report)


def test_report_names_unmapped_fields_and_placeholders():
    result = import_ctdl([sample("ingest-examples/LearningProgram/1/Course-1a.json")])
    messages = [n.message for n in result.report]
    unmapped = [n for n in result.report if n.kind is NoteKind.unmapped]
    for field in ("ceterms:occupationType", "ceterms:dateEffective", "ceterms:lifeCycleStatusType"):
        assert any(field in n.message and n.pointer.endswith(field) for n in unmapped), field
    assert any("Annex I element 'ects' not present in CTDL" in m and "REVIEW" in m for m in messages)
    assert any("placeholder rubric" in m for m in messages)
    assert any("BeginnerLevel has no EQF equivalent" in m for m in messages)
    credential = result.credentials[0]
    assert all(c.title.startswith("PLACEHOLDER") for c in credential.rubric.criteria)
    assert all(n.file.endswith("Course-1a.json") for n in result.report)


def test_written_files_carry_the_review_notes(tmp_path):
    result = import_ctdl([sample("ingest-examples/LearningProgram/1/Course-1a.json")])
    written = write_and_validate(result, tmp_path)
    text = (tmp_path / "credentials" / "personal-growth-mastery.yaml").read_text(encoding="utf-8")
    assert text.startswith("# Credential 'personal-growth-mastery' imported from CTDL")
    assert "# - personal-growth-mastery: placeholder: Annex I element 'ects'" in text
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        "credentials/personal-growth-mastery.yaml", "providers.yaml"]


def test_pathway_rules_follow_required_number():
    """Emp. Teaching Excellence: 6 of 31 -> n_of_m, 1 of 21 -> any_of, 1 of 1 chains -> all_of."""
    path = sample("pathway-examples/Badgr (Final) - EmpoweringTeachingExcellence_Nate.json")
    raw = {node["@id"]: node for node in json.loads(path.read_text(encoding="utf-8"))}
    result = import_ctdl([path])
    cred_of = {result.sources[c.id]: c.id for c in result.credentials}
    (pathway,) = result.pathways
    rules = pathway.requirements

    def condition(component_name: str, index: int = 0) -> tuple[int, list[str]]:
        node = next(n for n in raw.values() if n["ceterms:name"]["en"] == component_name)
        cond = node["ceterms:hasCondition"][index]
        return cond["ceterms:requiredNumber"], [cred_of[t] for t in cond["ceterms:targetComponent"]]

    n, creds = condition("Scholar Engage Level")
    assert (n, len(creds)) == (6, 31)
    assert any(isinstance(r, NOfM) and r.n == 6 and r.credentials == creds for r in rules)

    n, creds = condition("Scholar Contribute Level")
    assert (n, len(creds)) == (1, 21)
    assert any(isinstance(r, AnyOf) and r.credentials == creds for r in rules)

    n, creds = condition("Master Teacher Certificate", 1)  # 1 of 1: the Teaching Scholar Certificate
    assert n == len(creds) == 1
    required = {c for r in rules if isinstance(r, AllOf) for c in r.credentials}
    assert set(creds) <= required
    assert Prerequisite(rule="prerequisite", credential="master-teacher-certificate",
                        requires=creds) in rules


def test_comptia_chain_becomes_prerequisites():
    result = import_ctdl([sample("pathway-examples/CompTIA-IT_Networking_Specialist.jsonld")])
    (pathway,) = result.pathways
    (all_of,) = [r for r in pathway.requirements if isinstance(r, AllOf)]
    assert len(all_of.credentials) == 8  # 1-of-1 conditions all the way down the chain
    prereqs = {r.credential: r.requires for r in pathway.requirements if isinstance(r, Prerequisite)}
    assert prereqs["comptia-cloud"] == ["comptia-server"]
    assert prereqs["comptia-network"] == ["comptia-a"]


def test_credit_requirement_on_a_pathway_becomes_min_credits():
    result = import_ctdl([sample("pathway-examples/Fluree Pathway.json")])
    (pathway,) = result.pathways
    (rule,) = [r for r in pathway.requirements if isinstance(r, MinCredits)]
    trig = next(c for c in result.credentials if c.id == "college-trigonometry")
    assert trig.ects == 8  # 4 DegreeCredit via the component's sourceItem
    assert rule.ects <= sum(c.ects for c in result.credentials if c.id in pathway.credential_ids())
    assert any("25 creditUnit:DegreeCredit converted to 50 ECTS" in n.message for n in result.report)
    assert any("lowered to" in n.message for n in result.report)  # 50 ECTS asked, fewer imported


def test_file_with_nothing_importable_is_noted_beside_importable_files():
    result = import_ctdl([sample("pathway-examples/comptia-IT_progModel.json"),
                          sample("pathway-examples/CompTIA-IT_Networking_Specialist.jsonld")])
    assert len(result.pathways) == 1
    assert any(n.file.endswith("comptia-IT_progModel.json") and n.message == "nothing importable in this file"
               for n in result.report)


# ---------------------------------------------------------------- malformed input


def test_malformed_json_raises(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('{"@context": "https://credreg.net/ctdl/schema/context/json", "@graph": [', encoding="utf-8")
    with pytest.raises(CtdlImportError, match=r"broken\.json: not valid JSON"):
        import_ctdl([bad])


def test_json_that_is_not_ctdl_raises(tmp_path):
    with pytest.raises(CtdlImportError, match="JSON but not CTDL"):
        import_ctdl([write_json(tmp_path / "other.json", {"name": "a course", "price": 10})])
    with pytest.raises(CtdlImportError, match="JSON but not CTDL"):
        import_ctdl([write_json(tmp_path / "list.json", [1, 2, 3])])


@pytest.mark.parametrize("content", ["", "   \n", b"\xff\xfe\x00garbage"])
def test_empty_or_binary_file_raises(tmp_path, content):
    path = tmp_path / "odd.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(CtdlImportError):
        import_ctdl([path])


def test_missing_file_and_no_files_raise(tmp_path):
    with pytest.raises(CtdlImportError, match="cannot read file"):
        import_ctdl([tmp_path / "nope.json"])
    with pytest.raises(CtdlImportError, match="no input files"):
        import_ctdl([])


# ---------------------------------------------------------------- small synthetic graphs

CONTEXT = "https://credreg.net/ctdl/schema/context/json"
BASE = "https://example.org/ctdl/"


def component(key: str, kind: str = "ceterms:CourseComponent", **props: object) -> dict[str, object]:
    return {"@id": BASE + key, "@type": kind, "ceterms:name": {"en": key.replace("-", " ").title()}, **props}


def cond(n: int | None, *targets: str, **props: object) -> dict[str, object]:
    data: dict[str, object] = {"@type": "ceterms:ComponentCondition", **props,
                               "ceterms:targetComponent": [BASE + t for t in targets]}
    if n is not None:
        data["ceterms:requiredNumber"] = n
    return data


def pathway_doc(*components: dict[str, object], destination: str = "goal") -> dict[str, object]:
    return {"@context": CONTEXT, "@graph": [
        {"@id": BASE + "pathway", "@type": "ceterms:Pathway", "ceterms:name": {"en": "Data Pathway"},
         "ceterms:description": {"en": "A test pathway."}, "ceterms:hasDestinationComponent": BASE + destination},
        *components,
    ]}


def test_required_number_maps_to_n_of_m_any_of_all_of(tmp_path):
    doc = pathway_doc(
        component("goal", "ceterms:CredentialComponent", **{"ceterms:hasCondition": [
            cond(2, "course-a", "course-b", "course-c"),
            cond(1, "course-d", "course-e"),
            cond(2, "course-f", "course-g"),
        ]}),
        *(component(f"course-{k}") for k in "abcdefg"),
    )
    result = import_ctdl([write_json(tmp_path / "p.json", doc)])
    (pathway,) = result.pathways
    rules = pathway.requirements
    assert pathway.leads_to == "Goal"
    assert NOfM(rule="n_of_m", n=2, credentials=["course-a", "course-b", "course-c"], label="Goal") in rules
    assert any(isinstance(r, AnyOf) and r.credentials == ["course-d", "course-e"] for r in rules)
    assert any(isinstance(r, AllOf) and r.credentials == ["course-f", "course-g"] for r in rules)
    assert "goal" not in {c.id for c in result.credentials}  # the destination is what the pathway leads to
    write_and_validate(result, tmp_path / "out")


def test_nested_choice_is_relaxed_and_reported(tmp_path):
    doc = pathway_doc(
        component("goal", "ceterms:CredentialComponent", **{"ceterms:hasCondition": [cond(1, "g1", "g2")]}),
        component("g1", "ceterms:BasicComponent",
                  **{"ceterms:hasCondition": [cond(2, "course-a", "course-b", "course-c")]}),
        component("g2", "ceterms:BasicComponent",
                  **{"ceterms:hasCondition": [cond(3, "course-d", "course-e", "course-f")]}),
        *(component(f"course-{k}") for k in "abcdef"),
    )
    result = import_ctdl([write_json(tmp_path / "p.json", doc)])
    (rule,) = result.pathways[0].requirements
    assert isinstance(rule, NOfM) and rule.n == 2 and rule.credentials == [f"course-{k}" for k in "abcdef"]
    assert any(n.kind is NoteKind.approximation and "1 of 2 nested sub-groups" in n.message for n in result.report)
    write_and_validate(result, tmp_path / "out")


def test_prerequisite_relations_credits_and_constraints(tmp_path):
    doc = pathway_doc(
        component("goal", "ceterms:BasicComponent", **{"ceterms:hasCondition": [
            cond(None, "course-a", "course-b", **{"ceterms:hasConstraint": [{"@type": "ceterms:Constraint"}]}),
        ]}),
        component("course-a", **{"ceterms:creditValue": [{"@type": "ceterms:ValueProfile", "schema:value": 3,
                                                    "ceterms:creditUnitType": ["creditUnit:SemesterHour"]}]}),
        component("course-b", **{"ceterms:prerequisite": [BASE + "course-a"],
                                 "ceterms:precedes": [BASE + "course-a"]}),
    )
    result = import_ctdl([write_json(tmp_path / "p.json", doc)])
    by_id = {c.id: c for c in result.credentials}
    assert by_id["course-a"].ects == 6  # 3 US semester credits
    rules = result.pathways[0].requirements
    assert AllOf(rule="all_of", credentials=["course-a", "course-b"], label="Goal") in rules
    # b requires a, and b precedes a: together a cycle, so one of the two is dropped and reported
    (prerequisite,) = [r for r in rules if isinstance(r, Prerequisite)]
    assert {prerequisite.credential, *prerequisite.requires} == {"course-a", "course-b"}
    messages = [n.message for n in result.report]
    assert any("closes a cycle" in m for m in messages)
    assert any("ComponentCondition constraint not mapped" in m for m in messages)
    assert any("without requiredNumber; all 2 targets taken as required" in m for m in messages)
    assert any("3 creditUnit:SemesterHour converted to 6 ECTS" in m for m in messages)
    write_and_validate(result, tmp_path / "out")


def test_non_earnable_components_are_reported_not_imported(tmp_path):
    doc = pathway_doc(
        component("goal", "ceterms:BasicComponent",
                  **{"ceterms:hasCondition": [cond(1, "job", "course-a", "course-b")]}),
        component("job", "ceterms:JobComponent"),
        component("course-a"), component("course-b"),
    )
    result = import_ctdl([write_json(tmp_path / "p.json", doc)])
    assert {c.id for c in result.credentials} == {"course-a", "course-b"}
    rules = result.pathways[0].requirements
    assert any(isinstance(r, AnyOf) and r.credentials == ["course-a", "course-b"] for r in rules)
    assert any("JobComponent 'Job' is not an earnable learning unit" in n.message for n in result.report)
    write_and_validate(result, tmp_path / "out")


def test_credit_sum_constraint_becomes_minimum_credits(tmp_path):
    constraint = {"@type": "ceterms:Constraint", "ceterms:leftSource": ["ceterms:creditValue"],
                  "ceterms:leftAction": "ceterms:sum", "ceterms:comparator": "ceterms:greaterThanOrEqualTo",
                  "ceterms:rightSource": ["6"]}
    doc = pathway_doc(
        component("goal", "ceterms:BasicComponent", **{"ceterms:hasCondition": [
            cond(None, "course-a", "course-b", "course-c", **{"ceterms:hasConstraint": [constraint]})]}),
        *(component(f"course-{k}") for k in "abc"),
    )
    result = import_ctdl([write_json(tmp_path / "p.json", doc)])
    (rule,) = [r for r in result.pathways[0].requirements if not isinstance(r, Prerequisite)]
    assert rule.rule == "min_credits" and rule.ects == 6
    assert rule.credentials == ["course-a", "course-b", "course-c"]
    write_and_validate(result, tmp_path / "out")

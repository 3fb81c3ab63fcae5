"""Reading questions without the model: entity linking, language, the rules' reading, and the checks around
the model's reading and translation (real catalogues: the demo one and the imported dev CTDL set)."""

from __future__ import annotations

import pytest

from assistant.language import clearly_english, detect_language
from assistant.linking import link_entities, normalise, resolve
from assistant.reading import Facet, Tool, _form_schema, candidates_for
from assistant.service import keeps_figures
from assistant.understanding import read_by_rules, read_holdings, without_names
from knowledge import load_catalogue
from tests.catalogue_factory import build_catalogue, credential, pathway


def entry(make, *args, **fields):
    data = make(*args)
    data.update(fields)
    return data


@pytest.fixture(scope="module")
def demo():
    return load_catalogue("knowledge/catalogue/demo")


@pytest.fixture(scope="module")
def coded(tmp_path_factory):
    """A small catalogue whose credentials carry provider codes and a CTDL ctid, with a destination certificate."""
    creds = [
        entry(credential, "natural-language-processing-essentials", title="Natural Language Processing Essentials",
              aliases=["HP-MC-03", "ce-1b2f7c1e-0000-4000-8000-000000000003"]),
        entry(credential, "machine-learning-in-production", title="Machine Learning in Production",
              aliases=["HP-MC-06"]),
        entry(credential, "statistics-refresher", title="Statistics Refresher for Data Science"),
        entry(credential, "certificate-in-applied-ai", title="Certificate in Applied AI", aliases=["HP-CERT-01"]),
    ]
    path = entry(pathway, "applied-ai-pathway", [{"rule": "all_of", "credentials": [
        "natural-language-processing-essentials", "machine-learning-in-production"]}],
        title="Applied AI Pathway", destination="certificate-in-applied-ai")
    return build_catalogue(tmp_path_factory.mktemp("coded"), creds, [path])


def ids(mentions):
    return [m.entity_id for m in mentions]


def test_normalise_folds_case_accents_and_punctuation():
    assert normalise("Qu'est-ce que  Économie?") == "qu est ce que economie"


def test_linking_by_code_ctid_acronym_and_typo(coded):
    assert ids(link_entities(coded, "is HP-MC-06 hard?")) == ["machine-learning-in-production"]
    assert ids(link_entities(coded, "hp mc 03 please")) == ["natural-language-processing-essentials"]
    assert ids(link_entities(coded, "ce-1b2f7c1e-0000-4000-8000-000000000003")) == [
        "natural-language-processing-essentials"]
    assert ids(link_entities(coded, "whats nlp essentials about")) == ["natural-language-processing-essentials"]
    assert ids(link_entities(coded, "ML in Production price")) == ["machine-learning-in-production"]
    assert ids(link_entities(coded, "machine lerning in prodution")) == ["machine-learning-in-production"]
    assert link_entities(coded, "how do I bake bread") == []


def test_a_name_inside_a_longer_name_is_not_a_second_mention(demo):
    found = ids(link_entities(demo, "What do I still need for the AI Leadership Certificate?"))
    assert found == ["ai-leadership-certificate"]


def test_resolve_references_for_holdings(coded):
    assert resolve(coded, "HP-CERT-01") == "certificate-in-applied-ai"
    assert resolve(coded, "Statistics Refresher for Data Science") == "statistics-refresher"
    assert resolve(coded, "statistics refresher for data sciense") == "statistics-refresher"  # a typo
    assert resolve(coded, "HP-MC-99") is None
    assert resolve(coded, "quantum baking") is None


def test_language_vote():
    assert detect_language("How much does Data Strategy cost?") == "en"
    assert detect_language("Wie viel kostet Data Strategy und wie lange dauert es?") == "de"
    assert detect_language("Combien coûte Data Strategy et combien de temps dure le cours ?") == "fr"
    assert detect_language("¿Cuánto cuesta Data Strategy y cuánto dura?") == "es"
    assert detect_language("Who provides Responsible AI Risk Assessment?") == "en"
    assert clearly_english("What do I still need for the certificate?")
    assert not clearly_english("Was brauche ich noch für das Zertifikat?")


def test_holdings_only_when_stated(demo):
    stated = read_holdings(demo, "I have completed Data Strategy. How much does Prompt Engineering cost?")
    assert stated.held == ["data-strategy"]
    assert read_holdings(demo, "How much does Prompt Engineering cost?").held == []
    both = read_holdings(demo, "I hold Leading AI-Enabled Change and Ethical AI Governance, what do I still need "
                               "for the AI Leadership Certificate?")
    assert sorted(both.held) == ["ai-change-leadership", "ethical-ai-governance"]
    # a target after "for" / "want" is not held
    assert read_holdings(demo, "I've passed Data Strategy and want Prompt Engineering").held == ["data-strategy"]


def test_corrections_and_hypotheticals(demo):
    corrected = read_holdings(demo, "Sorry, I haven't actually finished Data Strategy yet")
    assert corrected.not_held == ["data-strategy"] and corrected.held == []
    assert read_holdings(demo, "Can I enrol in Prompt Engineering without holding anything?").none_held


def test_words_inside_a_title_are_not_the_question(coded):
    question = "When does the next cohort of Natural Language Processing Essentials start?"
    reading, mentions = read_by_rules(coded, question)
    assert Facet.language not in reading.facets
    assert without_names(question, mentions) == "when does the next cohort of x start"


@pytest.mark.parametrize(("question", "tool"), [
    ("How much does Data Strategy cost?", Tool.facts),
    ("What is the cheapest route to the Data & AI for Managers pathway?", Tool.cheapest),
    ("Is Data Strategy a prerequisite for anything?", Tool.required_by),
    ("Which credentials require AI Literacy Foundations first?", Tool.required_by),
    ("What are the prerequisites of Prompt Engineering?", Tool.prerequisites),
    ("Can I enrol in AI Agents & Automation now?", Tool.can_enrol),
    ("Which is cheaper, Data Strategy or Data Governance?", Tool.compare),
    ("How many more ECTS is Data Strategy than Data Governance?", Tool.compare),
    ("What's the quickest way to finish AI Engineering Foundations?", Tool.fastest),
])
def test_rules_pick_the_tool(demo, question, tool):
    reading, _ = read_by_rules(demo, question)
    assert reading.tool is tool


def test_certainty_sends_the_rest_to_the_model(demo):
    clear, _ = read_by_rules(demo, "How much does Data Strategy cost?")
    assert clear.certain and clear.source == "rules"
    for unclear in ("I have completed Data Strategy. How much does Prompt Engineering cost?",
                    "Wie viel kostet Data Strategy?", "how much does data stratgy cost",
                    "I don't have Data Strategy; can I take Prompt Engineering?"):
        assert not read_by_rules(demo, unclear)[0].certain, unclear


def test_a_destination_certificate_stands_for_its_pathway(coded):
    reading, _ = read_by_rules(coded, "What is the cheapest set of credentials that earns the Certificate in "
                                      "Applied AI, and what does it cost in total?")
    assert reading.tool is Tool.cheapest and reading.about == ["certificate-in-applied-ai"]


def test_candidates_and_form_schema(coded):
    mentions = link_entities(coded, "HP-CERT-01")
    cands = candidates_for(coded, mentions)
    assert cands.handles == {"C1": "certificate-in-applied-ai", "P1": "applied-ai-pathway"}
    schema = _form_schema(list(cands.handles))
    assert schema["properties"]["about"]["items"]["enum"] == ["C1", "P1", "X"]
    assert cands.ids(["P1", "C9", "P1"]) == ["applied-ai-pathway"]


def test_translation_must_keep_every_figure():
    assert keeps_figures("Total EUR 1,150, 5 ECTS, 10 weeks", "Insgesamt EUR 1.150, 5 ECTS, 10 Wochen")
    assert not keeps_figures("Total EUR 1,150, 5 ECTS", "Insgesamt EUR 1.500, 5 ECTS")


@pytest.mark.parametrize(("question", "held"), [
    ("Ich habe Data Strategy und Prompt Engineering abgeschlossen. Was brauche ich noch?",
     ["data-strategy", "prompt-engineering"]),
    ("J'ai déjà terminé Data Strategy, combien coûte Prompt Engineering ?", ["data-strategy"]),
    ("Ya he completado Data Strategy. ¿Cuánto cuesta Prompt Engineering?", ["data-strategy"]),
    ("Wie viel kostet Data Strategy?", []),
])
def test_holdings_stated_in_other_languages(demo, question, held):
    assert sorted(read_holdings(demo, question).held) == held


def test_recommended_is_said_apart_from_required(tmp_path):
    from assistant.reading import Reading
    from assistant.tools import Tools

    creds = [credential("alpha"), credential("beta"), entry(credential, "gamma", prerequisites=["alpha"],
                                                             recommended=["beta"])]
    catalogue = build_catalogue(tmp_path, creds, [pathway("path-g", [{"rule": "all_of", "credentials": ["gamma"]}])])
    tools = Tools(catalogue)
    answer = tools.prerequisites(Reading(tool=Tool.prerequisites, about=["gamma"]))
    assert "requires Credential alpha (alpha) first" in answer.text
    assert "Recommended beforehand, but not required: Credential beta (beta)" in answer.text
    enrol = tools.can_enrol(Reading(tool=Tool.can_enrol, about=["gamma"]), ["alpha"])
    assert enrol.text.startswith("Yes")
    assert "Credential beta (beta) is recommended first, but not required" in enrol.text


def test_a_credentials_own_credit_is_answered(tmp_path):
    from assistant.reading import Reading
    from assistant.tools import Tools

    creds = [credential("alpha"), entry(credential, "beta", credit_recognition=[
        {"recognised_by": "uni", "towards": "Bachelor of Things", "ects": 5}])]
    catalogue = build_catalogue(tmp_path, creds, [pathway("path-a", [{"rule": "all_of", "credentials": ["alpha"]}])])
    answer = Tools(catalogue).credit(Reading(tool=Tool.credit, about=["beta"]), ["beta"])
    assert "recognises 5 ECTS towards Bachelor of Things for Credential beta (you have earned this)" in answer.text

"""The browsable catalogue (``/catalogue``, ``/catalogue/<id>``): its routes on a FastAPI app (TestClient), and the
same routes served for real by ``stackwise.web.shell.launch`` (no issuance) with the chat's sources linking to them.

The service is the real :class:`AssistantService` on the demo catalogue (or a small one built by
``tests/catalogue_factory.py``), an index that is never searched and SQLite memory; no model is loaded (the pages
and the questions asked here are answered by the catalogue and the planner). Expected values come from the catalogue
and the planner, never from hard-coded figures.
"""

from __future__ import annotations

import html
import re
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests import catalogue_factory as factory
from tests.test_web_app import served, texts
from tests.test_web_browser import browser  # noqa: F401, F811  (the shared module-scoped Chromium fixture)

AI_LEADERSHIP = "ai-leadership-certificate"


def make_service(catalogue, directory: Path):
    """The real assistant service over ``catalogue`` without a model (the pages never search or generate)."""
    from assistant.api import AssistantService, ConversationMemory
    from knowledge.api import CatalogueIndex

    return AssistantService(catalogue, CatalogueIndex.open(directory / "index"),
                            ConversationMemory(f"sqlite:///{directory / 'memory.db'}"))


def app_client(service):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from stackwise.web.catalogue_pages import catalogue_routes

    return TestClient(FastAPI(routes=catalogue_routes(service)))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from knowledge.api import load_catalogue
    from stackwise.config import BUNDLED_CATALOGUE

    return make_service(load_catalogue(BUNDLED_CATALOGUE), tmp_path_factory.mktemp("catalogue-pages"))


@pytest.fixture(scope="module")
def client(demo):
    return app_client(demo)


def listed(page: str, kind: str = "credential") -> list[str]:
    """The ids of the credentials (or pathways) a list page shows, in order."""
    return re.findall(rf'<li id="{kind}-([a-z0-9-]+)">', page)


def text_of(page: str) -> str:
    """The page's text (tags dropped, entities decoded, spaces collapsed)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def money(amount: Decimal, currency: str) -> str:
    return f"{currency} {amount:,.2f}".removesuffix(".00")


# ---------------------------------------------------------------- the list and its filters


def test_the_list_shows_every_credential_and_pathway_with_a_labelled_get_form(client, demo):
    page = client.get("/catalogue")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    body = page.text
    catalogue = demo.catalogue
    assert sorted(listed(body)) == sorted(catalogue.credentials)
    assert sorted(listed(body, "pathway")) == sorted(catalogue.pathways)
    for cid, credential in catalogue.credentials.items():  # each linked by its title
        assert f'<a href="/catalogue/{cid}">{html.escape(credential.title, quote=False)}</a>' in body
    # a plain GET form that works without JavaScript; every control has a label
    assert re.search(r'<form id="filters" method="get" action="/catalogue"', body) and "<script" not in body
    controls = re.findall(r'<(?:input|select) id="([^"]+)" name="([^"]+)"', body)
    assert {name for _, name in controls} == {"provider", "eqf", "ects_min", "ects_max", "price_max", "currency",
                                              "delivery", "participation"}
    for control_id, _ in controls:
        assert f'<label for="{control_id}">' in body
    assert '<html lang="en">' in body and "<title>Catalogue · Stackwise</title>" in body
    assert 'name="viewport"' in body and '<a class="skip" href="#main">' in body and '<main id="main"' in body
    assert body.count("<h1>") == 1


@pytest.mark.parametrize(("query", "expected"), [
    ({"provider": "kursora"}, lambda c: c.awarding_body == "kursora"),
    ({"eqf": "6"}, lambda c: c.eqf_level == 6),
    ({"ects_min": "3"}, lambda c: c.ects >= 3),
    ({"ects_max": "2.5"}, lambda c: c.ects <= 2.5),
    ({"price_max": "500"}, lambda c: c.price.amount <= 500),
    ({"price_max": "400", "currency": "gbp"}, lambda c: c.price.currency == "GBP" and c.price.amount <= 400),
    ({"delivery": "self_paced"}, lambda c: c.delivery_mode.value == "self_paced"),
    ({"participation": "blended"}, lambda c: c.participation.value == "blended"),
    ({"provider": "shannonside-university", "eqf": "7", "ects_min": "2", "ects_max": "5", "price_max": "2000",
      "currency": "EUR", "delivery": "cohort_based"},
     lambda c: (c.awarding_body == "shannonside-university" and c.eqf_level == 7 and 2 <= c.ects <= 5
                and c.price.currency == "EUR" and c.price.amount <= 2000 and c.delivery_mode.value == "cohort_based")),
])
def test_each_filter_and_their_combination_keep_exactly_the_matching_credentials(client, demo, query, expected):
    page = client.get("/catalogue", params=query)
    assert page.status_code == 200
    want = sorted(cid for cid, c in demo.catalogue.credentials.items() if expected(c))
    assert want, f"the demo catalogue has no credential for {query}: the test would prove nothing"
    assert sorted(listed(page.text)) == want
    assert f"{len(want)} of {len(demo.catalogue.credentials)} credentials match the filters." in text_of(page.text)
    for name, value in query.items():  # the form shows what was chosen
        shown = value.upper() if name == "currency" else value
        assert (f'value="{shown}" selected' in page.text) or (f'name="{name}"' in page.text
                                                              and f'value="{shown}"' in page.text)


def test_pathways_are_filtered_by_provider_and_level(client, demo):
    provider = next(iter(demo.catalogue.pathways.values())).awarding_body
    page = client.get("/catalogue", params={"provider": provider})
    assert sorted(listed(page.text, "pathway")) == sorted(
        pid for pid, p in demo.catalogue.pathways.items() if p.awarding_body == provider)
    level = next(p.eqf_level for p in demo.catalogue.pathways.values() if p.eqf_level)
    page = client.get("/catalogue", params={"eqf": str(level)})
    assert sorted(listed(page.text, "pathway")) == sorted(
        pid for pid, p in demo.catalogue.pathways.items() if p.eqf_level == level)


def test_the_list_filtered_by_a_provider_says_who_the_provider_is(client, demo):
    provider = demo.catalogue.providers["kursora"]
    page = client.get("/catalogue", params={"provider": provider.id})
    assert f"<title>{html.escape(provider.name, quote=False)}: catalogue · Stackwise</title>" in page.text
    about = text_of(page.text[page.text.index('id="provider"'):page.text.index("</section>")])
    assert f"About {provider.name}" in about and provider.quality_assurance in about


def test_an_empty_value_is_no_filter(client, demo):
    page = client.get("/catalogue", params={name: "" for name in ("provider", "eqf", "ects_min", "price_max")})
    assert page.status_code == 200 and sorted(listed(page.text)) == sorted(demo.catalogue.credentials)


@pytest.mark.parametrize(("query", "message"), [
    ({"eqf": "abc"}, "The EQF level must be a whole number from 1 to 8 (got 'abc')"),
    ({"eqf": "9"}, "The EQF level must be a whole number from 1 to 8 (got '9')"),
    ({"ects_min": "lots"}, "The minimum ECTS must be a number from 0 to 480 (got 'lots')"),
    ({"ects_max": "inf"}, "The maximum ECTS must be a number from 0 to 480 (got 'inf')"),
    ({"price_max": "-5"}, "The maximum price must be an amount of 0 or more"),
    ({"price_max": "NaN"}, "The maximum price must be an amount of 0 or more"),
    ({"provider": "<b>nobody</b>"}, "Provider '<b>nobody</b>' is not in the catalogue; choose one of:"),
    ({"delivery": "by-pigeon"}, "Delivery mode 'by-pigeon' is not in the catalogue; choose one of: self_paced"),
    ({"participation": "telepathy"}, "Participation 'telepathy' is not in the catalogue"),
    ({"currency": "XYZ"}, "Currency 'XYZ' is not in the catalogue"),
    ({"provider": "x" * 5000}, f"Provider '{'x' * 40}…' is not in the catalogue"),  # a long value is shortened
    ({"ects_min": "5", "ects_max": "2"}, "The minimum ECTS (5) is above the maximum (2)"),
])
def test_a_bad_filter_value_gets_a_clear_message_and_is_left_out(client, demo, query, message):
    page = client.get("/catalogue", params=query)
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert 'id="filter-problems" role="alert"' in page.text
    assert message in text_of(page.text)
    assert "<b>nobody</b>" not in page.text  # shown as text, never as markup
    assert sorted(listed(page.text)) == sorted(demo.catalogue.credentials)  # the bad filter was left out


def test_a_bad_filter_leaves_the_good_ones_applied(client, demo):
    page = client.get("/catalogue", params={"eqf": "seven", "provider": "kursora"})
    assert page.status_code == 400 and "The EQF level must be a whole number" in text_of(page.text)
    assert sorted(listed(page.text)) == sorted(
        cid for cid, c in demo.catalogue.credentials.items() if c.awarding_body == "kursora")


def test_the_filters_are_pure_functions_of_the_catalogue(demo):
    from stackwise.web.catalogue_pages import matching_credentials, parse_filters

    parsed = parse_filters({"ects_min": " 3 ", "currency": "eur", "junk": "x"}, demo.catalogue)
    assert parsed.problems == [] and parsed.filters.ects_min == 3 and parsed.filters.currency == "EUR"
    assert {c.id for c in matching_credentials(demo.catalogue, parsed.filters)} == {
        cid for cid, c in demo.catalogue.credentials.items() if c.ects >= 3 and c.price.currency == "EUR"}


def test_a_filtered_value_the_catalogue_does_not_state_never_matches(tmp_path):
    stated = factory.credential("stated", ects=3, price=100)
    unstated = {**factory.credential("unstated", ects=3, price=100), "unstated": ["price", "ects"]}
    service = make_service(factory.build_catalogue(tmp_path / "cat", [stated, unstated], []), tmp_path)
    client = app_client(service)
    assert listed(client.get("/catalogue", params={"price_max": "1000"}).text) == ["stated"]
    assert listed(client.get("/catalogue", params={"ects_min": "1"}).text) == ["stated"]
    assert sorted(listed(client.get("/catalogue").text)) == ["stated", "unstated"]
    assert "Price not stated in the catalogue" in text_of(client.get("/catalogue/unstated").text)


# ---------------------------------------------------------------- a credential's and a pathway's page


def test_a_credential_page_shows_its_rubric_price_workload_and_pathways(client, demo):
    catalogue = demo.catalogue
    cid = "data-strategy"
    c = catalogue.credentials[cid]
    page = client.get(f"/catalogue/{cid}")
    assert page.status_code == 200
    body, text = page.text, text_of(page.text)
    assert f"<title>{html.escape(c.title, quote=False)} · Stackwise</title>" in body
    assert f"<h1>{html.escape(c.title, quote=False)}</h1>" in body
    assert catalogue.providers[c.awarding_body].name in text and c.summary in text
    assert f"Price {money(c.price.amount, c.price.currency)}" in text
    assert f"ECTS {c.ects:g}" in text and f"EQF level {c.eqf_level}" in text
    assert f"{c.duration.weeks} weeks, {c.duration.hours_per_week:g} hours a week" in text
    assert f"({c.duration.total_hours:g} hours in all)" in text
    for outcome in c.learning_outcomes:
        assert outcome in text
    assert f"at least {c.rubric.pass_threshold} of {c.rubric.max_points} points" in text
    for criterion in c.rubric.criteria:
        section = body[body.index(f'id="criterion-{criterion.id}"'):]
        section = text_of(section[:section.index("</section>")])
        assert criterion.title in section and criterion.description in section
        for level in criterion.levels:
            assert f"{level.label} {level.points} {level.descriptor}" in section
    towards = [p for p in catalogue.pathways.values() if cid in p.credential_ids()]
    assert towards
    counts = body[body.index('id="counts-towards"'):]
    counts = counts[:counts.index("</ul>")]
    assert sorted(re.findall(r'href="/catalogue/([a-z0-9-]+)"', counts)) == sorted(p.id for p in towards)
    # Open Graph for link previews; "Ask about this" opens the chat with a question naming the credential
    assert f'<meta property="og:title" content="{html.escape(c.title)}' in body
    ask = re.search(r'id="ask-about-this" href="([^"]+)"', body).group(1)
    assert urlsplit(html.unescape(ask)).path == "/"
    question = parse_qs(urlsplit(html.unescape(ask)).query)["ask"][0]
    assert c.title in question


def test_a_credential_page_lists_its_prerequisites_and_what_requires_it(client, demo):
    catalogue = demo.catalogue
    cid, c = next((cid, c) for cid, c in catalogue.credentials.items() if c.prerequisites)
    body = client.get(f"/catalogue/{cid}").text
    block = body[body.index('id="prerequisites"'):]
    assert re.findall(r'href="/catalogue/([a-z0-9-]+)"', block[:block.index("</ul>")]) == c.prerequisites
    before = c.prerequisites[0]
    block = client.get(f"/catalogue/{before}").text
    block = block[block.index('id="leads-to"'):]
    assert cid in re.findall(r'href="/catalogue/([a-z0-9-]+)"', block[:block.index("</ul>")])


def test_a_pathway_page_shows_its_rules_credentials_and_the_planners_total(client, demo):
    catalogue = demo.catalogue
    pathway = catalogue.pathways[AI_LEADERSHIP]
    page = client.get(f"/catalogue/{AI_LEADERSHIP}")
    assert page.status_code == 200
    body, text = page.text, text_of(page.text)
    assert f"<h1>{html.escape(pathway.title, quote=False)}</h1>" in body and pathway.summary in text
    assert pathway.leads_to in text
    rules = body[body.index('<ol id="rules">'):]
    rules = rules[:rules.index("</ol>")]
    assert rules.count("<li>") == len(pathway.requirements)
    assert set(re.findall(r'href="/catalogue/([a-z0-9-]+)"', rules)) == set(pathway.credential_ids())
    table = body[body.index('id="pathway-credentials"'):]
    table = table[:table.index("</table>")]
    assert re.findall(r'href="/catalogue/([a-z0-9-]+)"', table) == pathway.credential_ids()
    route = demo.plan([], AI_LEADERSHIP)["route"]
    price = " + ".join(money(Decimal(a), cur) for cur, a in sorted(route["total_price"].items()))
    assert f"{route['total_ects']:g} ECTS" in text_of(body[body.index('id="route"'):]) and price in text
    steps = body[body.index('id="route-steps"'):]
    assert re.findall(r'href="/catalogue/([a-z0-9-]+)"', steps[:steps.index("</ol>")]) == [
        s["credential_id"] for s in route["steps"]]
    for rule in pathway.requirements:
        if rule.rule == "min_credits":
            assert f"at least {rule.ects:g} ECTS" in text


def test_an_id_naming_a_credential_and_a_pathway_opens_each(tmp_path):
    catalogue = factory.build_catalogue(tmp_path / "cat", [factory.credential("twin"), factory.credential("other")],
                                        [factory.pathway("twin", [{"rule": "all_of", "credentials": ["other"]}])])
    client = app_client(make_service(catalogue, tmp_path))
    credential = client.get("/catalogue/twin")
    assert 'id="credential" data-id="twin"' in credential.text
    assert 'href="/catalogue/twin?kind=pathway"' in credential.text
    pathway = client.get("/catalogue/twin", params={"kind": "pathway"})
    assert pathway.status_code == 200 and 'id="pathway" data-id="twin"' in pathway.text


def test_an_unknown_id_gets_a_404_page_with_a_way_back(client, demo):
    page = client.get("/catalogue/data-strategi")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "No credential or pathway has the id “data-strategi”." in text_of(page.text)
    assert '<a id="back-to-catalogue" href="/catalogue">' in page.text
    assert 'href="/catalogue/data-strategy"' in page.text  # the near match is offered
    hostile = client.get("/catalogue/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert hostile.status_code == 404 and "<script>" not in hostile.text and "&lt;script&gt;" in hostile.text


def test_catalogue_text_is_escaped_never_markup(tmp_path):
    hostile = "<script>alert('x')</script>"
    credential = factory.credential("risky")
    credential.update(title=f"Risky {hostile}", summary=f"Summary {hostile}",
                      learning_outcomes=[f"Outcome {hostile}"])
    credential["rubric"]["criteria"][0]["title"] = f"Criterion {hostile}"
    credential["rubric"]["criteria"][0]["levels"][0]["descriptor"] = f"Level {hostile}"
    pathway = factory.pathway("risky-route", [{"rule": "all_of", "credentials": ["risky"], "label": hostile}])
    pathway["title"] = f"Route {hostile}"
    provider = {**factory.provider(), "name": f"Uni {hostile}"}
    catalogue = factory.build_catalogue(tmp_path / "cat", [credential], [pathway], providers=[provider])
    client = app_client(make_service(catalogue, tmp_path))
    for path in ("/catalogue", "/catalogue/risky", "/catalogue/risky-route", "/catalogue?provider=uni"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert "<script" not in page.text, path
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page.text, path
    assert f"Criterion {hostile}" in text_of(client.get("/catalogue/risky").text)


# ---------------------------------------------------------------- the chat's sources link to these pages


def test_chat_sources_are_links_to_the_catalogue_pages(client, demo):
    from assistant.api import Answer, Citation
    from stackwise.web.chat import render_answer

    answer = demo.plan_answer(["data-strategy"], AI_LEADERSHIP)
    assert answer.citations
    sources = render_answer(answer).splitlines()[-1]
    assert sources == "**Sources:** " + "; ".join(f"[{c.label}](/catalogue/{c.id})" for c in answer.citations)
    for citation in answer.citations:  # every link opens the cited entry's page
        page = client.get(f"/catalogue/{citation.id}")
        assert page.status_code == 200 and f"<h1>{html.escape(citation.title, quote=False)}</h1>" in page.text
    provider = Citation(id="kursora", kind="provider", title=demo.catalogue.providers["kursora"].name)
    odd = Citation(id="data-strategy", kind="credential", title="Data [beta] Strategy")
    shown = render_answer(Answer(question="q", text="t", intent="facts", citations=[provider, odd]))
    assert shown.endswith(f"[{provider.label}](/catalogue?provider=kursora); "
                          r"[Data \[beta\] Strategy (data-strategy)](/catalogue/data-strategy)")
    by_title = sorted((c for c in demo.catalogue.credentials.values() if c.awarding_body == "kursora"),
                      key=lambda c: c.title.lower())
    assert listed(client.get("/catalogue?provider=kursora").text) == [c.id for c in by_title]


def test_the_served_app_has_the_catalogue_without_issuance_and_links_its_sources(assistant):
    """``launch`` serves the pages ahead of Gradio's (no issuance service), and a chat answer's sources point
    at pages the same server serves."""
    import httpx
    from gradio_client import Client

    from stackwise.web.chat import ASK_FROM_URL_JS

    price = assistant.catalogue.credentials["data-strategy"].price
    with served(assistant) as url:
        listing = httpx.get(f"{url}catalogue", timeout=30)
        assert listing.status_code == 200 and sorted(listed(listing.text)) == sorted(assistant.catalogue.credentials)
        assert httpx.get(f"{url}catalogue/nothing-here", timeout=30).status_code == 404
        assert httpx.get(f"{url}?ask=How%20much%20does%20Data%20Strategy%20cost%3F", timeout=30).status_code == 200
        client = Client(url, verbose=False)
        key = client.predict("", api_name="/learner_start")[0]
        history, _, _ = client.predict("How much does Data Strategy cost?", [], [], key, api_name="/chat")
        reply = texts(history)[-1][1]
        link = re.search(r"\*\*Sources:\*\* \[Data Strategy \(data-strategy\)\]\((/catalogue/[^)]+)\)$", reply)
        assert link, reply
        page = httpx.get(url.rstrip("/") + link.group(1), timeout=30)
        assert page.status_code == 200 and f"Price {money(price.amount, price.currency)}" in text_of(page.text)
        config = httpx.get(f"{url}config", timeout=30).json()
        question_box = next(c["id"] for c in config["components"] if c.get("props", {}).get("label") == "Your question")
        prefill = [d for d in config["dependencies"] if d.get("js") == ASK_FROM_URL_JS]
        assert len(prefill) == 1 and prefill[0]["outputs"] == [question_box]
        assert any('href="/catalogue"' in str(c.get("props", {}).get("value", "")) or
                   "](/catalogue)" in str(c.get("props", {}).get("value", "")) for c in config["components"])


# ---------------------------------------------------------------- in a real browser (headless Chromium)


@pytest.mark.browser
def test_browse_filter_open_and_ask_in_the_browser_at_phone_width(browser, assistant):  # noqa: F811
    """At 390 px: the pages pass axe-core's WCAG 2 A/AA rules and do not scroll sideways; the filter form works
    without JavaScript; a credential opens by its title; "Ask about this" puts its question in the chat's box,
    and the answer's source links back to the page."""
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import expect

    axe = Axe()
    wcag = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
    credential = assistant.catalogue.credentials["data-strategy"]
    level = credential.eqf_level
    with served(assistant) as url:
        context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{url}catalogue")
        page.select_option("#filter-eqf", str(level))
        page.get_by_role("button", name="Show matching credentials").click()
        page.wait_for_url(re.compile(rf"eqf={level}"))
        assert sorted(listed(page.content())) == sorted(
            cid for cid, c in assistant.catalogue.credentials.items() if c.eqf_level == level)
        context.close()

        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.set_default_timeout(30_000)
        for path in ("catalogue", f"catalogue/{credential.id}", f"catalogue/{AI_LEADERSHIP}", "catalogue/nope",
                     "catalogue?eqf=x"):
            page.goto(url + path)
            results = axe.run(page, options=wcag)
            assert results.violations_count == 0, f"{path}: {results.generate_report()}"
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        page.goto(f"{url}catalogue")
        page.get_by_role("link", name=credential.title, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(credential.title)
        page.click("#ask-about-this")
        box = page.get_by_role("textbox", name="Your question")
        expect(box).to_have_value(re.compile(re.escape(credential.title)))
        page.get_by_text("Your learner key").first.click()
        expect(page.locator("#learner-key textarea, #learner-key input").first).to_have_value(re.compile(r"^swk-"))
        box.press("Enter")
        source = page.locator(".message.bot").last.get_by_role("link", name=f"{credential.title} ({credential.id})")
        expect(source).to_have_attribute("href", f"/catalogue/{credential.id}", timeout=300_000)
        page.close()

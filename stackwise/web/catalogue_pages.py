"""The browsable catalogue: HTML pages the Gradio app serves ahead of its own (FastAPI routes).

* ``GET /catalogue`` - every credential and pathway of the assistant's catalogue, with filters as query
  parameters of a plain GET form (works without JavaScript): ``provider``, ``eqf`` (EQF level), ``ects_min``,
  ``ects_max``, ``price_max`` (with ``currency``), ``delivery`` (delivery mode) and ``participation``. A bad
  value gets a clear message (status 400) and that filter is left out; the others still apply.
* ``GET /catalogue/{id}`` - a credential's page (outcomes, assessment and rubric, price, workload, prerequisites,
  the pathways it counts towards, what it stacks into) or a pathway's (its rules and credentials, its credit and
  the planner's cheapest route); an id naming both is the credential, and ``?kind=pathway`` opens the pathway.
  An unknown id gets a 404 page with a link back.

Every page links "Ask about this" into the chat (``/?ask=<question>``, which the chat page puts in the question
box: :func:`stackwise.web.chat.link_catalogue`). The pages are Jinja2 templates (``templates/catalogue*.html.j2``,
autoescaped, so catalogue text cannot inject markup). The data comes from ``service.catalogue``; pathway totals
from the planner (``service.plan``). The filtering is pure (:func:`parse_filters`, :func:`matching_credentials`,
:func:`matching_pathways`).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import pytz
from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.routing import BaseRoute

from assistant.api import AssistantError, AssistantService
from knowledge.api import Catalogue, Credential, Pathway, Provider

# ".j2" is listed because select_autoescape() matches the last suffix: "page.html.j2" would not be escaped
ENV = Environment(loader=PackageLoader("stackwise.web", "templates"),
                  autoescape=select_autoescape(("html", "htm", "j2")), trim_blocks=True, lstrip_blocks=True)

CATALOGUE_PATH = "/catalogue"
DELIVERY_MODES = [mode.value for mode in Credential.model_fields["delivery_mode"].annotation]  # type: ignore[union-attr]
PARTICIPATIONS = [form.value for form in Credential.model_fields["participation"].annotation]  # type: ignore[union-attr]
_WORDS = {"self_paced": "Self-paced", "instructor_led": "Instructor-led", "cohort_based": "Cohort-based",
          "onsite": "On site", "online_unsupervised_id_check": "Online, unsupervised, with an ID check"}
NOT_STATED = "not stated in the catalogue"
LANGUAGES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "nl": "Dutch", "it": "Italian",
             "pt": "Portuguese", "ga": "Irish", "pl": "Polish", "sv": "Swedish", "fi": "Finnish", "da": "Danish"}


def words(value: Any) -> str:
    """A catalogue code in words: ``self_paced`` -> "Self-paced", ``written_exam`` -> "Written exam"."""
    text = str(getattr(value, "value", value))
    return _WORDS.get(text, text.replace("_", " ").capitalize())


def money(amount: Decimal, currency: str) -> str:
    """``EUR 1,150`` (cents only when there are some); a zero price is "free"."""
    if amount == 0:
        return f"Free ({currency} 0)"
    shown = f"{amount:,.2f}".removesuffix(".00")
    return f"{currency} {shown}"


def number(value: float) -> str:
    return f"{value:g}"


def points(value: int) -> str:
    return "1 point" if value == 1 else f"{value} points"


def country(code: str) -> str:
    """An ISO 3166 code in words (the tz database's table), the code itself when unknown."""
    return str(pytz.country_names.get(code, code))


def page_link(entity_id: str, kind: str = "credential", catalogue: Catalogue | None = None) -> str:
    """The catalogue page of a credential, pathway or provider (a provider's is the list filtered by it)."""
    if kind == "provider":
        return f"{CATALOGUE_PATH}?{urlencode({'provider': entity_id})}"
    path = f"{CATALOGUE_PATH}/{quote(entity_id, safe='')}"
    if kind == "pathway" and catalogue is not None and entity_id in catalogue.credentials:
        return f"{path}?kind=pathway"  # the bare id opens the credential of the same id
    return path


def ask_link(question: str) -> str:
    """The chat with ``question`` in its question box."""
    return "/?" + urlencode({"ask": question}, quote_via=quote)


# ---------------------------------------------------------------- filters (pure)


class Filters(BaseModel):
    """The list's filters, read from the query string (an empty value is no filter)."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    provider: str | None = None
    eqf: Annotated[int, Field(ge=1, le=8)] | None = None
    ects_min: Annotated[float, Field(ge=0, le=480, allow_inf_nan=False)] | None = None
    ects_max: Annotated[float, Field(ge=0, le=480, allow_inf_nan=False)] | None = None
    price_max: Annotated[Decimal, Field(ge=0, le=10**9, allow_inf_nan=False)] | None = None
    currency: str | None = None
    delivery: str | None = None
    participation: str | None = None

    @property
    def active(self) -> bool:
        return any(v is not None for v in self.model_dump().values())

    @property
    def credential_only(self) -> bool:
        """Whether a filter that pathways do not have is set (ECTS, price, delivery, participation)."""
        return any(v is not None for v in (self.ects_min, self.ects_max, self.price_max, self.currency,
                                           self.delivery, self.participation))


_PROBLEMS = {
    "eqf": "The EQF level must be a whole number from 1 to 8",
    "ects_min": "The minimum ECTS must be a number from 0 to 480",
    "ects_max": "The maximum ECTS must be a number from 0 to 480",
    "price_max": "The maximum price must be an amount of 0 or more, e.g. 500 or 99.50",
}
FILTER_NAMES = list(Filters.model_fields)


class ParsedFilters(BaseModel):
    filters: Filters
    problems: list[str]
    raw: dict[str, str]  # what the form showed (bad values too, so the learner sees what to correct)


def _shown(value: str, limit: int = 40) -> str:
    """A value as the learner typed it, quoted, and shortened when long."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _choice_problem(value: str, known: list[str], what: str) -> str:
    choices = ", ".join(known) if len(known) <= 8 else f"{', '.join(known[:8])}, … (see the {what} list)"
    return f"{what} {_shown(value)} is not in the catalogue; choose one of: {choices}. That filter was left out."


def parse_filters(params: Mapping[str, str], catalogue: Catalogue) -> ParsedFilters:
    """The filters in ``params`` (a query string's), each bad one left out with a one-line problem."""
    raw = {name: str(params.get(name) or "").strip() for name in FILTER_NAMES}
    given = {name: value for name, value in raw.items() if value}
    problems: list[str] = []
    try:
        filters = Filters.model_validate(given)
    except ValidationError as exc:
        bad = {str(error["loc"][0]) for error in exc.errors()}
        problems += [f"{_PROBLEMS.get(name, name)} (got {_shown(given[name])}); that filter was left out." for name in
                     FILTER_NAMES if name in bad]
        filters = Filters.model_validate({k: v for k, v in given.items() if k not in bad})
    drop: dict[str, None] = {}
    if filters.provider is not None and filters.provider not in catalogue.providers:
        problems.append(_choice_problem(filters.provider, sorted(catalogue.providers), "Provider"))
        drop["provider"] = None
    currencies = sorted({c.price.currency for c in catalogue.credentials.values()})
    if filters.currency is not None and filters.currency.upper() not in currencies:
        problems.append(_choice_problem(filters.currency, currencies, "Currency"))
        drop["currency"] = None
    elif filters.currency is not None:
        filters = filters.model_copy(update={"currency": filters.currency.upper()})
        raw["currency"] = filters.currency
    for name, known, what in (("delivery", DELIVERY_MODES, "Delivery mode"),
                              ("participation", PARTICIPATIONS, "Participation")):
        value = getattr(filters, name)
        if value is not None and value not in known:
            problems.append(_choice_problem(value, known, what))
            drop[name] = None
    if filters.ects_min is not None and filters.ects_max is not None and filters.ects_min > filters.ects_max:
        problems.append(f"The minimum ECTS ({number(filters.ects_min)}) is above the maximum "
                        f"({number(filters.ects_max)}); those two filters were left out.")
        drop.update(ects_min=None, ects_max=None)
    if drop:
        filters = filters.model_copy(update=drop)
    return ParsedFilters(filters=filters, problems=problems, raw=raw)


def _stated(credential: Credential, field: str) -> bool:
    return field not in credential.unstated


def credential_matches(credential: Credential, filters: Filters) -> bool:
    """Whether ``credential`` passes every filter (a filtered value its entry does not state never passes)."""
    f = filters
    if f.provider is not None and credential.awarding_body != f.provider:
        return False
    if f.eqf is not None and not (_stated(credential, "eqf_level") and credential.eqf_level == f.eqf):
        return False
    if (f.ects_min is not None or f.ects_max is not None) and not _stated(credential, "ects"):
        return False
    if f.ects_min is not None and credential.ects < f.ects_min:
        return False
    if f.ects_max is not None and credential.ects > f.ects_max:
        return False
    if (f.price_max is not None or f.currency is not None) and not _stated(credential, "price"):
        return False
    if f.currency is not None and credential.price.currency != f.currency:
        return False
    if f.price_max is not None and credential.price.amount > f.price_max:
        return False
    if f.delivery is not None and credential.delivery_mode.value != f.delivery:
        return False
    return f.participation is None or (_stated(credential, "participation")
                                       and credential.participation.value == f.participation)


def matching_credentials(catalogue: Catalogue, filters: Filters) -> list[Credential]:
    """The credentials passing ``filters``, by title."""
    return sorted((c for c in catalogue.credentials.values() if credential_matches(c, filters)),
                  key=lambda c: (c.title.lower(), c.id))


def matching_pathways(catalogue: Catalogue, filters: Filters) -> list[Pathway]:
    """The pathways passing the filters pathways have (provider: the awarding body; EQF level), by title."""
    return sorted((p for p in catalogue.pathways.values()
                   if (filters.provider is None or p.awarding_body == filters.provider)
                   and (filters.eqf is None or p.eqf_level == filters.eqf)),
                  key=lambda p: (p.title.lower(), p.id))


# ---------------------------------------------------------------- view models


def _provider_name(catalogue: Catalogue, provider_id: str) -> str:
    provider: Provider | None = catalogue.providers.get(provider_id)
    return provider.name if provider is not None else provider_id


def _ref(catalogue: Catalogue, cid: str) -> dict[str, str]:
    credential = catalogue.credentials.get(cid)
    return {"id": cid, "title": credential.title if credential else cid, "href": page_link(cid)}


def _pathway_ref(catalogue: Catalogue, pathway: Pathway) -> dict[str, str]:
    return {"id": pathway.id, "title": pathway.title, "href": page_link(pathway.id, "pathway", catalogue)}


def credential_facts(catalogue: Catalogue, credential: Credential) -> dict[str, str]:
    """The short facts of a credential, as shown in the list and on its page (unstated ones say so)."""
    c = credential
    duration = (f"{c.duration.weeks} weeks, {number(c.duration.hours_per_week)} hours a week "
                f"({number(c.duration.total_hours)} hours in all)")
    if "duration" in c.unstated or "hours_per_week" in c.unstated:
        duration = NOT_STATED if "duration" in c.unstated else f"{c.duration.weeks} weeks"
    ects = number(c.ects) if _stated(c, "ects") else NOT_STATED
    if c.published_credit:
        ects = f"{ects} (published as {c.published_credit})"
    return {
        "Provider": _provider_name(catalogue, c.awarding_body),
        "Price": money(c.price.amount, c.price.currency) if _stated(c, "price") else NOT_STATED,
        "ECTS": ects,
        "EQF level": str(c.eqf_level) if _stated(c, "eqf_level") else NOT_STATED,
        "Duration": duration,
        "Delivery": words(c.delivery_mode),
        "Participation": words(c.participation) if _stated(c, "participation") else NOT_STATED,
    }


def _rule_text(rule: Any) -> str:
    kind = rule.rule
    if kind == "all_of":
        return "All of"
    if kind == "any_of":
        return "At least one of"
    if kind == "n_of_m":
        return f"At least {rule.n} of"
    if kind == "min_credits":
        return f"At least {number(rule.ects)} ECTS from" if rule.credentials else \
            f"At least {number(rule.ects)} ECTS from the pathway's credentials"
    return "Taken only after"  # prerequisite


def _rule_view(catalogue: Catalogue, pathway: Pathway, rule: Any) -> dict[str, Any]:
    if rule.rule == "prerequisite":
        return {"label": rule.label, "text": f"Within this pathway, {_ref(catalogue, rule.credential)['title']} "
                "is taken only after", "credentials": [_ref(catalogue, c) for c in rule.requires],
                "subject": _ref(catalogue, rule.credential)}
    ids = rule.credentials or pathway.credential_ids()
    return {"label": rule.label, "text": _rule_text(rule), "credentials": [_ref(catalogue, c) for c in ids],
            "subject": None}


def _rule_summary(catalogue: Catalogue, pathway: Pathway, rule: Any) -> str:
    """A rule in one line: its label, or what it asks for."""
    if rule.label:
        return str(rule.label)
    view = _rule_view(catalogue, pathway, rule)
    return f"{view['text']}: {', '.join(c['title'] for c in view['credentials'])}"


def _recognition_view(catalogue: Catalogue, rec: Any) -> dict[str, Any]:
    return {"text": f"{number(rec.ects)} ECTS towards {rec.towards}, recognised by "
                    f"{_provider_name(catalogue, rec.recognised_by)}",
            "conditions": rec.conditions, "credentials": [_ref(catalogue, c) for c in rec.credentials or []]}


def credential_view(catalogue: Catalogue, credential: Credential) -> dict[str, Any]:
    """Everything the credential page shows."""
    c = credential
    pathways = sorted(catalogue.pathways.values(), key=lambda p: p.title.lower())
    counts_towards = []
    for pathway in pathways:
        if c.id not in pathway.credential_ids():
            continue
        rules = [_rule_summary(catalogue, pathway, r) for r in pathway.requirements
                 if (r.rule == "prerequisite" and c.id in (r.credential, *r.requires))
                 or (r.rule != "prerequisite" and c.id in (r.credentials or pathway.credential_ids()))]
        counts_towards.append({**_pathway_ref(catalogue, pathway), "rules": rules})
    earned_by = [_pathway_ref(catalogue, p) for p in pathways if p.destination == c.id]
    leads_to = [_ref(catalogue, other.id) for other in sorted(catalogue.credentials.values(),
                                                               key=lambda o: o.title.lower())
                if c.id in other.prerequisites]
    recognitions = [_recognition_view(catalogue, r) for r in c.credit_recognition]
    for pathway in pathways:
        recognitions += [{**_recognition_view(catalogue, r), "pathway": _pathway_ref(catalogue, pathway)}
                         for r in pathway.credit_recognition if c.id in (r.credentials or [])]
    rubric = c.rubric
    return {
        "credential": c,
        "provider_country": country(provider.country) if (provider := catalogue.providers.get(c.awarding_body))
        else None,
        "provider_href": page_link(c.awarding_body, "provider"),
        "facts": credential_facts(catalogue, c),
        "more_facts": {k: v for k, v in {
            "Assessment": words(c.assessment_type) if _stated(c, "assessment_type") else NOT_STATED,
            "Identity check during assessment": words(c.id_verification),
            "Grading": c.grading,
            "Language": LANGUAGES.get(c.language, c.language) if _stated(c, "language") else NOT_STATED,
            "Issuer country": country(c.issuer_country),
            "Valid for": f"{c.valid_for_months} months" if c.valid_for_months else "Does not expire",
            "Quality assurance": c.quality_assurance,
        }.items() if v},
        "pass_rule": (f"A submission passes with at least {rubric.pass_threshold} of {rubric.max_points} points"
                      + (f" and at least {points(rubric.min_points_each)} on every criterion."
                         if rubric.min_points_each else ".")),
        "prerequisites": [_ref(catalogue, p) for p in c.prerequisites],
        "pathway_prerequisites": [
            {"pathway": _pathway_ref(catalogue, pathway), "credentials": [_ref(catalogue, r) for r in rule.requires]}
            for pathway in pathways for rule in pathway.requirements
            if rule.rule == "prerequisite" and rule.credential == c.id],
        "recommended": [_ref(catalogue, p) for p in c.recommended],
        "counts_towards": counts_towards,
        "earned_by": earned_by,
        "leads_to": leads_to,
        "recognitions": recognitions,
        "ask": ask_link(f"How much does {c.title} cost and how long does it take?"),
        "url": str(c.url) if c.url else None,
    }


def pathway_view(service: AssistantService, pathway: Pathway) -> dict[str, Any]:
    """Everything the pathway page shows; the cheapest route from nothing held is the planner's."""
    catalogue = service.catalogue
    ids = pathway.credential_ids()
    credentials = [{**_ref(catalogue, cid), "facts": credential_facts(catalogue, catalogue.credentials[cid])}
                   for cid in ids if cid in catalogue.credentials]
    listed = [catalogue.credentials[cid] for cid in ids if cid in catalogue.credentials]
    route, route_problem = None, None
    try:
        plan = service.plan([], pathway.id)
    except AssistantError as exc:
        plan, route_problem = None, str(exc)
    if plan is not None and plan.get("route"):
        r = plan["route"]
        route = {"credentials": [_ref(catalogue, s["credential_id"]) for s in r["steps"]],
                 "ects": number(r["total_ects"]),
                 "price": " + ".join(money(Decimal(a), cur) for cur, a in sorted(r["total_price"].items())),
                 "weeks": r["total_weeks"], "mixed_currencies": r["mixed_currencies"]}
    elif plan is not None:
        route_problem = plan.get("error")
    minimum = [number(rule.ects) for rule in pathway.requirements if rule.rule == "min_credits"]
    return {
        "pathway": pathway,
        "provider": catalogue.providers.get(pathway.awarding_body),
        "provider_href": page_link(pathway.awarding_body, "provider"),
        "rules": [_rule_view(catalogue, pathway, r) for r in pathway.requirements],
        "credentials": credentials,
        "listed_ects": number(sum(c.ects for c in listed)),
        "minimum_ects": minimum,
        "route": route,
        "route_problem": route_problem,
        "destination": _ref(catalogue, pathway.destination) if pathway.destination else None,
        "recognitions": [_recognition_view(catalogue, r) for r in pathway.credit_recognition],
        "ask": ask_link(f"What do I still need for {pathway.title}?"),
    }


def list_view(catalogue: Catalogue, parsed: ParsedFilters) -> dict[str, Any]:
    """Everything the list page shows."""
    f = parsed.filters
    credentials = [{**_ref(catalogue, c.id), "summary": c.summary, "facts": credential_facts(catalogue, c)}
                   for c in matching_credentials(catalogue, f)]
    pathways = [{**_pathway_ref(catalogue, p), "summary": p.summary, "leads_to": p.leads_to,
                 "provider": _provider_name(catalogue, p.awarding_body),
                 "count": len([c for c in p.credential_ids() if c in catalogue.credentials])}
                for p in matching_pathways(catalogue, f)]
    provider = catalogue.providers.get(f.provider) if f.provider else None
    return {
        "provider": provider and {
            "name": provider.name, "description": provider.description, "facts": {k: v for k, v in {
                "Kind": words(provider.kind), "Type": provider.organization_type,
                "Where": ", ".join(filter(None, (provider.locality, country(provider.country)))),
                "Quality assurance": provider.quality_assurance}.items() if v},
            "website": str(provider.website) if provider.website else None},
        "raw": parsed.raw,
        "problems": parsed.problems,
        "filters": f,
        "credentials": credentials,
        "pathways": pathways,
        "total_credentials": len(catalogue.credentials),
        "total_pathways": len(catalogue.pathways),
        "providers": sorted(((p.id, p.name) for p in catalogue.providers.values()), key=lambda x: x[1].lower()),
        "levels": [(str(level), f"Level {level}") for level in sorted(
            {c.eqf_level for c in catalogue.credentials.values()}
            | {p.eqf_level for p in catalogue.pathways.values() if p.eqf_level})],
        "currencies": [(code, code) for code in sorted({c.price.currency for c in catalogue.credentials.values()})],
        "deliveries": [(mode, words(mode)) for mode in DELIVERY_MODES],
        "participations": [(form, words(form)) for form in PARTICIPATIONS],
    }


# ---------------------------------------------------------------- HTTP routes


def render(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``templates/<template>`` as an HTML response."""
    html = ENV.get_template(template).render(catalogue_path=CATALOGUE_PATH, **context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-cache"})


def catalogue_routes(service: AssistantService) -> list[BaseRoute]:
    """The catalogue pages (see module docstring) for the app to serve ahead of Gradio's own."""

    def catalogue_list(request: Request) -> Response:
        parsed = parse_filters(request.query_params, service.catalogue)
        return render("catalogue_list.html.j2", status_code=400 if parsed.problems else 200,
                      **list_view(service.catalogue, parsed))

    def catalogue_entry(entity_id: str, request: Request) -> Response:
        catalogue = service.catalogue
        entity_id = entity_id.strip("/")
        wants_pathway = request.query_params.get("kind") == "pathway"
        if entity_id in catalogue.credentials and not wants_pathway:
            view = credential_view(catalogue, catalogue.credentials[entity_id])
            view["also_pathway"] = (page_link(entity_id, "pathway", catalogue)
                                    if entity_id in catalogue.pathways else None)
            return render("catalogue_credential.html.j2", page_url=str(request.url), **view)
        if entity_id in catalogue.pathways:
            return render("catalogue_pathway.html.j2", page_url=str(request.url),
                          **pathway_view(service, catalogue.pathways[entity_id]))
        close = difflib.get_close_matches(entity_id, [*catalogue.credentials, *catalogue.pathways], n=3, cutoff=0.6)
        suggestions = [_ref(catalogue, i) if i in catalogue.credentials
                       else _pathway_ref(catalogue, catalogue.pathways[i]) for i in dict.fromkeys(close)]
        return render("catalogue_missing.html.j2", status_code=404, entity_id=entity_id, suggestions=suggestions)

    get = ["GET"]
    return [
        APIRoute(CATALOGUE_PATH, catalogue_list, methods=get, include_in_schema=False),
        APIRoute(CATALOGUE_PATH + "/", catalogue_list, methods=get, include_in_schema=False),
        APIRoute(CATALOGUE_PATH + "/{entity_id:path}", catalogue_entry, methods=get, include_in_schema=False),
    ]

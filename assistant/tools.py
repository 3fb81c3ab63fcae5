"""One tool per structured question: the planner's result rendered as the reply, figures untouched.

Every function takes the catalogue, the reading's targets and the learner's holdings and returns a
:class:`ToolAnswer` (English text, cited ids, the planner's raw result, what the answer was about).
Figures in the text are the planner's (:mod:`assistant.planner`); the model may translate or phrase
around them later, and :mod:`assistant.service` checks it kept every one.

Why one module (~480 lines): one renderer per planner tool, each a short method sharing the same name, money and
unit formatting; the figures themselves come from the pure planner.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from assistant import planner
from assistant.linking import resolve
from assistant.memory import Subject
from assistant.reading import Facet, Reading, Tool
from knowledge.schema import Catalogue


class ToolAnswer(BaseModel):
    text: str
    cited: list[str] = Field(default_factory=list)
    planner: dict[str, Any] | None = None
    subject: Subject | None = None
    refused: bool = False


def money(totals: dict[str, Decimal]) -> str:
    if not totals:
        return "nothing more to pay"
    return " + ".join(f"{currency} {amount:,.2f}".replace(".00", "") for currency, amount in sorted(totals.items()))


def price(amount: Decimal, currency: str) -> str:
    return "free" if not amount else f"{currency} {amount:,.2f}".replace(".00", "")


def fmt(x: float) -> str:
    return f"{x:g}"


class Tools:
    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue

    # ------------------------------------------------------------------ names
    def title(self, entity_id: str) -> str:
        if entity_id in self.catalogue.credentials:
            return self.catalogue.credentials[entity_id].title
        if entity_id in self.catalogue.pathways:
            return self.catalogue.pathways[entity_id].title
        return self.catalogue.providers[entity_id].name if entity_id in self.catalogue.providers else entity_id

    def named(self, entity_id: str) -> str:
        return f"{self.title(entity_id)} ({entity_id})"

    def names(self, ids: list[str]) -> str:
        return ", ".join(self.named(i) for i in ids) if ids else "none"

    def _ids_in(self, text: str | None) -> str:
        if not text:
            return ""
        return re.sub(r"[a-z0-9]+(?:-[a-z0-9]+)+",
                      lambda m: self.named(m[0]) if m[0] in self.catalogue.credentials else m[0], text)

    # ------------------------------------------------------------------ targets
    def credentials_of(self, reading: Reading) -> list[str]:
        out = []
        for entity_id in reading.about:
            if entity_id in self.catalogue.credentials:
                out.append(entity_id)
            elif entity_id in self.catalogue.pathways and self.catalogue.pathways[entity_id].destination:
                out.append(self.catalogue.pathways[entity_id].destination or "")
        return list(dict.fromkeys(out))

    def pathway_of(self, reading: Reading) -> str | None:
        """The pathway a question is about: named, or earning a named credential."""
        for entity_id in reading.about:
            if entity_id in self.catalogue.pathways:
                return entity_id
        for entity_id in reading.about:
            earning = planner.pathways_earning(self.catalogue, entity_id) if entity_id in self.catalogue.credentials \
                else []
            if len(earning) >= 1:
                return earning[0].pathway_id
        return None

    def which_pathway(self) -> ToolAnswer:
        options = ", ".join(self.named(p) for p in self.catalogue.pathways)
        return ToolAnswer(text=f"Which pathway do you mean? The catalogue has: {options}.",
                          cited=list(self.catalogue.pathways))

    # ------------------------------------------------------------------ facts
    def facts(self, reading: Reading) -> ToolAnswer | None:
        ids = self.credentials_of(reading)
        if not ids:
            return None
        facets = reading.facets or [Facet.price, Facet.duration, Facet.ects]
        lines, answered = [], 0
        for cid in ids[:3]:
            c = self.catalogue.credentials[cid]
            provider = self.catalogue.providers.get(c.awarding_body)
            parts, unstated = [], []
            for facet in facets:
                if facet is Facet.ects and c.published_credit:
                    parts.append(f"is published as {c.published_credit}; the catalogue does not give ECTS")
                    continue
                if _UNSTATED.get(facet, "-") in c.unstated:
                    unstated.append(_FACET_WORDS[facet])
                    continue
                part = self._fact(c, facet, provider)
                if part:
                    parts.append(part)
            sentence = f"{c.title} ({cid}) " + "; ".join(parts) + "." if parts else ""
            if unstated:
                sentence += (" " if sentence else "") + (f"The catalogue does not give the {' or the '.join(unstated)} "
                                                         f"of {c.title} ({cid}).")
            answered += bool(parts)
            lines.append(sentence)
        return ToolAnswer(text="\n".join(lines), cited=ids[:3], refused=not answered,
                          subject=Subject(kind="credential", tool=Tool.facts.value, ids=ids[:3]))

    def _fact(self, c: Any, facet: Facet, provider: Any) -> str | None:
        if facet is Facet.price:
            return "is free" if not c.price.amount else f"costs {price(c.price.amount, c.price.currency)}"
        if facet is Facet.duration:
            if "hours_per_week" in c.unstated:
                return f"takes {c.duration.weeks} weeks (the catalogue does not give the hours)"
            return (f"takes {c.duration.weeks} weeks at about {fmt(c.duration.hours_per_week)} hours a week "
                    f"({fmt(round(c.duration.total_hours))} hours)")
        if facet is Facet.ects:
            return f"carries {fmt(c.ects)} ECTS"
        if facet is Facet.eqf:
            return f"is at EQF level {c.eqf_level}"
        if facet is Facet.prerequisites:
            said = "requires " + self.names(c.prerequisites) + " first" if c.prerequisites else "has no prerequisites"
            if c.recommended:
                said += f" ({self.names(c.recommended)} recommended beforehand, not required)"
            return said
        if facet in (Facet.provider, Facet.country) and provider is not None:
            where = planner.country_name(provider.country)
            town = f"{provider.locality}, " if provider.locality else ""
            return f"is awarded by {provider.name}, based in {town}{where} ({provider.country})"
        if facet is Facet.language:
            return f"is taught in {_LANGUAGES.get(c.language, c.language)}"
        if facet is Facet.assessment:
            return (f"is assessed by {c.assessment_type.value.replace('_', ' ')} assessment against a "
                    f"{len(c.rubric.criteria)}-criterion rubric")
        if facet is Facet.delivery:
            where = _PARTICIPATION.get(c.participation.value, c.participation.value)
            town = ""
            if c.participation.value != "online" and provider is not None and provider.locality:
                town = f" in {provider.locality}"
            return f"is delivered {where}{town}, {c.delivery_mode.value.replace('_', ' ')}"
        return None

    def _place(self, provider_id: str, facts: Any) -> str:
        town = self.catalogue.providers[provider_id].locality
        return f"{town + ', ' if town else ''}{facts.country_name} ({facts.country_code})"

    def cheapest_of(self, ids: list[str], objective: str) -> ToolAnswer | None:
        """The cheapest (or shortest) of a list the previous answer gave."""
        creds = [self.catalogue.credentials[i] for i in ids if i in self.catalogue.credentials]
        if len(creds) < 2:
            return None
        if objective == "price":
            best = min(creds, key=lambda c: (c.price.amount, c.duration.total_hours, c.id))
            figure = price(best.price.amount, best.price.currency)
            text = f"Of those, the cheapest is {self.named(best.id)} at {figure}."
        else:
            best = min(creds, key=lambda c: (c.duration.weeks, c.price.amount, c.id))
            text = f"Of those, the shortest is {self.named(best.id)} at {best.duration.weeks} weeks."
        return ToolAnswer(text=text, cited=[best.id], subject=Subject(kind="credential", tool="facts", ids=[best.id]))

    def provider(self, reading: Reading) -> ToolAnswer | None:
        provider_ids = [e for e in reading.about if e in self.catalogue.providers]
        ids = self.credentials_of(reading)
        lines, cited = [], []
        for cid in ids[:2]:
            facts = planner.provider_of(self.catalogue, cid)
            lines.append(f"{self.named(cid)} is offered by {facts.name}, {_kind_words(facts)} "
                         f"based in {self._place(facts.provider_id, facts)}.")
            cited += [cid, facts.provider_id]
        for pid in provider_ids[:2]:
            facts = planner.provider_facts(self.catalogue, pid)
            offered = ", ".join(self.named(c.credential_id) for c in facts.credentials)
            lines.append(f"{facts.name} is {_kind_words(facts)} based in "
                         f"{self._place(pid, facts)}; it awards {offered}.")
            cited.append(pid)
        if not lines:
            return None
        return ToolAnswer(text="\n".join(lines), cited=cited,
                          subject=Subject(kind="credential", tool=Tool.provider.value, ids=ids[:2]))

    # ------------------------------------------------------------------ prerequisites
    def prerequisites(self, reading: Reading) -> ToolAnswer | None:
        ids = self.credentials_of(reading)
        if not ids:
            return None
        lines, cited = [], list(ids[:2])
        for cid in ids[:2]:
            pre = planner.prerequisites(self.catalogue, cid)
            if not pre.direct:
                lines.append(f"{self.named(cid)} has no prerequisites: you can start it without holding anything.")
            else:
                direct = [r.credential_id for r in pre.direct]
                lines.append(f"{self.named(cid)} requires {self.names(direct)} first.")
                chain = [r.credential_id for r in pre.all_in_order]
                if len(chain) > len(direct):
                    lines.append(f"Everything to take before it, in order: {self.names(chain)}.")
                cited += chain
            for extra in pre.pathway_specific:
                more = [r.credential_id for r in extra.direct]
                lines.append(f"Within the {extra.pathway_title} it also requires {self.names(more)}.")
            if pre.recommended:
                advised = [r.credential_id for r in pre.recommended]
                lines.append(f"Recommended beforehand, but not required: {self.names(advised)}.")
                cited += advised
        return ToolAnswer(text="\n".join(lines), cited=cited, planner={"tool": "prerequisites"},
                          subject=Subject(kind="credential", tool=Tool.prerequisites.value, ids=ids[:2]))

    def required_by(self, reading: Reading) -> ToolAnswer | None:
        ids = self.credentials_of(reading)
        if not ids:
            return None
        cid = ids[0]
        result = planner.required_by(self.catalogue, cid)
        direct = [r.credential_id for r in result.direct]
        indirect = [r.credential_id for r in result.indirect]
        if not direct and not result.pathway_specific:
            text = f"No credential in the catalogue requires {self.named(cid)} first."
        else:
            text = f"{len(direct)} credential(s) require {self.named(cid)} first: {self.names(direct)}."
            if indirect:
                text += f" Through those, it is also needed before {self.names(indirect)}."
            for p in result.pathway_specific:
                text += f" In the {self.title(p.pathway_id)}, {self.named(p.credential_id)} requires it."
        if result.pathways:
            text += " It counts towards: " + ", ".join(self.named(p.pathway_id) for p in result.pathways) + "."
        return ToolAnswer(text=text, cited=[cid, *direct, *indirect], planner=result.model_dump(mode="json"),
                          subject=Subject(kind="list", tool=Tool.required_by.value, ids=direct + indirect))

    def can_enrol(self, reading: Reading, held: list[str]) -> ToolAnswer | None:
        ids = self.credentials_of(reading)
        if not ids:
            return None
        cid = ids[0]
        result = planner.eligibility(self.catalogue, cid, held)
        basis = ("holding nothing" if not held else f"holding {self.names(held)}")
        if result.already_held:
            text = f"You already hold {self.named(cid)}."
        elif result.eligible:
            text = f"Yes: {basis}, you can enrol in {self.named(cid)}; it has no unmet prerequisites."
            advised = [c for c in self.catalogue.credentials[cid].recommended if c not in held]
            if advised:
                text += f" {self.names(advised)} is recommended first, but not required."
        else:
            unmet = [r.credential_id for r in result.unmet]
            steps = [s.credential_id for s in result.still_to_take]
            t = result.totals
            text = (f"No: {basis}, you cannot enrol in {self.named(cid)} yet. It requires {self.names(unmet)} first. "
                    f"To take first, in order: {self.names(steps)} (total {money(t.total_price)}, "
                    f"{t.total_weeks} weeks, about {fmt(round(t.total_hours))} hours).")
        return ToolAnswer(text=text, cited=[cid, *[r.credential_id for r in result.unmet]],
                          planner=result.model_dump(mode="json"),
                          subject=Subject(kind="credential", tool=Tool.can_enrol.value, ids=[cid]))

    # ------------------------------------------------------------------ pathways
    def route_sentence(self, route: planner.Route, lead: str) -> str:
        if not route.steps:
            return f"{lead}: nothing more is needed."
        names = ", ".join(f"{s.title} ({s.credential_id})" for s in route.steps)
        text = (f"{lead} takes {len(route.steps)} more credential(s): {names}. Total {money(route.total_price)}, "
                f"{fmt(route.total_ects)} ECTS, {route.total_weeks} weeks of study "
                f"(about {fmt(round(route.total_hours))} hours) if taken one after another.")
        if route.mixed_currencies:
            text += " Prices are in different currencies and are not converted."
        credentials = self.catalogue.credentials
        unpriced = [s.credential_id for s in route.steps if "price" in credentials[s.credential_id].unstated]
        if unpriced:
            text += f" The catalogue gives no price for {self.names(unpriced)}, so the total leaves it out."
        return text

    def route(self, reading: Reading, held: list[str], objective: str) -> ToolAnswer | None:
        target = self.pathway_of(reading)
        if target is None:
            ids = self.credentials_of(reading)
            if not ids:
                return None
            target = ids[0]
        try:
            route = planner.route_for_target(self.catalogue, target, held, objective=objective)
        except planner.ImpossibleTarget as exc:
            return ToolAnswer(text=f"The {self.title(target)} cannot be completed: {exc}", cited=[target])
        word = "cheapest" if objective == "price" else "fastest"
        pathway = self.catalogue.pathways.get(target)
        earns = pathway.destination if pathway is not None else None
        goal = f"the {self.title(target)}" + (f", which earns {self.named(earns)}," if earns else "")
        lead = f"The {word} route to {goal}"
        tool = Tool.cheapest if objective == "price" else Tool.fastest
        return ToolAnswer(text=self.route_sentence(route, lead),
                          cited=[target, *([earns] if earns else []), *[s.credential_id for s in route.steps]],
                          planner={"route": route.model_dump(mode="json")},
                          subject=Subject(kind="route", tool=tool.value, ids=[target], objective=objective))

    def still_needed(self, reading: Reading, held: list[str]) -> ToolAnswer | None:
        target = self.pathway_of(reading)
        if target is None:
            return None
        pathway = self.catalogue.pathways[target]
        progress = planner.pathway_progress(self.catalogue, target, held)
        held_note = (f"You hold: {self.names(held)}." if held
                     else "You have not told me about any credentials you hold yet.")
        lines = []
        goal = self.named(pathway.destination) if pathway.destination else f"the {pathway.title}"
        if progress.complete:
            lines.append(f"You have completed {goal}. {held_note}")
        else:
            lines.append(f"For {goal}: {held_note}")
            for rule, spec in zip(progress.rules, pathway.requirements, strict=True):
                mark = "met" if rule.satisfied else f"still needed: {self._ids_in(rule.still_needed)}"
                lines.append(f"- {spec.label or rule.description} → {mark}")
        route = None
        try:
            route = planner.cheapest_route(self.catalogue, target, held)
            if not progress.complete:
                lines.append(self.route_sentence(route, "The cheapest way to finish"))
        except planner.ImpossibleTarget as exc:
            lines.append(f"It cannot be completed: {exc}")
        result = {"progress": progress.model_dump(mode="json"),
                  "route": route.model_dump(mode="json") if route else None}
        cited = [target, *([pathway.destination] if pathway.destination else []),
                 *[s.credential_id for s in (route.steps if route else [])]]
        return ToolAnswer(text="\n".join(lines), cited=cited, planner=result,
                          subject=Subject(kind="route", tool=Tool.cheapest.value, ids=[target], objective="price"))

    def order(self, reading: Reading, held: list[str]) -> ToolAnswer | None:
        target = self.pathway_of(reading)
        if target is None:
            return None
        try:
            route = planner.cheapest_route(self.catalogue, target, held)
        except planner.ImpossibleTarget as exc:
            return ToolAnswer(text=f"No valid order exists: {exc}", cited=[target])
        if not route.steps:
            return ToolAnswer(text=f"You already meet every requirement of the {self.title(target)}.", cited=[target])
        lines = [f"A study order for the {self.title(target)} that respects every prerequisite:"]
        for n, step in enumerate(route.steps, 1):
            pre = self.catalogue.credentials[step.credential_id].prerequisites
            after = f" (after {', '.join(pre)})" if pre else ""
            lines.append(f"{n}. {step.title} ({step.credential_id}){after}")
        return ToolAnswer(text="\n".join(lines), cited=[target, *[s.credential_id for s in route.steps]],
                          planner={"route": route.model_dump(mode="json")},
                          subject=Subject(kind="route", tool=Tool.cheapest.value, ids=[target], objective="price"))

    def credit(self, reading: Reading, held: list[str]) -> ToolAnswer | None:
        """Credit recognised towards larger qualifications, for every pathway or credential the question names;
        a qualification the question names as the goal ("towards the bachelor") narrows the list."""
        # the catalogue credential each recognition counts towards, where it is one (resolved once per name)
        standing = [c for c in self.catalogue.credentials.values() if c.credit_recognition]
        goal_of = {r.towards: resolve(self.catalogue, r.towards, kinds=("credential",))
                   for entry in [*self.catalogue.pathways.values(), *standing] for r in entry.credit_recognition}
        degree_ids = {cid for cid in reading.about if cid in self.catalogue.credentials and cid in goal_of.values()}
        targets: list[str] = []
        for entity_id in reading.about:
            if entity_id in degree_ids:
                continue
            pathways = [entity_id] if entity_id in self.catalogue.pathways else [
                p.pathway_id for p in planner.pathways_earning(self.catalogue, entity_id)] or [entity_id]
            targets += [t for t in pathways if t not in targets]
        if not targets and degree_ids:  # "what counts towards the bachelor?": every recognition towards it
            targets = [p.id for p in self.catalogue.pathways.values() if p.credit_recognition]
            targets += [c.id for c in standing]
        if not targets:
            return None
        seen: set[tuple] = set()
        recognitions: list[planner.Recognition] = []
        for target in targets:
            result = planner.credit_for(self.catalogue, target, held)
            found = result.recognitions
            if not found and target in self.catalogue.credentials:
                # a single credential that earns nothing itself: the recognitions of the pathways it belongs to
                found = [r for p in self.catalogue.pathways.values() if target in p.credential_ids()
                         for r in planner.recognised_credit(self.catalogue, p.id, held)]
            for rec in found:
                key = (rec.pathway_id, rec.recognised_by, rec.towards, rec.ects, tuple(rec.requires))
                if key not in seen:
                    seen.add(key)
                    recognitions.append(rec)
        if degree_ids:
            recognitions = [r for r in recognitions if goal_of.get(r.towards) in degree_ids]
        lines = []
        if not recognitions:
            lines.append("The catalogue lists no credit recognition for "
                         + ", ".join(f"the {self.title(t)}" for t in targets) + ".")
        cited = list(targets)
        for rec in recognitions:
            source = rec.pathway_id or targets[0]
            goal = self.catalogue.pathways[source].destination if source in self.catalogue.pathways else None
            scope = (f"for {', '.join(self.title(c) for c in rec.requires)}" if rec.requires
                     else f"for completing the {self.title(goal or source)}")
            state = "you have earned this" if rec.earned else "not yet earned"
            lines.append(f"- {rec.recognised_by_name} recognises {fmt(rec.ects)} ECTS towards {rec.towards} "
                         f"{scope} ({state}).")
            cited += [c for c in (goal, goal_of.get(rec.towards)) if c]
        by_goal: dict[str, float] = {}
        for rec in recognitions:
            by_goal[rec.towards] = by_goal.get(rec.towards, 0.0) + rec.ects
        for towards, total in by_goal.items():
            if sum(1 for r in recognitions if r.towards == towards) > 1:
                lines.append(f"Together: {fmt(total)} ECTS towards {towards}, if the recognitions can be combined "
                             "(see each provider's conditions).")
        for target in targets:
            if target in self.catalogue.pathways:
                progress = planner.pathway_progress(self.catalogue, target, held)
                which = "pathway" if len(targets) == 1 else self.title(target)
                lines.append(f"Credentials you hold that count towards the {which}: "
                             f"{fmt(progress.ects_held_towards)} ECTS.")
        return ToolAnswer(text="\n".join(lines), cited=cited, planner={"recognitions": [
            r.model_dump(mode="json") for r in recognitions]},
                          subject=Subject(kind="pathway", tool=Tool.credit.value, ids=targets[:1]))

    def shared(self) -> ToolAnswer:
        shared = planner.shared_credentials(self.catalogue)
        lines = [f"{len(shared)} credentials count towards more than one pathway:"]
        for cid, paths in shared.items():
            lines.append(f"- {self.named(cid)}: {len(paths)} pathways — {', '.join(self.title(p) for p in paths)}")
        return ToolAnswer(text="\n".join(lines), cited=list(shared), planner={"shared": shared},
                          subject=Subject(kind="list", tool=Tool.shared.value, ids=list(shared)))

    def compare(self, reading: Reading) -> ToolAnswer | None:
        ids = self.credentials_of(reading)
        if len(ids) < 2:
            return None
        result = planner.compare(self.catalogue, ids[0], ids[1])
        a, b = result.a, result.b
        lines = [f"{self.named(x.credential_id)}: {price(x.price, x.currency)}, {fmt(x.ects)} ECTS, EQF level "
                 f"{x.eqf_level}, {x.weeks} weeks (about {fmt(round(x.hours))} hours), from {x.provider_name}."
                 for x in (a, b)]
        if result.cheaper and result.price_difference is not None:
            gap = price(abs(result.price_difference), a.currency)
            lines.append(f"{self.title(result.cheaper)} is cheaper by {gap}.")
        elif result.same_currency:
            lines.append("They cost the same.")
        elif result.price_note:
            lines.append(result.price_note)
        if result.ects_difference:
            more = a if result.ects_difference > 0 else b
            lines.append(f"{self.title(more.credential_id)} carries {fmt(abs(result.ects_difference))} ECTS more.")
        if result.weeks_difference:
            longer = a if result.weeks_difference > 0 else b
            lines.append(f"{self.title(longer.credential_id)} takes {abs(result.weeks_difference)} weeks longer.")
        return ToolAnswer(text="\n".join(lines), cited=ids[:2], planner=result.model_dump(mode="json"),
                          subject=Subject(kind="list", tool=Tool.compare.value, ids=ids[:2]))


def _kind_words(facts: planner.ProviderFacts) -> str:
    """"a university provider"; with the publisher's own type where it says more: "a training provider
    (an industry provider)"."""
    kind = f"{_article(facts.kind)} {facts.kind} provider"
    own = facts.organization_type
    if not own or own.lower() in (facts.kind, f"{facts.kind} provider"):
        return kind
    return f"{_article(own)} {own} ({kind})"


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


_UNSTATED = {Facet.price: "price", Facet.ects: "ects", Facet.eqf: "eqf_level", Facet.duration: "duration",
             Facet.assessment: "assessment_type", Facet.delivery: "participation", Facet.language: "language"}
_FACET_WORDS = {Facet.price: "price", Facet.ects: "ECTS credits", Facet.eqf: "EQF level", Facet.duration: "duration",
                Facet.assessment: "type of assessment", Facet.delivery: "form of participation",
                Facet.language: "language"}
_PARTICIPATION = {"onsite": "on site (in person)", "online": "online", "blended": "blended (online and in person)"}
_LANGUAGES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian", "nl": "Dutch",
              "pl": "Polish", "pt": "Portuguese"}

"""How the grader tabs show the grader's views: rubric, a learner's submissions, evidence, the AI grade.

Pure functions of the views :class:`grader.service.GraderService` returns; untrusted text goes through
:func:`stackwise.web.text.md_text`, so evidence, model output and comments never become markup.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from grader.api import (
    MAX_FILE_BYTES,
    TEXT_TYPES,
    Assessor,
    QueueItem,
    Status,
    SubmissionDetail,
    SubmissionView,
    reason_sentences,
)
from stackwise.web.text import md_text

MAX_CRITERIA = 6  # knowledge.schema.Rubric allows 3..6 criteria: one override slot each
POLL_SECONDS = 5.0  # "My submissions" refreshes this often while something is still being graded
SHOWN_SUBMISSIONS = 20
ACCEPTED_SUFFIXES = sorted({*TEXT_TYPES, ".pdf", ".docx"})


LEARNER_STATUS = {
    Status.received: "Received — waiting to be graded.",
    Status.grading: "Being graded by the AI grader (this can take a few minutes).",
    Status.review: "Waiting for an assessor to check the grade.",
    Status.passed: "Passed — ready to issue.",
    Status.failed: "Not passed.",
    Status.approved: "Approved by an assessor — ready to issue.",
    Status.rejected: "Not approved by the assessor.",
    Status.resubmission_requested: "The assessor asks for a resubmission: send new evidence for this credential.",
    Status.error: "Could not be graded.",
}
NO_ASSESSOR = ("This instance has no assessor yet; your submission is kept and will be reviewed when one is set "
               "up.")
QUEUE_COLUMNS = ["Submission", "Credential", "Why it needs review", "Waiting"]  # "3 h; AI 4/12; claimed by …"
QUEUE_WIDTHS = ["14%", "20%", "44%", "22%"]  # together 100%: the table fits without side-scrolling


# --------------------------------------------------------------------------------------------------
# Plain words: quotes, markdown leftovers

_QUOTE_PAIRS = {'"': '"', "'": "'", "“": "”", "‘": "’", "„": "“", "«": "»", "”": "”"}
_STRONG = re.compile(r"(\*\*|__|`+)")  # bold markers and code ticks carried over from a Markdown file
_EMPHASIS = re.compile(r"(?<![\w*])[*_](?=\S)([^*_\n]*?\S)[*_](?![\w*])")  # *word* or _word_
_LINE_MARK = re.compile(r"(?m)^\s*(?:#{1,6}\s+|>\s*|[-*+]\s+)")  # heading, blockquote and bullet marks


def plain(text: Any) -> str:
    """``text`` without Markdown markup left over from the evidence (``**bold**``, ``_em_``, `` `code` ``,
    heading/bullet marks), whitespace collapsed. Not escaped: pass the result through :func:`md_text`."""
    text = _LINE_MARK.sub("", str(text or ""))
    text = _EMPHASIS.sub(r"\1", _STRONG.sub("", text))
    return " ".join(text.split())


def unquote(text: str) -> str:
    """``text`` without the quotation marks it came wrapped in (so a quote is not shown as “"…"”)."""
    text = text.strip()
    while len(text) >= 2 and _QUOTE_PAIRS.get(text[0]) == text[-1]:
        text = text[1:-1].strip()
    return text


def render_quote(quote: Any) -> str:
    """A verbatim quote from the evidence as one Markdown blockquote line, in typographic quotation marks,
    without Markdown leftovers or doubled quotation marks, escaped."""
    return f"> “{md_text(unquote(plain(quote)))}”"


def render_reasons(codes: Sequence[str], titles: Mapping[str, str]) -> str:
    """The review reasons as a Markdown list of sentences (:func:`grader.api.reason_sentences`), escaped."""
    return "\n".join(f"- {md_text(r)}" for r in reason_sentences(codes, titles))


# --------------------------------------------------------------------------------------------------
# Rendering (untrusted text is escaped: evidence, model output and comments never become markup)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _age(seconds: float) -> str:
    minutes = int(max(0.0, seconds) // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes // (24 * 60)} d"


def _points(total: float | None, maximum: float | None) -> str:
    return f"{total:g}/{maximum:g}" if total is not None and maximum is not None else "—"


@dataclass(frozen=True)
class _Criterion:
    """One rubric criterion as the UI shows it."""

    id: str
    title: str
    levels: dict[str, tuple[str, int | None]] = field(default_factory=dict)  # level id -> (label, points)

    def level(self, level_id: str | None) -> str:
        if level_id is None:
            return "—"
        label, points = self.levels.get(level_id, (level_id, None))
        return f"{label} ({points} pt{'' if points == 1 else 's'})" if points is not None else label


def _criteria(catalogue: Any, credential_id: str, detail: SubmissionDetail | None = None) -> list[_Criterion]:
    """The credential's rubric criteria; for a credential no longer in the catalogue, those of the AI grade."""
    credential = catalogue.credentials.get(credential_id)
    if credential is not None:
        return [_Criterion(c.id, c.title, {lv.id: (lv.label, lv.points) for lv in c.levels})
                for c in credential.rubric.criteria]
    grade = detail.grades[-1] if detail is not None and detail.grades else None
    return [_Criterion(c.criterion_id, c.criterion_id,
                       {lv: (lv, None) for lv in [*c.distribution, c.level_id]})
            for c in (grade.criteria if grade else [])]


def _credential_label(catalogue: Any, credential_id: str) -> str:
    credential = catalogue.credentials.get(credential_id)
    return f"{credential.title} ({credential_id})" if credential is not None else credential_id


def render_rubric(catalogue: Any, credential_id: str | None) -> str:
    """What is assessed for a credential: its criteria and level descriptors, and the pass mark."""
    credential = catalogue.credentials.get(credential_id or "")
    if credential is None:
        return "Choose a credential to see what is assessed."
    rubric = credential.rubric
    maximum = sum(max(lv.points for lv in c.levels) for c in rubric.criteria)
    lines = [f"**{md_text(credential.title)}** is assessed on {len(rubric.criteria)} criteria. "
             f"You pass with at least {rubric.pass_threshold} of {maximum} points"
             + (f" and at least {rubric.min_points_each} point(s) on every criterion." if rubric.min_points_each
                else ".")]
    for number, criterion in enumerate(rubric.criteria, 1):
        lines += ["", f"**{number}. {md_text(criterion.title)}** — {md_text(criterion.description)}", "",
                  "| Level | Points | What it looks like |", "|---|---|---|"]
        lines += [f"| {md_text(lv.label)} | {lv.points} | {md_text(lv.descriptor)} |" for lv in criterion.levels]
    lines += ["", f"Files: {', '.join(ACCEPTED_SUFFIXES)} (up to {MAX_FILE_BYTES // 1_048_576} MB each). "
                  "Or paste the text instead. Links are recorded, not opened: put what matters in a file, the "
                  "pasted text or the reflective statement."]
    return "\n".join(lines)


def render_submissions(catalogue: Any, views: Sequence[SubmissionView],
                       review_notes: Mapping[str, str] | None = None) -> str:
    """A learner's own submissions, newest first: status, points, and the final level per criterion.

    ``review_notes``: submission id -> what happens next for one in review (the waiting-time estimate, or that
    this instance has no assessor yet); without one the plain status is shown."""
    if not views:
        return "You have no submissions yet."
    parts = []
    for view in views[:SHOWN_SUBMISSIONS]:
        status = LEARNER_STATUS[view.status]
        if view.status is Status.review and review_notes and view.id in review_notes:
            status = review_notes[view.id]
        if view.status is Status.error and view.error_message:
            status += f" {md_text(view.error_message)}"
        lines = [f"#### {md_text(_credential_label(catalogue, view.credential_id))}",
                 f"Submission `{view.id}` · sent {_when(view.created_at)} · status **{view.status.value}**"
                 + (f" · files: {md_text(', '.join(view.filenames))}" if view.filenames else ""),
                 "", status]
        if view.total_points is not None:
            by = "an assessor" if view.decided_by == "assessor" else "the AI grader"
            lines.append(f"Points: **{_points(view.total_points, view.max_points)}** (decided by {by}).")
        if view.comment:
            lines.append(f"Assessor's comment: {md_text(view.comment)}")
        if view.criteria:
            known = {c.id: c for c in _criteria(catalogue, view.credential_id)}
            lines += ["", "| Criterion | Level | AI grader's level | Set by | Comment | To reach the next level |",
                      "|---|---|---|---|---|---|"]
            for outcome in view.criteria:
                criterion = known.get(outcome.criterion_id, _Criterion(outcome.criterion_id, outcome.criterion_id))
                lines.append(f"| {md_text(criterion.title)} | {md_text(criterion.level(outcome.level_id))} | "
                             f"{md_text(criterion.level(outcome.ai_level_id))} | "
                             f"{'assessor' if outcome.source == 'assessor' else 'AI'} | {md_text(outcome.comment)} | "
                             f"{md_text(outcome.next_step) or '—'} |")
        parts.append("\n".join(lines))
    more = len(views) - SHOWN_SUBMISSIONS
    return "\n\n---\n\n".join(parts) + (f"\n\n… and {more} older submission(s)." if more > 0 else "")


def render_evidence(detail: SubmissionDetail) -> str:
    """The evidence as plain text (shown in a read-only textbox): extracted text per file, links, reflection."""
    parts = []
    for f in detail.files:
        head = f"=== File {f.position + 1}: {f.filename} ({f.media_type}, {f.size:,} bytes) ==="
        if f.extracted_text:
            body = f.extracted_text
        elif f.extraction_error:
            body = f"[no text: {f.extraction_error}]"
        else:
            body = "[no text extracted]"
        parts.append(f"{head}\n{body}")
    parts.append("=== Links ===\n" + ("\n".join(detail.links) if detail.links else "(none)"))
    parts.append("=== Reflective statement ===\n" + (detail.reflection.strip() or "(none)"))
    return "\n\n".join(parts)


def render_ai_grade(detail: SubmissionDetail, criteria: Sequence[_Criterion]) -> str:
    """The latest AI grade: per criterion the level, confidence and distribution, the grader's rationale with
    its quotes, and the feedback written for the learner (why it is in review is in :func:`render_header`)."""
    if not detail.grades:
        return "No AI grade recorded."
    grade = detail.grades[-1]
    known = {c.id: c for c in criteria}
    scored_by = (f"model {md_text(grade.model)}, prompt {md_text(grade.prompt_version)}"
                 if grade.model and grade.model != "none"  # the engine's combiner asked the model nothing
                 else "scored from the evidence's text and embedding features (no question to the model)")
    lines = [f"**AI grade:** {_points(grade.total_points, grade.max_points)} points, decision "
             f"**{md_text(grade.decision)}** · {scored_by}"]
    if grade.engine_version:
        bar = ("no calibrated threshold yet (every submission is reviewed)" if grade.decision_threshold is None
               else f"decides alone at confidence ≥ {grade.decision_threshold:.2f}")
        lines += ["", f"P(pass) **{(grade.p_pass or 0):.2f}** · {bar} · engine {md_text(grade.engine_version)}"]
    feedback = {f.criterion_id: f for f in grade.feedback}
    for c in grade.criteria:
        criterion = known.get(c.criterion_id, _Criterion(c.criterion_id, c.criterion_id))
        order = [*criterion.levels, *(lv for lv in c.distribution if lv not in criterion.levels)]
        spread = " · ".join(f"{md_text(criterion.levels.get(lv, (lv, None))[0])} {c.distribution[lv]:.2f}"
                            for lv in order if lv in c.distribution)
        lines += ["", f"#### {md_text(criterion.title)}",
                  f"**{md_text(criterion.level(c.level_id))}** · confidence {c.confidence:.2f}",
                  "", f"Distribution: {spread or '—'}",
                  "", f"**Grader's rationale:** {md_text(plain(c.rationale)) or '—'}"]
        quotes = list(dict.fromkeys(unquote(plain(q)) for q in c.quotes if plain(q)))
        fb = feedback.get(c.criterion_id)
        if fb is not None:
            quotes += [q for q in dict.fromkeys(unquote(plain(q)) for q in fb.quotes if plain(q)) if q not in quotes]
        for quote in quotes:  # each its own blockquote, so two quotes never run together
            lines += ["", render_quote(quote)]
        if fb is not None:
            lines += ["", f"**Feedback for the learner:** {md_text(plain(fb.rationale)) or '—'}"]
            if fb.next_step:
                lines += ["", f"**To reach the next level:** {md_text(plain(fb.next_step))}"]
    return "\n".join(lines)


def render_header(catalogue: Any, detail: SubmissionDetail, me: Assessor, now: datetime) -> str:
    """Which submission is open, why it is in review (sentences naming the criteria) and who holds it."""
    codes = detail.grades[-1].reasons if detail.grades else []
    titles = {c.id: c.title for c in _criteria(catalogue, detail.credential_id, detail)}
    lines = [f"### {md_text(_credential_label(catalogue, detail.credential_id))}",
             f"Submission `{detail.id}` · status **{detail.status.value}** · sent {_when(detail.created_at)}"
             + (f" · resubmission of `{detail.previous_submission_id}`" if detail.previous_submission_id else "")]
    if codes:
        lines.append(f"**Why it needs review:**\n\n{render_reasons(codes, titles)}")
    live = detail.claimed_by and detail.lease_expires_at is not None and detail.lease_expires_at > now
    if detail.status is not Status.review:
        lines.append("This submission is no longer in review.")
    elif live and detail.claimed_by == me.username:
        lines.append(f"**You hold this submission** until {_when(detail.lease_expires_at)}.")
    elif live:
        lines.append(f"Claimed by **{md_text(detail.claimed_by)}** until {_when(detail.lease_expires_at)}.")
    else:
        lines.append("Not claimed: claim it before deciding.")
    return "\n\n".join(lines)


def queue_rows(catalogue: Any, items: Sequence[QueueItem]) -> list[list[str]]:
    """The review queue as table rows (:data:`QUEUE_COLUMNS`, four so they fit): short id, credential title,
    the reasons as sentences naming the criteria, and how long it has waited, the AI's points and who holds
    it."""
    rows = []
    for i in items:
        credential = catalogue.credentials.get(i.credential_id)
        titles = {c.id: c.title for c in _criteria(catalogue, i.credential_id)}
        state = (f"{_age(i.age_seconds)}; AI {_points(i.ai_total_points, i.ai_max_points)}"
                 + (f"; claimed by {i.claimed_by}" if i.claimed_by else ""))
        rows.append([i.submission_id[:8], credential.title if credential is not None else i.credential_id,
                     " ".join(reason_sentences(i.reasons, titles)), state])
    return rows

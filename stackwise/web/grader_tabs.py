"""Gradio tabs for the grader: learners submit evidence and follow it; assessors work the review queue.

A thin adapter over :class:`grader.service.GraderService` and its :class:`grader.queue.GraderQueue`:
every decision, total and lock comes from them; this module only renders their views and turns their
typed errors into messages (never a traceback).

- :func:`add_grader_tabs` (or :func:`add_learner_tab` / :func:`add_assessor_tab`) adds the tabs inside a
  ``with gr.Blocks():`` context; ``assistant.web.build_app`` composes them with the chat;
- :func:`build_grader_app` is a :class:`gradio.Blocks` with only these tabs.

**Learners** are identified by a random *learner key* (``swk-`` + 24 URL-safe characters, 144 bits) kept in
the browser's localStorage (``gr.BrowserState``), never by a typed name. The database stores only a hash
of the key (:func:`learner_id_for_key`), so a key cannot be read back from it. Pasting the key in another
browser shows the same submissions; without the key nobody sees them (:mod:`stackwise.learner_keys`). In the
full app (``assistant.web``) one key serves the chat, submissions and credentials.

**Uploads**: the evidence bytes are stored in the database at submission and Gradio's copy in its upload folder
is deleted right after (:func:`discard_uploads`); what is uploaded but never submitted is removed by the app's
periodic cache clean-up (``assistant.web.launch``).

**Assessors** log in inside the tab (``grader.accounts.authenticate`` against ``STACKWISE_ASSESSORS_FILE``);
failed log-ins are throttled per (client, username), per client and per username (:class:`ThrottlePolicy`).
The logged-in assessor lives in a ``gr.State``, which stays on the server: the browser cannot forge it.
Every assessor action re-checks that the session is live and the account still exists.

API endpoints (for ``gradio_client``): ``/learner_start`` (key), ``/use_key`` (pasted, key), ``/rubric``
(credential), ``/submit_evidence`` (credential, files, links, reflection, name, email, key),
``/my_submissions`` (key); ``/assessor_login`` (username, password), ``/assessor_logout``, ``/review_queue``
(sort, credential), ``/open_submission`` (submission id), ``/claim``, ``/release``, ``/approve``, ``/reject``,
``/resubmit`` (levels and notes per criterion slot, comment). Assessor endpoints act for the session's
logged-in assessor only.
"""

from __future__ import annotations

import contextlib
import logging
import mimetypes
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from stackwise.config import enforce_offline

enforce_offline()  # GRADIO_ANALYTICS_ENABLED=False and friends, before gradio is imported
import gradio as gr  # noqa: E402
import gradio.utils as gr_utils  # noqa: E402
import pandas as pd  # noqa: E402

from grader import accounts  # noqa: E402
from grader.evidence import (  # noqa: E402
    DOCX,
    MAX_FILE_BYTES,
    MAX_TOTAL_CHARS,
    TEXT_TYPES,
    EvidenceError,
    Unreadable,
    check_archive,
    sniff_media_type,
)
from grader.grading import UnknownCredential  # noqa: E402
from grader.models import (  # noqa: E402
    Assessor,
    ClaimConflict,
    Decision,
    GraderError,
    QueueItem,
    Status,
    SubmissionDetail,
    SubmissionIn,
    SubmissionView,
)
from grader.service import GraderService  # noqa: E402
from stackwise.learner_keys import (  # noqa: E402  (re-exported: the learner key's home is stackwise.learner_keys)
    KEY_PREFIX,
    KEY_STORAGE,
    KEY_STORAGE_OBFUSCATION,
    learner_id_for_key,
    new_learner_key,
    parse_learner_key,
)

log = logging.getLogger(__name__)

MAX_CRITERIA = 6  # knowledge.schema.Rubric allows 3..6 criteria: one override slot each
POLL_SECONDS = 5.0  # "My submissions" refreshes this often while something is still being graded
SHOWN_SUBMISSIONS = 20
MAX_LINKS = 20
MAX_LINK_CHARS = 2_000
SESSION_SECONDS = 8 * 60 * 60  # an assessor logs in again after this
LOGIN_FAILURES_ALLOWED = 5  # per (client, username) within LOGIN_LOCKOUT_SECONDS (see ThrottlePolicy)
LOGIN_LOCKOUT_SECONDS = 5 * 60
ACCEPTED_SUFFIXES = sorted({*TEXT_TYPES, ".pdf", ".docx"})

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^https?://\S+$")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~$!])")

NOT_CONFIGURED = (
    "**Assessor log-in is not configured.** To enable it:\n\n"
    "1. Make an entry with a bcrypt password hash: `python -m grader.accounts hash --username alice` "
    "(asks for the password; prints the entry).\n"
    "2. Put the entries in a TOML (or YAML) file outside the repository, e.g. `/etc/stackwise/assessors.toml`:\n\n"
    "   ```toml\n   [[assessors]]\n   username = \"alice\"\n   display_name = \"Alice Example\"\n"
    "   password_hash = \"$2b$12$...\"\n   ```\n"
    "3. Start the app with `STACKWISE_ASSESSORS_FILE=/etc/stackwise/assessors.toml stackwise serve`.\n\n"
    "The file holds hashes only (plain passwords are refused) and is re-read at every log-in."
)

LEARNER_STATUS = {
    Status.received: "Received — waiting to be graded.",
    Status.grading: "Being graded by the AI grader (this can take a few minutes).",
    Status.review: "Under review: an assessor is checking the grade.",
    Status.passed: "Passed — ready to issue.",
    Status.failed: "Not passed.",
    Status.approved: "Approved by an assessor — ready to issue.",
    Status.rejected: "Not approved by the assessor.",
    Status.resubmission_requested: "The assessor asks for a resubmission: send new evidence for this credential.",
    Status.error: "Could not be graded.",
}
PENDING = frozenset({Status.received, Status.grading})
N_DETAIL = 5 + 3 * MAX_CRITERIA + 1  # outputs of an opened submission (see GraderWeb._detail)
DECIDED = {"approve": "Approved", "reject": "Rejected", "resubmit": "Sent back for resubmission"}


# --------------------------------------------------------------------------------------------------
# Rendering (untrusted text is escaped: evidence, model output and comments never become markup)


def md_text(text: Any) -> str:
    """``text`` as literal markdown on one line (emphasis, links, images, tables, HTML and maths inert)."""
    escaped = _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))
    return escaped.replace("<", "&lt;").replace(">", "&gt;")


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
                  "Links are recorded, not opened: put what matters in a file or the reflective statement."]
    return "\n".join(lines)


def render_submissions(catalogue: Any, views: Sequence[SubmissionView]) -> str:
    """A learner's own submissions, newest first: status, points, and the final level per criterion."""
    if not views:
        return "You have no submissions yet."
    parts = []
    for view in views[:SHOWN_SUBMISSIONS]:
        status = LEARNER_STATUS[view.status]
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
    """The latest AI grade per criterion: level, confidence, distribution, rationale and quotes."""
    if not detail.grades:
        return "No AI grade recorded."
    grade = detail.grades[-1]
    known = {c.id: c for c in criteria}
    lines = [f"**AI grade:** {_points(grade.total_points, grade.max_points)} points, decision "
             f"**{md_text(grade.decision)}** · reasons: {md_text(', '.join(grade.reasons) or 'none')} · "
             f"model {md_text(grade.model)}, prompt {md_text(grade.prompt_version)}"]
    if grade.engine_version:
        bar = ("no calibrated threshold yet (every submission is reviewed)" if grade.decision_threshold is None
               else f"decides alone at confidence ≥ {grade.decision_threshold:.2f}")
        lines.append(f"P(pass) **{(grade.p_pass or 0):.2f}** · {bar} · engine {md_text(grade.engine_version)}")
    feedback = {f.criterion_id: f for f in grade.feedback}
    for c in grade.criteria:
        criterion = known.get(c.criterion_id, _Criterion(c.criterion_id, c.criterion_id))
        order = [*criterion.levels, *(lv for lv in c.distribution if lv not in criterion.levels)]
        spread = " · ".join(f"{md_text(criterion.levels.get(lv, (lv, None))[0])} {c.distribution[lv]:.2f}"
                            for lv in order if lv in c.distribution)
        lines += ["", f"#### {md_text(criterion.title)}",
                  f"**{md_text(criterion.level(c.level_id))}** · confidence {c.confidence:.2f}",
                  "", f"Distribution: {spread or '—'}", "", f"Rationale: {md_text(c.rationale) or '—'}"]
        lines += [f"> “{md_text(q)}”" for q in c.quotes]
        if c.criterion_id in feedback:
            fb = feedback[c.criterion_id]
            lines += ["", f"Model's reason: {md_text(fb.rationale)}"]
            lines += [f"> “{md_text(q)}”" for q in fb.quotes if q not in c.quotes]
            if fb.next_step:
                lines.append(f"Next level: {md_text(fb.next_step)}")
    return "\n".join(lines)


def render_header(catalogue: Any, detail: SubmissionDetail, me: Assessor, now: datetime) -> str:
    reasons = ", ".join(detail.grades[-1].reasons) if detail.grades else ""
    lines = [f"### {md_text(_credential_label(catalogue, detail.credential_id))}",
             f"Submission `{detail.id}` · status **{detail.status.value}** · sent {_when(detail.created_at)}"
             + (f" · reasons: {md_text(reasons)}" if reasons else "")
             + (f" · resubmission of `{detail.previous_submission_id}`" if detail.previous_submission_id else "")]
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


# --------------------------------------------------------------------------------------------------
# Assessor sessions


@dataclass(frozen=True)
class AssessorSession:
    """Who is logged in to this browser session (kept in a server-side ``gr.State``)."""

    assessor: Assessor
    expires_at: float  # time.time()


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failed log-ins are allowed, from whom, before log-ins are refused for a while.

    Three limits, so that guessing is slow without letting anyone lock the real assessor out:

    * per **(client, username)** pair: ``pair_failures`` within ``pair_window`` s, then that client is refused
      for that username until the window passes (the assessor's own browser elsewhere is not affected);
    * per **client** across usernames: ``client_failures`` within ``client_window`` s, then that client is
      refused for every username (one machine cannot walk a list of usernames);
    * per **username** from all clients: past ``username_failures`` within ``username_window`` s, clients that
      have not logged in as that username before wait an exponential delay (``backoff_base`` s doubling per
      further failure, at most ``backoff_cap`` s) after the last failure. A client where the username logged
      in successfully within ``trusted_seconds`` is exempt, so a distributed attack slows strangers, never
      the assessor at their usual machine.

    Records older than their window (trust: ``trusted_seconds``) are pruned; at most ``max_records`` are kept.
    """

    pair_failures: int = LOGIN_FAILURES_ALLOWED
    pair_window: float = LOGIN_LOCKOUT_SECONDS
    client_failures: int = 20
    client_window: float = 15 * 60
    username_failures: int = 10
    username_window: float = 15 * 60
    backoff_base: float = 2.0
    backoff_cap: float = 60.0
    trusted_seconds: float = 30 * 24 * 60 * 60
    max_records: int = 10_000


@dataclass(frozen=True)
class Refusal:
    """Why a log-in is refused now, and for how many seconds."""

    seconds: float
    message: str


class LoginThrottle:
    """Counts failed log-ins per (client, username), per client and per username (see :class:`ThrottlePolicy`);
    bcrypt already makes each try slow. Thread-safe; in memory (a restart forgets it)."""

    def __init__(self, policy: ThrottlePolicy | None = None, clock: Callable[[], float] = time.monotonic):
        self.policy = policy or ThrottlePolicy()
        self._clock = clock
        self._pairs: dict[tuple[str, str], deque[float]] = {}
        self._clients: dict[str, deque[float]] = {}
        self._usernames: dict[str, deque[float]] = {}
        self._trusted: dict[tuple[str, str], float] = {}  # (client, username) -> last successful log-in
        self._lock = threading.Lock()
        self._swept = clock()

    def refusal(self, client: str, username: str) -> Refusal | None:
        """Why ``client`` may not try ``username`` now, or ``None`` when it may."""
        p, now = self.policy, self._clock()
        with self._lock:
            self._sweep(now)
            by_client = self._recent(self._clients, client, now, p.client_window)
            if len(by_client) >= p.client_failures:
                wait = p.client_window - (now - by_client[-p.client_failures])
                return Refusal(wait, f"Too many failed log-ins from this computer; try again in {_minutes(wait)}.")
            pair = self._recent(self._pairs, (client, username), now, p.pair_window)
            if len(pair) >= p.pair_failures:
                wait = p.pair_window - (now - pair[-p.pair_failures])
                return Refusal(wait, "Too many failed log-ins for this username from this computer; try again in "
                                     f"{_minutes(wait)}.")
            if now - self._trusted.get((client, username), -float("inf")) <= p.trusted_seconds:
                return None
            everywhere = self._recent(self._usernames, username, now, p.username_window)
            excess = len(everywhere) - p.username_failures
            if excess >= 0:
                wait = min(p.backoff_cap, p.backoff_base * 2 ** excess) - (now - everywhere[-1])
                if wait > 0:
                    return Refusal(wait, "Many failed log-ins for this username recently; try again in "
                                         f"{int(wait) + 1} s (log-ins from a computer where it logged in before "
                                         "are not delayed).")
        return None

    def wait_seconds(self, username: str, client: str = "") -> float:
        """Seconds before ``client`` may try ``username`` (0 when it may now)."""
        refused = self.refusal(client, username)
        return refused.seconds if refused else 0.0

    def failed(self, client: str, username: str) -> None:
        now = self._clock()
        with self._lock:
            for table, key in ((self._pairs, (client, username)), (self._clients, client), (self._usernames, username)):
                table.setdefault(key, deque()).append(now)
            if self.records() > self.policy.max_records:
                self._sweep(now, force=True)
                self._evict()

    def succeeded(self, client: str, username: str) -> None:
        """The pair's failures are forgiven and the client is trusted for this username; the client's and the
        username's counts stay (a success does not hide an attack from elsewhere)."""
        now = self._clock()
        with self._lock:
            self._pairs.pop((client, username), None)
            self._trusted[(client, username)] = now
            if self.records() > self.policy.max_records:
                self._sweep(now, force=True)
                self._evict()

    def records(self) -> int:
        """How many failure timestamps and trusted pairs are held (for tests and monitoring)."""
        return (sum(len(v) for v in self._pairs.values()) + sum(len(v) for v in self._clients.values())
                + sum(len(v) for v in self._usernames.values()) + len(self._trusted))

    def prune(self) -> int:
        """Drop every record older than its window now; returns how many records remain."""
        with self._lock:
            self._sweep(self._clock(), force=True)
            return self.records()

    @staticmethod
    def _recent(table: dict, key: Any, now: float, window: float) -> deque[float]:
        times = table.get(key)
        if times is None:
            return deque()
        while times and now - times[0] >= window:
            times.popleft()
        if not times:
            del table[key]
        return times

    def _sweep(self, now: float, force: bool = False) -> None:
        """Prune all tables (at most once a minute unless forced): empty keys are removed."""
        if not force and now - self._swept < 60:
            return
        self._swept = now
        p = self.policy
        for table, window in ((self._pairs, p.pair_window), (self._clients, p.client_window),
                              (self._usernames, p.username_window)):
            for key in list(table):
                self._recent(table, key, now, window)
        for key, at in list(self._trusted.items()):
            if now - at > p.trusted_seconds:
                del self._trusted[key]

    def _evict(self) -> None:
        """Still over ``max_records`` after pruning: drop the oldest failure records first (never trust)."""
        tables = (self._pairs, self._clients, self._usernames)
        while self.records() > self.policy.max_records and any(tables):
            table, key = min(((t, k) for t in tables for k in t), key=lambda tk: tk[0][tk[1]][-1])
            del table[key]


def _minutes(seconds: float) -> str:
    return f"{int(max(0.0, seconds) // 60) + 1} min"


def client_address(request: Any) -> str:
    """The client's address as the server sees it (the TCP peer: Stackwise serves on loopback or behind a proxy
    the operator runs, whose forwarded headers are not trusted); ``"local"`` for direct calls."""
    client = getattr(request, "client", None)
    host = getattr(client, "host", None)
    return str(host) if host else "local"


# --------------------------------------------------------------------------------------------------
# Event handlers


def _problem(exc: Exception) -> str:
    log.exception("grader web action failed")
    return f"Something went wrong ({type(exc).__name__}); please try again. The details are in the server log."


class GraderWeb:
    """The event handlers of the grader tabs; plain functions of their inputs, wired by the ``add_*`` functions.

    Each returns a tuple in the order of the outputs it is wired to (see :func:`add_learner_tab`,
    :func:`add_assessor_tab`).
    """

    def __init__(self, service: GraderService, *, clock: Callable[[], float] = time.time):
        self.service = service
        self.queue = service.queue
        self.catalogue = service.catalogue
        self._clock = clock
        self.throttle = LoginThrottle()
        self.learner_key: Any = None  # the learner tab's gr.BrowserState (for other tabs that need the key)
        self.assessor_session: Any = None  # the assessor tab's gr.State (issuance's Revoke tab reads the log-in)
        self.listing: list[Any] = []  # the learner tab's "My submissions" outputs (markdown, timer)

    # ---- learner ---------------------------------------------------------------------------------

    def _submissions(self, key: str | None) -> tuple[str, Any]:
        """(markdown, timer update): the learner's own submissions; the timer polls while any is pending."""
        if key is None:
            return "This browser has no learner key yet; reload the page.", gr.Timer(active=False)
        try:
            views = self.queue.submissions_for_learner(learner_id_for_key(key))
        except Exception as exc:
            return _problem(exc), gr.Timer(active=False)
        return render_submissions(self.catalogue, views), gr.Timer(active=any(v.status in PENDING for v in views))

    def learner_start(self, stored: str | None) -> tuple[str, str, str, Any]:
        """On page load: keep this browser's key (or make one). Outputs: key state, key box, submissions, timer."""
        key = parse_learner_key(stored) or new_learner_key()
        return key, key, *self._submissions(key)

    def use_key(self, pasted: str | None, current: str | None) -> tuple[Any, Any, Any, str, Any, Any]:
        """Switch this browser to a pasted key. Outputs: key state, key box, paste box, message, submissions, timer."""
        key = parse_learner_key(pasted)
        if key is None:
            return (gr.skip(), gr.skip(), gr.skip(),
                    f"That is not a learner key: a key looks like `{KEY_PREFIX}` followed by 24 letters, digits, "
                    "`-` or `_`.", gr.skip(), gr.skip())
        previous = parse_learner_key(current)
        note = (f" The previous key of this browser was `{previous}`; keep it if it has submissions."
                if previous and previous != key else "")
        return key, key, "", f"This browser now uses the pasted learner key.{note}", *self._submissions(key)

    def my_submissions(self, stored: str | None) -> tuple[str, Any]:
        """Outputs: submissions, timer."""
        return self._submissions(parse_learner_key(stored))

    def rubric(self, credential_id: str | None) -> str:
        return render_rubric(self.catalogue, credential_id)

    def submit(self, credential_id: str | None, files: Sequence[str] | str | None, links_text: str | None,
               reflection: str | None, name: str | None, email: str | None, stored: str | None,
               token: str | None) -> tuple[Any, ...]:
        """Store the evidence and grade it in the background.

        Outputs: message, submissions, timer, files, links, reflection, idempotency token.
        """
        keep = (gr.skip(),) * 6

        def refuse(message: str) -> tuple[Any, ...]:
            return (message, *keep)

        key = parse_learner_key(stored)
        if key is None:
            return refuse("This browser has no learner key yet; reload the page and submit again.")
        if not credential_id:
            return refuse("Please choose the credential this evidence is for.")
        paths = [files] if isinstance(files, str) else list(files or [])
        links = [t for t in re.split(r"[\s,]+", links_text or "") if t]
        bad = [t for t in links if not _URL.match(t) or len(t) > MAX_LINK_CHARS]
        if bad:
            return refuse(f"Nothing was sent: links must start with http:// or https:// (not {md_text(bad[0][:80])}).")
        if len(links) > MAX_LINKS:
            return refuse(f"Nothing was sent: please give at most {MAX_LINKS} links.")
        reflection = (reflection or "").strip()
        if len(reflection) > MAX_TOTAL_CHARS:
            return refuse(f"Nothing was sent: the reflective statement has {len(reflection):,} characters; "
                          f"the limit is {MAX_TOTAL_CHARS:,}.")
        name = " ".join((name or "").split())[:200]
        email = (email or "").strip() or None
        if email is not None and (len(email) > 200 or not _EMAIL.match(email)):
            return refuse("Nothing was sent: that email address does not look right (leave it empty if you like).")
        uploads, wrong = [], []
        for path in paths:
            filename = Path(path).name
            try:
                data = Path(path).read_bytes()
            except OSError as exc:
                return refuse(f"Nothing was sent: the upload {md_text(filename)} could not be read ({exc.strerror}); "
                              "upload it again.")
            media_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
            if data.strip():  # empty files are stored and reported by the grader (nothing is lost)
                sniffed = False
                try:
                    media_type, sniffed = sniff_media_type(filename, data), True
                except EvidenceError as exc:
                    wrong.append(str(exc))
                if sniffed and media_type == DOCX:  # a ZIP bomb is refused here, before it is stored or unpacked
                    try:
                        check_archive(data, self.service.intake_limits, filename)
                    except Unreadable:
                        pass  # stored, and the grader tells the learner it could not be read (nothing is lost)
                    except EvidenceError as exc:
                        wrong.append(str(exc))
            uploads.append((filename, data, media_type))
        if not uploads and not links and not reflection:
            return refuse("Nothing was sent: add at least one file, a link or a reflective statement.")
        if wrong:
            those = "that file" if len(wrong) == 1 else "those files"
            return refuse(f"Nothing was sent: {'; '.join(md_text(w) for w in wrong)}. Remove {those} and submit again.")
        try:
            submission = SubmissionIn(credential_id=credential_id, learner_id=learner_id_for_key(key),
                                      learner_name=name, learner_email=email, files=uploads, links=links,
                                      reflection=reflection, idempotency_key=token or None)
            view, _ = self.service.submit_in_background(submission)
        except ValidationError as exc:
            return refuse(f"Nothing was sent: {md_text(exc.errors()[0]['msg'])}.")
        except (GraderError, UnknownCredential, EvidenceError) as exc:
            return refuse(f"Nothing was sent: {md_text(exc)}")
        except Exception as exc:
            return refuse(_problem(exc))
        if view.status in PENDING:
            message = (f"**Received — being graded.** Submission id: `{view.id}`. The result appears under "
                       "*My submissions* below (grading takes a few minutes).")
        elif view.status is Status.error:
            message = (f"Stored as submission `{view.id}`, but it cannot be graded: "
                       f"{md_text(view.error_message or 'unknown problem')}. Fix the evidence and submit again.")
        else:
            message = f"Already received: submission `{view.id}` is {view.status.value}."
        listing = self._submissions(key)
        discard_uploads(paths)  # the bytes are in the database now
        return (message, *listing, None, "", "", new_token())

    # ---- assessor: frame -------------------------------------------------------------------------

    def _frame(self, session: AssessorSession | None, message: str | None = None) -> tuple[Any, ...]:
        """Outputs: session state, message, login panel, work panel, who-am-I line."""
        who = ""
        if session is not None:
            a = session.assessor
            who = f"Logged in as **{md_text(a.display_name or a.username)}** (`{md_text(a.username)}`)."
        return (session, gr.skip() if message is None else message, gr.update(visible=session is None),
                gr.update(visible=session is not None), who)

    def _active(self, session: Any) -> tuple[AssessorSession | None, str]:
        if not isinstance(session, AssessorSession):
            return None, "Please log in."
        if self._clock() >= session.expires_at:
            return None, "Your session expired; please log in again."
        try:
            known = accounts.load_assessors()
        except accounts.AssessorsFileInvalid as exc:
            return None, str(exc)
        if session.assessor.username not in known:
            return None, "Your assessor account no longer exists; you have been logged out."
        return session, ""

    def _out(self, session: Any, n: int) -> tuple[AssessorSession | None, tuple[Any, ...] | None]:
        """(live session, None), or (None, outputs for a logged-out session with ``n`` skipped outputs)."""
        live, problem = self._active(session)
        if live is None:
            return None, (*self._frame(None, problem), *(gr.skip(),) * n)
        return live, None

    # ---- assessor: queue -------------------------------------------------------------------------

    def _queue(self, sort: str | None, credential_id: str | None, pick: str | None = None) -> tuple[Any, Any, Any]:
        """Outputs: queue table, submission picker, agreement table."""
        items: list[QueueItem] = self.queue.list_queue(credential_id=credential_id or None,
                                                      sort="reason" if sort == "reason" else "age")
        rows = [[i.submission_id[:8], _credential_label(self.catalogue, i.credential_id), ", ".join(i.reasons),
                 _age(i.age_seconds), _points(i.ai_total_points, i.ai_max_points), i.ai_decision or "",
                 i.claimed_by or ""] for i in items]
        table = pd.DataFrame(rows, columns=["Submission", "Credential", "Reasons", "Waiting", "AI points",
                                            "AI decision", "Claimed by"])
        choices = [(f"{i.submission_id[:8]} · {i.credential_id} · {', '.join(i.reasons)} · {_age(i.age_seconds)}",
                    i.submission_id) for i in items]
        ids = {i.submission_id for i in items}
        picker = gr.update(choices=choices, value=pick if pick in ids else None)
        return table, picker, self._agreement(credential_id)

    def _agreement(self, credential_id: str | None) -> pd.DataFrame:
        rows = []
        for cid in ([credential_id] if credential_id else sorted(self.catalogue.credentials)):
            titles = {c.id: c.title for c in _criteria(self.catalogue, cid)}
            for stat in self.queue.agreement_stats(cid):
                changes = ", ".join(f"{k.replace('->', '→')} ×{v}" for k, v in sorted(stat.changes.items()))
                rows.append([cid, titles.get(stat.criterion_id, stat.criterion_id), stat.reviewed, stat.kept,
                             f"{stat.rate:.0%}", changes])
        return pd.DataFrame(rows, columns=["Credential", "Criterion", "Reviewed", "Kept AI level", "Agreement",
                                           "Changes"])

    def _no_detail(self, message: str = "Choose a submission from the queue.") -> tuple[Any, ...]:
        """Detail outputs when nothing is open."""
        return (None, message, gr.update(visible=False), "", "",
                *(gr.update(visible=False) for _ in range(MAX_CRITERIA)),
                *(gr.update(visible=False, choices=[], value=None) for _ in range(MAX_CRITERIA)),
                *(gr.update(visible=False, value="") for _ in range(MAX_CRITERIA)), "")

    def _detail(self, session: AssessorSession, submission_id: str) -> tuple[Any, ...]:
        """Outputs: opened state, header, detail panel, evidence, AI grade, slot rows, level slots, note slots,
        comment."""
        detail = self.queue.get_submission(submission_id, assessor=session.assessor)
        assert isinstance(detail, SubmissionDetail)
        criteria = _criteria(self.catalogue, detail.credential_id, detail)[:MAX_CRITERIA]
        ai = {c.criterion_id: c.level_id for c in (detail.grades[-1].criteria if detail.grades else [])}
        opened = {"id": detail.id, "criteria": [c.id for c in criteria], "ai": ai}
        now = datetime.fromtimestamp(self._clock(), UTC)
        rows, levels, notes = [], [], []
        for slot in range(MAX_CRITERIA):
            rows.append(gr.update(visible=slot < len(criteria)))
            if slot < len(criteria):
                c = criteria[slot]
                levels.append(gr.update(visible=True, label=f"{c.title} ({c.id})", value=ai.get(c.id),
                                        choices=[(c.level(lv), lv) for lv in c.levels],
                                        info=f"AI grader: {c.level(ai.get(c.id))}"))
                notes.append(gr.update(visible=True, value="", label=f"Why change {c.title}?"))
            else:
                levels.append(gr.update(visible=False, choices=[], value=None))
                notes.append(gr.update(visible=False, value=""))
        return (opened, render_header(self.catalogue, detail, session.assessor, now), gr.update(visible=True),
                render_evidence(detail), render_ai_grade(detail, criteria), *rows, *levels, *notes, "")

    # ---- assessor: actions -----------------------------------------------------------------------

    def login(self, username: str | None, password: str | None, sort: str | None,
              credential_id: str | None, request: gr.Request | None = None) -> tuple[Any, ...]:
        """Outputs: frame, password box, queue. ``request`` (filled in by Gradio) gives the client's address
        for :class:`LoginThrottle`."""
        username = (username or "").strip()[:200]
        client = client_address(request)
        clear = ""

        def refused(message: str) -> tuple[Any, ...]:
            return (*self._frame(None, message), clear, gr.skip(), gr.skip(), gr.skip())

        if accounts.assessors_file() is None:
            return refused(NOT_CONFIGURED)
        if not username or not password:
            return refused("Please give your username and password.")
        refusal = self.throttle.refusal(client, username)
        if refusal is not None:
            log.warning("assessor log-in refused for %r from %s: %s", username, client, refusal.message)
            return refused(refusal.message)
        try:
            assessor = accounts.authenticate(username, password)
        except accounts.AssessorsFileInvalid as exc:
            return refused(str(exc))
        except Exception as exc:
            return refused(_problem(exc))
        if assessor is None:
            self.throttle.failed(client, username)
            return refused("Wrong username or password.")
        self.throttle.succeeded(client, username)
        live = AssessorSession(assessor=assessor, expires_at=self._clock() + SESSION_SECONDS)
        log.info("assessor %s logged in", assessor.username)
        try:
            queue = self._queue(sort, credential_id)
        except Exception as exc:
            return (*self._frame(live, _problem(exc)), clear, gr.skip(), gr.skip(), gr.skip())
        return (*self._frame(live, ""), clear, *queue)

    def logout(self, session: Any, opened: dict | None) -> tuple[Any, ...]:
        """Gives back a lease this assessor holds on the open submission. Outputs: frame, queue, detail."""
        if isinstance(session, AssessorSession) and opened:
            try:
                self.queue.release(opened["id"], session.assessor)
            except GraderError:
                pass  # not holding it: nothing to give back
            except Exception:
                log.exception("releasing %s at logout failed", opened.get("id"))
        empty = pd.DataFrame()
        return (*self._frame(None, "Logged out."), empty, gr.update(choices=[], value=None), empty,
                *self._no_detail())

    def refresh(self, session: Any, sort: str | None, credential_id: str | None, pick: str | None) -> tuple[Any, ...]:
        """Outputs: frame, queue."""
        live, out = self._out(session, 3)
        if out is not None:
            return out
        try:
            return (*self._frame(live), *self._queue(sort, credential_id, pick))
        except Exception as exc:
            return (*self._frame(live, _problem(exc)), gr.skip(), gr.skip(), gr.skip())

    def open(self, session: Any, pick: str | None) -> tuple[Any, ...]:
        """Show a submission (without claiming it). Outputs: frame, detail."""
        live, out = self._out(session, N_DETAIL)
        if out is not None:
            return out
        if not pick:
            return (*self._frame(live), *self._no_detail())
        try:
            return (*self._frame(live), *self._detail(live, pick))
        except GraderError as exc:
            return (*self._frame(live, md_text(exc)), *self._no_detail())
        except Exception as exc:
            return (*self._frame(live, _problem(exc)), *self._no_detail())

    def _lease_action(self, action: str, session: Any, opened: dict | None, sort: str | None,
                      credential_id: str | None) -> tuple[Any, ...]:
        live, out = self._out(session, 4)
        if out is not None:
            return out
        if not opened:
            return (*self._frame(live, "Choose a submission from the queue first."), *(gr.skip(),) * 4)
        sid = opened["id"]
        try:
            if action == "claim":
                lease = self.queue.claim(sid, live.assessor)
                message = f"You hold submission `{sid}` until {_when(lease.expires_at)}; decide before then."
            else:
                self.queue.release(sid, live.assessor)
                message = f"Released submission `{sid}`; another assessor can claim it."
        except ClaimConflict as exc:
            message = f"Cannot claim: {md_text(exc)}. Choose another submission."
        except GraderError as exc:
            message = f"Cannot {action}: {md_text(exc)}"
        except Exception as exc:
            return (*self._frame(live, _problem(exc)), *(gr.skip(),) * 4)
        try:
            detail = self.queue.get_submission(sid, assessor=live.assessor)
            assert isinstance(detail, SubmissionDetail)
            header = render_header(self.catalogue, detail, live.assessor, datetime.fromtimestamp(self._clock(), UTC))
            return (*self._frame(live, message), *self._queue(sort, credential_id, sid), header)
        except Exception as exc:
            return (*self._frame(live, f"{message} ({_problem(exc)})"), *(gr.skip(),) * 4)

    def claim(self, session: Any, opened: dict | None, sort: str | None, credential_id: str | None) -> tuple[Any, ...]:
        """Take the lease. Outputs: frame, queue, header."""
        return self._lease_action("claim", session, opened, sort, credential_id)

    def release(self, session: Any, opened: dict | None, sort: str | None,
                credential_id: str | None) -> tuple[Any, ...]:
        """Give the lease back. Outputs: frame, queue, header."""
        return self._lease_action("release", session, opened, sort, credential_id)

    def decide(self, decision: Decision, session: Any, opened: dict | None, sort: str | None,
               credential_id: str | None, *slots: Any) -> tuple[Any, ...]:
        """Approve / reject / send back, with the slots' levels and notes.

        Inputs after ``credential_id``: MAX_CRITERIA levels, MAX_CRITERIA notes, the comment.
        Outputs: frame, queue, detail.
        """
        live, out = self._out(session, 3 + N_DETAIL)
        if out is not None:
            return out
        if not opened:
            return (*self._frame(live, "Choose a submission from the queue first."), *(gr.skip(),) * (3 + N_DETAIL))
        levels, notes = slots[:MAX_CRITERIA], slots[MAX_CRITERIA:2 * MAX_CRITERIA]
        comment = str(slots[2 * MAX_CRITERIA] or "").strip() if len(slots) > 2 * MAX_CRITERIA else ""
        overrides: dict[str, tuple[str, str]] = {}
        for cid, level, note in zip(opened["criteria"], levels, notes, strict=False):
            note = str(note or "").strip()
            if not level:
                continue
            if level != opened["ai"].get(cid):
                overrides[cid] = (level, note or comment)  # the overall comment explains a change without a note
            elif note:
                overrides[cid] = (level, note)
        sid = opened["id"]
        try:
            result = self.queue.decide(sid, live.assessor, decision, overrides, comment)
            self.service.after_decision()
        except GraderError as exc:
            return (*self._frame(live, f"Not saved: {md_text(exc)}"), *(gr.skip(),) * (3 + N_DETAIL))
        except Exception as exc:
            return (*self._frame(live, _problem(exc)), *(gr.skip(),) * (3 + N_DETAIL))
        changed = sum(1 for c in result.criteria if c.source == "assessor")
        message = (f"{DECIDED[result.decision]}: submission `{sid}` — {_points(result.total_points, result.max_points)}"
                   f" points, {changed} level(s) changed; status **{result.status.value}**"
                   + (" — ready to issue." if result.status is Status.approved else "."))
        log.info("assessor %s decided %s on %s", live.assessor.username, result.decision, sid)
        try:
            return (*self._frame(live, message), *self._queue(sort, credential_id), *self._no_detail())
        except Exception as exc:
            return (*self._frame(live, f"{message} ({_problem(exc)})"), *(gr.skip(),) * (3 + N_DETAIL))

    # ---- assessor: submissions whose grading stopped with an error ----------------------------------

    def errored(self, session: Any) -> Any:
        """Choices for the retry picker: submissions in ``error`` (only for a logged-in assessor)."""
        live, _ = self._active(session)
        if live is None:
            return gr.update(choices=[], value=None)
        try:
            views = self.queue.errored_submissions()
        except Exception:
            log.exception("listing errored submissions failed")
            return gr.skip()
        return gr.update(choices=[(f"{v.id[:8]} · {v.credential_id} · {(v.error_message or '')[:80]}", v.id)
                                  for v in views], value=None)

    def retry(self, session: Any, pick: str | None) -> tuple[Any, ...]:
        """Grade an errored submission again (audited with the assessor's name). Outputs: frame, retry picker."""
        live, out = self._out(session, 1)
        if out is not None:
            return out
        if not pick:
            return (*self._frame(live, "Choose a submission in error first."), gr.skip())
        try:
            self.service.retry(pick, live.assessor.username)
            message = f"Submission `{pick}` is back in the grading queue; its result appears when graded."
            log.info("assessor %s retried %s", live.assessor.username, pick)
        except GraderError as exc:
            message = f"Cannot retry: {md_text(exc)}"
        except Exception as exc:
            return (*self._frame(live, _problem(exc)), gr.skip())
        return (*self._frame(live, message), self.errored(live))


def upload_folder() -> Path:
    """Where Gradio keeps uploaded files (``GRADIO_TEMP_DIR``, else ``<tmp>/gradio``)."""
    return Path(gr_utils.get_upload_folder()).resolve()


def discard_uploads(paths: Sequence[str]) -> int:
    """Delete uploaded files Gradio left in its upload folder (and their emptied per-upload folders) once
    their bytes are stored; paths outside that folder are never touched. Returns how many were deleted."""
    root, deleted = upload_folder(), 0
    for raw in paths:
        path = Path(raw).resolve()
        if root not in path.parents:
            continue
        try:
            path.unlink()
            deleted += 1
        except FileNotFoundError:
            continue
        except OSError:
            log.warning("could not delete the uploaded file %s", path)
            continue
        parent = path.parent
        if parent != root:
            with contextlib.suppress(OSError):
                parent.rmdir()  # only when empty
    return deleted


def new_token() -> str:
    """A fresh idempotency key for the submission form (a double click sends the same one)."""
    return secrets.token_hex(16)


# --------------------------------------------------------------------------------------------------
# Layout and wiring


def _credential_choices(catalogue: Any) -> list[tuple[str, str]]:
    return [(f"{c.title} ({cid})", cid)
            for cid, c in sorted(catalogue.credentials.items(), key=lambda item: item[1].title.lower())]




def learner_key_state() -> gr.BrowserState:
    """The browser-held learner key (localStorage, kept across reloads and browser restarts)."""
    return gr.BrowserState("", storage_key=KEY_STORAGE, secret=KEY_STORAGE_OBFUSCATION)


def add_learner_tab(demo: gr.Blocks, service: GraderService, web: GraderWeb | None = None,
                    key: gr.BrowserState | None = None) -> GraderWeb:
    """Add the "Submit evidence" tab to ``demo`` (call inside ``with demo:``); returns its handlers.

    Without ``key`` the tab owns the learner key: it shows it, takes a pasted one and starts it on page load
    (``/learner_start``, ``/use_key``). With ``key`` (the whole app's key, as ``assistant.web`` passes) the
    app does that; it then refreshes the listing with ``web.my_submissions`` into ``web.listing``.
    """
    web = web or GraderWeb(service)
    with gr.Tab("Submit evidence"):
        owns_key = key is None
        key = key if key is not None else learner_key_state()
        web.learner_key = key
        token = gr.State(new_token)  # a callable: a fresh idempotency key per browser session
        gr.Markdown("Send evidence for a credential. The AI grader marks it against the rubric shown here; some "
                    "submissions are checked by an assessor before the result is final.")
        with gr.Row():
            with gr.Column(scale=3):
                credential = gr.Dropdown(choices=_credential_choices(web.catalogue), value=None,
                                         label="Credential", info="the credential this evidence is for")
                rubric = gr.Markdown(web.rubric(None), latex_delimiters=[])
            with gr.Column(scale=2):
                files = gr.File(label=f"Evidence files ({', '.join(ACCEPTED_SUFFIXES)})", file_count="multiple",
                                type="filepath")
                links = gr.Textbox(label="Links (optional)", lines=2, max_lines=6,
                                   placeholder="https://… (one per line; recorded, not opened)")
                reflection = gr.Textbox(label="Reflective statement (optional)", lines=5, max_lines=20)
                with gr.Row():
                    name = gr.Textbox(label="Your name (optional)", max_lines=1,
                                      info="for the credential; hidden from the AI grader")
                    email = gr.Textbox(label="Email (optional)", max_lines=1, type="email")
                submit = gr.Button("Submit evidence", variant="primary")
                submit_msg = gr.Markdown("", latex_delimiters=[])
        gr.Markdown("### My submissions")
        with gr.Row(equal_height=True):
            if owns_key:
                key_box = gr.Textbox(label="Your learner key", interactive=False, max_lines=1, buttons=["copy"],
                                     scale=2, elem_id="learner-key",
                                     info="keep it: it shows your submissions in another browser (to anyone who "
                                          "has it)")
                pasted = gr.Textbox(label="Use a learner key from another browser", max_lines=1, scale=2,
                                    placeholder=f"{KEY_PREFIX}…", type="password")
                use = gr.Button("Use this key", scale=0, min_width=140)
            refresh = gr.Button("Refresh", scale=0, min_width=110)
        key_msg = gr.Markdown("", latex_delimiters=[])
        submissions = gr.Markdown("", latex_delimiters=[])
        timer = gr.Timer(POLL_SECONDS, active=False)

    listing = [submissions, timer]
    web.listing = listing
    if owns_key:
        demo.load(web.learner_start, inputs=[key], outputs=[key, key_box, *listing], api_name="learner_start")
        use_io = dict(fn=web.use_key, inputs=[pasted, key], outputs=[key, key_box, pasted, key_msg, *listing])
        use.click(**use_io, api_name="use_key")
        pasted.submit(**use_io, api_visibility="private")
    credential.change(web.rubric, inputs=[credential], outputs=[rubric], api_name="rubric")
    submit.click(web.submit, inputs=[credential, files, links, reflection, name, email, key, token],
                 outputs=[submit_msg, *listing, files, links, reflection, token], api_name="submit_evidence")
    refresh.click(web.my_submissions, inputs=[key], outputs=listing, api_name="my_submissions")
    timer.tick(web.my_submissions, inputs=[key], outputs=listing, show_progress="hidden", api_visibility="private")
    return web


def add_assessor_tab(demo: gr.Blocks, service: GraderService, web: GraderWeb | None = None) -> GraderWeb:
    """Add the "Assessor" tab (in-app log-in, review queue, decisions) to ``demo``; returns its handlers."""
    web = web or GraderWeb(service)
    with gr.Tab("Assessor"):
        session = gr.State(None)  # AssessorSession, on the server only
        web.assessor_session = session
        opened = gr.State(None)  # the submission shown: {"id", "criteria", "ai"}
        message = gr.Markdown(NOT_CONFIGURED if accounts.assessors_file() is None else "", latex_delimiters=[])
        with gr.Column(visible=True) as login_panel:
            with gr.Row():
                username = gr.Textbox(label="Username", max_lines=1)
                password = gr.Textbox(label="Password", type="password", max_lines=1)
            login = gr.Button("Log in", variant="primary")
        with gr.Column(visible=False) as work_panel:
            with gr.Row(equal_height=True):
                who = gr.Markdown("")
                logout = gr.Button("Log out", size="sm", scale=0, min_width=110)
            with gr.Row(equal_height=True):
                sort = gr.Radio([("Oldest first", "age"), ("Most urgent reason first", "reason")], value="age",
                                label="Order")
                credential = gr.Dropdown([("All credentials", ""), *_credential_choices(web.catalogue)], value="",
                                         label="Credential")
                refresh = gr.Button("Refresh queue", scale=0, min_width=150)
            queue_table = gr.Dataframe(label="Review queue", interactive=False, wrap=True)
            with gr.Row(equal_height=True):
                pick = gr.Dropdown(choices=[], value=None, label="Submission", scale=3)
                claim = gr.Button("Claim", variant="primary", scale=0, min_width=110)
                release = gr.Button("Release", scale=0, min_width=110)
            header = gr.Markdown("Choose a submission from the queue.", latex_delimiters=[])
            with gr.Column(visible=False) as detail_panel:
                with gr.Row(equal_height=False):
                    with gr.Column():
                        evidence = gr.Textbox(label="Evidence (extracted text, links, reflection)", lines=24,
                                              max_lines=40, interactive=False, buttons=["copy"],
                                              elem_id="grader-evidence")
                    with gr.Column():
                        ai_grade = gr.Markdown("", latex_delimiters=[], max_height=640)
                gr.Markdown("#### Your decision\nKeep or change each level; a changed level needs a reason (its "
                            "own note, or the comment below).")
                rows, levels, notes = [], [], []
                for slot in range(MAX_CRITERIA):
                    with gr.Row(equal_height=True, visible=False) as row:
                        levels.append(gr.Dropdown(choices=[], value=None, visible=False, scale=1,
                                                  label=f"Criterion {slot + 1}"))
                        notes.append(gr.Textbox(value="", visible=False, label="Why change it?", max_lines=3,
                                                scale=2))
                    rows.append(row)
                comment = gr.Textbox(label="Comment for the learner (required when your decision goes against "
                                           "the rubric's result)", lines=2, max_lines=8)
                with gr.Row():
                    approve = gr.Button("Approve", variant="primary")
                    reject = gr.Button("Reject", variant="stop")
                    resubmit = gr.Button("Send back for resubmission")
            gr.Markdown("#### Agreement with the AI grader (per criterion)")
            stats = gr.Dataframe(interactive=False, wrap=True)
            with gr.Row(equal_height=True):
                errored = gr.Dropdown(choices=[], value=None, scale=3,
                                      label="Grading stopped with an error (refresh the queue to update)")
                retry = gr.Button("Retry grading", scale=0, min_width=150)

    frame = [session, message, login_panel, work_panel, who]
    queue_out = [queue_table, pick, stats]
    detail_out = [opened, header, detail_panel, evidence, ai_grade, *rows, *levels, *notes, comment]
    login_io = dict(fn=web.login, inputs=[username, password, sort, credential], outputs=[*frame, password, *queue_out])
    login.click(**login_io, api_name="assessor_login")
    password.submit(**login_io, api_visibility="private")
    logout.click(web.logout, inputs=[session, opened], outputs=[*frame, *queue_out, *detail_out],
                 api_name="assessor_logout")
    gr.on([refresh.click, sort.change, credential.change], web.refresh, inputs=[session, sort, credential, pick],
          outputs=[*frame, *queue_out], api_name="review_queue")
    pick.change(web.open, inputs=[session, pick], outputs=[*frame, *detail_out], api_name="open_submission")
    lease_in = [session, opened, sort, credential]
    claim.click(web.claim, inputs=lease_in, outputs=[*frame, *queue_out, header], api_name="claim")
    release.click(web.release, inputs=lease_in, outputs=[*frame, *queue_out, header], api_name="release")
    for button, decision in ((approve, "approve"), (reject, "reject"), (resubmit, "resubmit")):
        button.click(_decider(web, decision), inputs=[*lease_in, *levels, *notes, comment],
                     outputs=[*frame, *queue_out, *detail_out], api_name=decision)
    gr.on([who.change, refresh.click], web.errored, inputs=[session], outputs=[errored],
          api_visibility="private")
    retry.click(web.retry, inputs=[session, errored], outputs=[*frame, errored], api_name="retry_grading")
    return web


def _decider(web: GraderWeb, decision: Decision) -> Callable[..., tuple[Any, ...]]:
    def decide(*args: Any) -> tuple[Any, ...]:
        return web.decide(decision, *args)

    decide.__name__ = decision
    return decide


def add_grader_tabs(demo: gr.Blocks, service: GraderService, key: gr.BrowserState | None = None) -> GraderWeb:
    """Add both grader tabs ("Submit evidence", "Assessor") to ``demo``; call inside ``with demo:``.
    ``key``: the app's learner key (see :func:`add_learner_tab`)."""
    web = GraderWeb(service)
    add_learner_tab(demo, service, web, key)
    add_assessor_tab(demo, service, web)
    return web


def build_grader_app(service: GraderService) -> gr.Blocks:
    """A web app with only the grader tabs."""
    with gr.Blocks(title="Stackwise grader", analytics_enabled=False) as demo:
        gr.Markdown("# Stackwise evidence and review")
        add_grader_tabs(demo, service)
    return demo

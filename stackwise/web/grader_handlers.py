"""The event handlers of the grader tabs (:class:`GraderWeb`: the learner half from
:class:`stackwise.web.grader_learner.LearnerHandlers`, the assessor half here).

A thin adapter over :class:`grader.service.GraderService` and its queue: every decision, total and lock comes
from them; these handlers only render their views (:mod:`stackwise.web.grader_render`) and turn their typed
errors into messages (never a traceback). Identity (learner keys, assessor sessions, log-in throttling) comes
from :mod:`stackwise.identity`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from stackwise.config import enforce_offline

enforce_offline()  # GRADIO_ANALYTICS_ENABLED=False and friends, before gradio is imported
import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402

from grader import accounts  # noqa: E402
from grader.api import (  # noqa: E402
    ClaimConflict,
    Decision,
    GraderError,
    GraderService,
    QueueItem,
    Status,
    SubmissionDetail,
    assessors_configured,  # noqa: E402
)
from stackwise.identity import (  # noqa: E402
    SESSION_SECONDS,
    AssessorSession,
    LoginThrottle,
    client_address,
)
from stackwise.web.grader_learner import LearnerHandlers, problem  # noqa: E402
from stackwise.web.grader_render import (  # noqa: E402
    MAX_CRITERIA,
    QUEUE_COLUMNS,
    _age,
    _criteria,
    _points,
    _when,
    queue_rows,
    render_ai_grade,
    render_evidence,
    render_header,
)
from stackwise.web.text import md_text  # noqa: E402

log = logging.getLogger(__name__)

NOT_CONFIGURED = ("Log-in is not available yet: this instance has no assessor accounts. The operator sets them up "
                  "(see the README, or `python -m grader.accounts --help`).")
OPERATOR_WARNING = ("no assessor accounts are configured (%s): submissions the AI grader sends to review wait "
                    "until an assessor can log in; learners are told so. Create accounts with `python -m "
                    "grader.accounts hash` and set %s (see the README)")
_warned: list[bool] = []  # the operator is warned once per process


def warn_if_no_assessors() -> bool:
    """Log a warning to the operator, once per process, when nobody can log in as an assessor. Returns
    whether it warned now."""
    if _warned or assessors_configured():
        return False
    where = accounts.assessors_file()
    state = f"{accounts.ASSESSORS_FILE_ENV} is not set" if where is None else f"{where} has no valid account"
    log.warning(OPERATOR_WARNING, state, accounts.ASSESSORS_FILE_ENV)
    _warned.append(True)
    return True


N_DETAIL = 5 + 3 * MAX_CRITERIA + 1  # outputs of an opened submission (see GraderWeb._detail)
DECIDED = {"approve": "Approved", "reject": "Rejected", "resubmit": "Sent back for resubmission"}


# --------------------------------------------------------------------------------------------------
# Event handlers


class GraderWeb(LearnerHandlers):
    """The event handlers of the grader tabs; plain functions of their inputs, wired by the ``add_*`` functions.

    Each returns a tuple in the order of the outputs it is wired to (see
    :func:`stackwise.web.grader_tabs.add_learner_tab`, :func:`stackwise.web.grader_tabs.add_assessor_tab`).
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
        table = pd.DataFrame(queue_rows(self.catalogue, items), columns=QUEUE_COLUMNS)
        choices = [(f"{i.submission_id[:8]} · {i.credential_id} · waiting {_age(i.age_seconds)}", i.submission_id)
                   for i in items]
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
            return refused(problem(exc))
        if assessor is None:
            self.throttle.failed(client, username)
            return refused("Wrong username or password.")
        self.throttle.succeeded(client, username)
        live = AssessorSession(assessor=assessor, expires_at=self._clock() + SESSION_SECONDS)
        log.info("assessor %s logged in", assessor.username)
        try:
            queue = self._queue(sort, credential_id)
        except Exception as exc:
            return (*self._frame(live, problem(exc)), clear, gr.skip(), gr.skip(), gr.skip())
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
            return (*self._frame(live, problem(exc)), gr.skip(), gr.skip(), gr.skip())

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
            return (*self._frame(live, problem(exc)), *self._no_detail())

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
            return (*self._frame(live, problem(exc)), *(gr.skip(),) * 4)
        try:
            detail = self.queue.get_submission(sid, assessor=live.assessor)
            assert isinstance(detail, SubmissionDetail)
            header = render_header(self.catalogue, detail, live.assessor, datetime.fromtimestamp(self._clock(), UTC))
            return (*self._frame(live, message), *self._queue(sort, credential_id, sid), header)
        except Exception as exc:
            return (*self._frame(live, f"{message} ({problem(exc)})"), *(gr.skip(),) * 4)

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
            return (*self._frame(live, problem(exc)), *(gr.skip(),) * (3 + N_DETAIL))
        changed = sum(1 for c in result.criteria if c.source == "assessor")
        message = (f"{DECIDED[result.decision]}: submission `{sid}` — {_points(result.total_points, result.max_points)}"
                   f" points, {changed} level(s) changed; status **{result.status.value}**"
                   + (" — ready to issue." if result.status is Status.approved else "."))
        log.info("assessor %s decided %s on %s", live.assessor.username, result.decision, sid)
        try:
            return (*self._frame(live, message), *self._queue(sort, credential_id), *self._no_detail())
        except Exception as exc:
            return (*self._frame(live, f"{message} ({problem(exc)})"), *(gr.skip(),) * (3 + N_DETAIL))

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
            return (*self._frame(live, problem(exc)), gr.skip())
        return (*self._frame(live, message), self.errored(live))

"""The learner tab's handlers (:class:`LearnerHandlers`): submit evidence, list one's own submissions.

Validation of what is sent (links, reflective statement, email) is :class:`grader.models.SubmissionIn`'s; a
refusal is one line ("Nothing was sent: ..."). The learner is the browser's key (:mod:`stackwise.identity`).
Uploads Gradio left behind are deleted once their bytes are stored (:func:`discard_uploads`).
"""

from __future__ import annotations

import contextlib
import logging
import mimetypes
import re
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from stackwise.config import enforce_offline

enforce_offline()  # GRADIO_ANALYTICS_ENABLED=False and friends, before gradio is imported
import gradio as gr  # noqa: E402
import gradio.utils as gr_utils  # noqa: E402

from grader.api import (  # noqa: E402
    DOCX,
    MAX_TOTAL_CHARS,
    EvidenceError,
    GraderError,
    GraderService,
    Status,
    SubmissionIn,
    SubmissionView,
    UnknownCredential,
    Unreadable,
    assessors_configured,
    check_archive,
    describe_wait,
    estimate_wait,
    sniff_media_type,
)
from stackwise.identity import KEY_PREFIX, learner_id_for_key, new_learner_key, parse_learner_key  # noqa: E402
from stackwise.web.grader_render import (  # noqa: E402
    LEARNER_STATUS,
    NO_ASSESSOR,
    render_rubric,
    render_submissions,
)
from stackwise.web.text import md_text  # noqa: E402

log = logging.getLogger(__name__)

PENDING = frozenset({Status.received, Status.grading})
PASTED_FILENAME = "pasted-evidence.txt"  # pasted text is stored as this plain-text file, beside any uploads


def problem(exc: Exception) -> str:
    log.exception("grader tab action failed")
    return f"Something went wrong ({type(exc).__name__}); please try again. The details are in the server log."


class LearnerHandlers:
    """The "Submit evidence" tab's handlers (the learner half of :class:`stackwise.web.grader_handlers.GraderWeb`)."""

    service: GraderService
    queue: Any
    catalogue: Any

    # ---- learner ---------------------------------------------------------------------------------

    def _submissions(self, key: str | None) -> tuple[str, Any]:
        """(markdown, timer update): the learner's own submissions; the timer polls while any is pending."""
        if key is None:
            return "This browser has no learner key yet; reload the page.", gr.Timer(active=False)
        try:
            views = self.queue.submissions_for_learner(learner_id_for_key(key))
            notes = self._review_notes(views)
        except Exception as exc:
            return problem(exc), gr.Timer(active=False)
        return (render_submissions(self.catalogue, views, notes),
                gr.Timer(active=any(v.status in PENDING for v in views)))

    def _review_notes(self, views: Sequence[SubmissionView]) -> dict[str, str]:
        """What happens next to each submission in review: the estimated wait for an assessor (from the queue
        and recent decisions, :func:`grader.api.estimate_wait`), or that no assessor is set up yet."""
        waiting = [v for v in views if v.status is Status.review]
        if not waiting:
            return {}
        if not assessors_configured():
            return {v.id: NO_ASSESSOR for v in waiting}
        items = self.queue.list_queue(sort="age")  # reviewed oldest first
        place = {item.submission_id: (n, item.age_seconds) for n, item in enumerate(items)}
        history = self.queue.review_times()
        notes = {}
        for view in waiting:
            ahead, waited = place.get(view.id, (len(items), 0.0))
            notes[view.id] = f"{LEARNER_STATUS[Status.review]} {describe_wait(estimate_wait(ahead, waited, history))}"
        return notes

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
               token: str | None, pasted: str | None = None) -> tuple[Any, ...]:
        """Store the evidence and grade it in the background.

        ``pasted``: evidence pasted into the form; it is stored as a plain-text file (:data:`PASTED_FILENAME`)
        beside any uploaded files and read by the same intake (type, size and text limits, the injection
        screen), so pasting and uploading a ``.txt`` are the same to the grader. Both may be given: they are
        combined.

        Outputs: message, submissions, timer, files, links, reflection, idempotency token, paste box.
        """
        keep = (gr.skip(),) * 7

        def refuse(message: str) -> tuple[Any, ...]:
            return (message, *keep)

        key = parse_learner_key(stored)
        if key is None:
            return refuse("This browser has no learner key yet; reload the page and submit again.")
        if not credential_id:
            return refuse("Please choose the credential this evidence is for.")
        paths = [files] if isinstance(files, str) else list(files or [])
        links = [t for t in re.split(r"[\s,]+", links_text or "") if t]
        reflection = (reflection or "").strip()
        name = " ".join((name or "").split())[:200]
        email = (email or "").strip() or None  # links, reflection and email are checked by SubmissionIn
        pasted = pasted if isinstance(pasted, str) else ""
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
        if pasted.strip():
            refusal = self._pasted_refusal(pasted)
            if refusal:
                return refuse(refusal)
            uploads.append((PASTED_FILENAME, pasted.encode("utf-8"), "text/plain"))
        elif pasted and not uploads and not links and not reflection:
            return refuse("Nothing was sent: the pasted evidence is empty (only spaces or blank lines). Paste your "
                          "text, or upload a file.")
        if not uploads and not links and not reflection:
            return refuse("Nothing was sent: add at least one file, pasted evidence, a link or a reflective "
                          "statement.")
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
            return refuse(problem(exc))
        kept = (f" Your pasted text is kept as *{PASTED_FILENAME}*"
                + (f" beside {len(paths)} uploaded file(s)." if paths else ".") if pasted.strip() else "")
        if view.status in PENDING:
            message = (f"**Received — being graded.** Submission id: `{view.id}`. The result appears under "
                       f"*My submissions* below (grading takes a few minutes).{kept}")
        elif view.status is Status.error:
            message = (f"Stored as submission `{view.id}`, but it cannot be graded: "
                       f"{md_text(view.error_message or 'unknown problem')}. Fix the evidence and submit again.")
        else:
            message = f"Already received: submission `{view.id}` is {view.status.value}."
        listing = self._submissions(key)
        discard_uploads(paths)  # the bytes are in the database now
        return (message, *listing, None, "", "", new_token(), "")

    def _pasted_refusal(self, pasted: str) -> str:
        """Why pasted evidence cannot be sent ("" when it can): over the evidence's text budget or the file limit."""
        if len(pasted) > MAX_TOTAL_CHARS:
            return (f"Nothing was sent: the pasted evidence has {len(pasted):,} characters; the limit is "
                    f"{MAX_TOTAL_CHARS:,}. Paste the most relevant excerpts.")
        size, limit = len(pasted.encode("utf-8")), self.service.intake_limits.max_file_bytes
        if size > limit:
            return (f"Nothing was sent: the pasted evidence is {size / 1_048_576:.1f} MB; the limit is "
                    f"{limit / 1_048_576:.0f} MB. Paste the most relevant excerpts.")
        return ""


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


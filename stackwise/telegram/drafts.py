"""The pure parts of Telegram submissions: the draft a learner assembles, which documents are evidence, and
how a submission's result reads in a chat message."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING

from grader.api import DOCX, MAX_FILE_BYTES, PDF, Status, SubmissionIn, SubmissionView, assessors_configured

if TYPE_CHECKING:
    from knowledge.api import Credential

TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024  # the Bot API's getFile serves files up to 20 MB
MAX_DOCUMENT_BYTES = min(TELEGRAM_DOWNLOAD_LIMIT, MAX_FILE_BYTES)
MAX_DRAFT_FILES = 10
MAX_STATUS_LINES = 10
ACCEPTED_TYPES = {".txt": "text/plain", ".md": "text/markdown", ".markdown": "text/markdown", ".pdf": PDF,
                  ".docx": DOCX}
_EXTENSION_FOR_TYPE = {"text/plain": ".txt", "text/markdown": ".md", "text/x-markdown": ".md", PDF: ".pdf",
                       DOCX: ".docx"}
_IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".heif", ".tif", ".tiff", ".bmp"}
TEXT_FILENAME = "telegram-messages.txt"
NOT_IMAGES = ("Photos and scanned images cannot be graded: the grader reads text, and an image has none it can "
              "use. Send your evidence as text messages, a PDF with selectable text, a DOCX, or a .txt/.md file.")

STATUS_LABELS = {
    Status.received: "received, waiting to be graded",
    Status.grading: "being graded",
    Status.passed: "passed",
    Status.failed: "not passed",
    Status.review: "under review by an assessor",
    Status.approved: "approved by an assessor",
    Status.rejected: "not approved by an assessor",
    Status.resubmission_requested: "resubmission requested by an assessor",
    Status.error: "could not be graded",
}


# ------------------------------------------------------------------ drafts


@dataclass
class Draft:
    """A submission being prepared in one chat. Parts are kept with their message id: updates are processed
    concurrently, so the submission orders them as the learner sent them."""

    credential_id: str
    chat_id: int
    files: list[tuple[int, str, bytes, str]] = field(default_factory=list)  # (message id, name, data, type)
    texts: list[tuple[int, str]] = field(default_factory=list)
    reflection: list[tuple[int, str]] = field(default_factory=list)
    reflecting: bool = False

    def is_empty(self) -> bool:
        return not (self.files or self.texts or self.reflection)

    def text_chars(self) -> int:
        return sum(len(t) for _, t in self.texts) + sum(len(t) for _, t in self.reflection)

    def summary(self) -> str:
        parts = []
        if self.files:
            names = ", ".join(name for _, name, _, _ in sorted(self.files, key=lambda f: f[0]))
            parts.append(f"{len(self.files)} file(s) ({names})")
        if self.texts:
            words = sum(len(t.split()) for _, t in self.texts)
            parts.append(f"{len(self.texts)} text message(s), {words} words")
        if self.reflection:
            words = sum(len(t.split()) for _, t in self.reflection)
            parts.append(f"a reflective statement of {words} words")
        return "; ".join(parts) if parts else "nothing yet"

    def to_submission(self, learner: str, learner_name: str, key: str) -> SubmissionIn:
        files = [(name, data, media_type) for _, name, data, media_type in sorted(self.files, key=lambda f: f[0])]
        if self.texts:
            text = "\n\n".join(t for _, t in sorted(self.texts))
            files.append((TEXT_FILENAME, text.encode("utf-8"), "text/plain"))
        reflection = "\n\n".join(t for _, t in sorted(self.reflection))
        return SubmissionIn(credential_id=self.credential_id, learner_id=learner, learner_name=learner_name[:200],
                            files=files, reflection=reflection, idempotency_key=key)


def evidence_filename(file_name: str | None, mime_type: str | None) -> tuple[str, str] | str:
    """``(filename, media type)`` for an accepted document, or the message explaining why it is not accepted."""
    name = PurePath(file_name or "").name.strip()
    suffix = PurePath(name).suffix.lower()
    mime = (mime_type or "").lower()
    if mime.startswith("image/") or suffix in _IMAGE_EXTENSIONS:
        return NOT_IMAGES
    if suffix not in ACCEPTED_TYPES:
        extension = _EXTENSION_FOR_TYPE.get(mime)
        if extension is None:
            shown = suffix or mime or "this kind of file"
            return (f"I cannot grade {name or 'this file'}: {shown} files are not accepted. "
                    "Send .txt, .md, .pdf (with selectable text) or .docx.")
        name, suffix = (name or "evidence") + extension, extension
    if len(name) > 255:
        name = name[: 255 - len(suffix)] + suffix
    return name, mime if mime and len(mime) <= 200 else ACCEPTED_TYPES[suffix]


# ------------------------------------------------------------------ formatting


def _points(view: SubmissionView) -> str:
    if view.total_points is None or view.max_points is None:
        return ""
    return f"{view.total_points:g}/{view.max_points:g} points"


def status_label(view: SubmissionView) -> str:
    label = STATUS_LABELS.get(view.status, view.status.value)
    if view.status == Status.error and view.error_message:
        label += f" ({view.error_message})"
    points = _points(view)
    return f"{label}, {points}" if points else label


def _criteria_lines(view: SubmissionView, credential: Credential | None) -> list[str]:
    criteria = {c.id: c for c in credential.rubric.criteria} if credential is not None else {}
    lines = []
    for outcome in view.criteria:
        criterion = criteria.get(outcome.criterion_id)
        title = criterion.title if criterion else outcome.criterion_id
        levels = {lv.id: lv for lv in criterion.levels} if criterion else {}
        level = levels.get(outcome.level_id)
        line = f"- {title}: {level.label} ({level.points:g} points)" if level else f"- {title}: {outcome.level_id}"
        if outcome.comment.strip():
            line += f". {outcome.comment.strip()}"
        if outcome.next_step.strip():
            line += f" Next: {outcome.next_step.strip()}"
        lines.append(line)
    return lines


def format_result(view: SubmissionView, credential: Credential | None) -> str:
    """What a learner is told about one of their submissions: the decision, points and per-criterion levels."""
    title = f"{credential.title} ({view.credential_id})" if credential is not None else view.credential_id
    what = f"Your submission {view.id} for {title}"
    points = _points(view)
    retry = f"You can improve your evidence and submit again with /submit {view.credential_id}."
    if view.status == Status.passed:
        head = f"{what} passed" + (f" with {points}." if points else ".")
        if view.ready_to_issue:
            head += " Your credential is ready to be issued."
    elif view.status == Status.failed:
        head = f"{what} did not pass" + (f": {points}" if points else "")
        if credential is not None:
            rubric = credential.rubric
            head += f" (the pass mark is {rubric.pass_threshold} points"
            if rubric.min_points_each:
                head += f", with at least {rubric.min_points_each} on every criterion"
            head += ")"
        head += f". {retry}"
    elif view.status == Status.review:
        head = (f"{what} will be decided by an assessor, who reviews the grade before it counts. "
                "I will send you the decision here when it is made; /status shows it too."
                if assessors_configured() else
                f"{what} needs an assessor's review, but this instance has no assessor yet: your submission is "
                "kept and will be reviewed when one is set up. I will send you the decision here; /status shows "
                "it too.")
    elif view.status == Status.approved:
        head = f"{what} was approved by an assessor" + (f" with {points}." if points else ".")
    elif view.status == Status.rejected:
        head = f"{what} was not approved by an assessor" + (f" ({points})." if points else ".") + f" {retry}"
    elif view.status == Status.resubmission_requested:
        head = f"{what}: an assessor asked you to submit again. {retry}"
    elif view.status == Status.error:
        head = (f"{what} could not be graded: {view.error_message or 'no reason was recorded'}. "
                f"Send /submit {view.credential_id} to try again with readable evidence.")
    else:
        head = f"{what} is {STATUS_LABELS.get(view.status, view.status.value)}."
    lines = [head]
    if view.comment.strip():
        lines.append(f"Assessor's comment: {view.comment.strip()}")
    criteria = _criteria_lines(view, credential)
    if criteria:
        lines.append("\n".join(["By criterion:", *criteria]))
    return "\n\n".join(lines)

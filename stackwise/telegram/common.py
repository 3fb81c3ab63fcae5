"""What the Telegram chat and submission handlers share: who a learner is, how a long reply is cut, and the
filter that keeps the bot token out of log records."""

from __future__ import annotations

import logging

from telegram import User
from telegram.constants import MessageLimit

from stackwise.identity import telegram_learner_id


def _utf16_len(text: str) -> int:
    """Telegram counts message length in UTF-16 code units (an emoji outside the BMP counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def _fitting_prefix(text: str, limit: int) -> int:
    """Length (in characters) of the longest prefix of ``text`` within ``limit`` UTF-16 units."""
    used = 0
    for i, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > limit:
            return i
    return len(text)


def split_message(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Split ``text`` into non-empty parts of at most ``limit`` (UTF-16 units), cutting at the last
    paragraph break, else line break, else space that keeps a part at least half full; a single
    unbroken run longer than ``limit`` is cut hard. Whitespace at each cut (and around the text) is
    dropped; nothing else is changed, so the parts are consecutive pieces of the original text.
    """
    if limit < 2:
        raise ValueError("limit must be at least 2 (one emoji takes two UTF-16 units)")
    parts: list[str] = []
    rest = text.strip()
    while rest:
        if _utf16_len(rest) <= limit:
            parts.append(rest)
            break
        fit = _fitting_prefix(rest, limit)
        cut = fit  # hard cut unless a boundary is found
        for separator, min_fill in (("\n\n", fit // 2), ("\n", fit // 2), (" ", 1), ("\t", 1)):
            # the separator may start right after the fitting prefix: it is dropped at the cut
            at = rest.rfind(separator, 0, fit + len(separator))
            if at >= max(min_fill, 1):
                cut = at
                break
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return parts


def learner_id(user: User) -> str:
    """A Telegram learner is their account (which Telegram authenticates), never a name."""
    return telegram_learner_id(user.id)


class _Redactor(logging.Filter):
    """Replaces bot tokens in log records (message and traceback) with ``[telegram token]``."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[telegram token]")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


redactor = _Redactor()  # every Telegram module's logger carries it

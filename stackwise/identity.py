"""Web learner keys: the only way a web learner is identified (chat, submissions and credentials alike).

A key is ``swk-`` + 24 URL-safe characters (144 random bits), made in the browser's first visit and kept in
its localStorage (``gr.BrowserState`` with :data:`KEY_STORAGE`), so it survives reloads and browser restarts;
pasting it in another browser moves the learner there. The database stores only :func:`learner_id_for_key`,
a hash of the key, so a key cannot be read back from it. A typed name is never an identity.
"""

from __future__ import annotations

import hashlib
import re
import secrets

KEY_PREFIX = "swk-"
KEY_STORAGE = "stackwise-learner-key"  # the localStorage entry
# gr.BrowserState "encrypts" localStorage with a secret that is sent to the browser in the page config:
# obfuscation, not secrecy. It is fixed so the stored key survives a server restart.
KEY_STORAGE_OBFUSCATION = "stackwise-learner-key-v1"
WEB_LEARNER_PREFIX = "webkey-"
_KEY = re.compile(r"^swk-[A-Za-z0-9_-]{24}$")


def new_learner_key() -> str:
    """A fresh random learner key (144 bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(18)


def parse_learner_key(text: str | None) -> str | None:
    """The key in ``text`` (whitespace ignored) when it is well-formed, else ``None``."""
    key = "".join((text or "").split()) if isinstance(text, str) else ""
    return key if _KEY.match(key) else None


def learner_id_for_key(key: str) -> str:
    """The learner id stored for a key: a hash of the key, so the database never holds the key."""
    return WEB_LEARNER_PREFIX + hashlib.sha256(key.encode("ascii")).hexdigest()[:40]

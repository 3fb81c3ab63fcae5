"""Who a learner or an assessor is, for every channel (web, Telegram, CLI).

**Web learner keys** are the only way a web learner is identified (chat, submissions and credentials alike).
A key is ``swk-`` + 24 URL-safe characters (144 random bits), made in the browser's first visit and kept in
its localStorage (``gr.BrowserState`` with :data:`KEY_STORAGE`), so it survives reloads and browser restarts;
pasting it in another browser moves the learner there. The database stores only :func:`learner_id_for_key`,
a hash of the key, so a key cannot be read back from it. A typed name is never an identity.

**Telegram learners** are their Telegram account (:func:`telegram_learner_id`), never a name.

**Assessors** log in with ``grader.accounts.authenticate``; the logged-in assessor is an
:class:`AssessorSession` (kept server-side) that expires after :data:`SESSION_SECONDS`. Failed log-ins are
throttled per (client, username), per client and per username (:class:`ThrottlePolicy`, :class:`LoginThrottle`).
"""


from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grader.api import Assessor

KEY_PREFIX = "swk-"
KEY_STORAGE = "stackwise-learner-key"  # the localStorage entry
# gr.BrowserState "encrypts" localStorage with a secret that is sent to the browser in the page config:
# obfuscation, not secrecy. It is fixed so the stored key survives a server restart.
KEY_STORAGE_OBFUSCATION = "stackwise-learner-key-v1"
WEB_LEARNER_PREFIX = "webkey-"
TELEGRAM_LEARNER_PREFIX = "telegram:"
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


def telegram_learner_id(user_id: int) -> str:
    """A Telegram learner is their account (which Telegram authenticates; a private chat has the same id)."""
    return f"{TELEGRAM_LEARNER_PREFIX}{user_id}"


def telegram_user(learner_id: str) -> int | None:
    """The Telegram user id of a Telegram learner's id, else ``None``."""
    prefix, _, user = learner_id.partition(":")
    return int(user) if prefix + ":" == TELEGRAM_LEARNER_PREFIX and user.lstrip("-").isdigit() else None


SESSION_SECONDS = 8 * 60 * 60  # an assessor logs in again after this
LOGIN_FAILURES_ALLOWED = 5  # per (client, username) within LOGIN_LOCKOUT_SECONDS (see ThrottlePolicy)
LOGIN_LOCKOUT_SECONDS = 5 * 60


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


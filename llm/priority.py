"""Who goes first at the model: a learner waiting for a chat answer, before background grading work.

A model instance has one KV cache and runs one call at a time. Callers mark their calls with a priority
through a context variable, so no :class:`~llm.base.TextModel` signature changes and a
backend or caller that knows nothing of priorities keeps working (unmarked calls are interactive)::

    with background_priority():        # the grader's feedback and checks
        model.chat(...)

Backends guard their model with a :class:`PriorityLock`: a waiting interactive caller acquires before any
waiting background caller, and a background holder can hand the model over mid-call
(:meth:`PriorityLock.yield_to_interactive`) between prompt segments or generated tokens, saving and
restoring its own state around the interactive call (see ``llama_cpp_backend``).
"""

from __future__ import annotations

import contextvars
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from enum import IntEnum

__all__ = ["Priority", "PriorityLock", "background_priority", "current_priority", "model_priority"]


class Priority(IntEnum):
    """Lower runs first."""

    interactive = 0
    background = 1


_current: contextvars.ContextVar[Priority] = contextvars.ContextVar("stackwise_model_priority",
                                                                    default=Priority.interactive)


def current_priority() -> Priority:
    """The priority of model calls made from here (interactive unless a caller said otherwise)."""
    return _current.get()


@contextmanager
def model_priority(priority: Priority) -> Iterator[None]:
    """Model calls made inside this block (in this thread / context) run at ``priority``."""
    token = _current.set(Priority(priority))
    try:
        yield
    finally:
        _current.reset(token)


def background_priority() -> AbstractContextManager[None]:
    """Model calls made inside this block yield to interactive ones."""
    return model_priority(Priority.background)


# Lines a caller waits in, first served first: a chat that has no answer yet, a chat already answering (it
# has shown its first token and may pause for a newer chat), background work.
_NEW, _ANSWERING, _BACKGROUND = 0, 1, 2
_LEVEL = {Priority.interactive: _NEW, Priority.background: _BACKGROUND}


class PriorityLock:
    """A lock whose waiters are served by priority, then first come first served.

    Three lines: interactive callers that have not produced anything yet, interactive callers that already
    have (:meth:`answering`), background callers. Not re-entrant, and not tied to a thread: a streaming
    generator is often resumed on another worker thread than the one that took the lock, and that thread
    may meanwhile start another caller's request, which must wait (a thread-owned re-entrant lock would let
    it in and two calls would share one KV cache). :meth:`yield_turn` lets a holder hand the lock to callers
    of an earlier line and take it back before anyone else of its own line.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._held = False
        self._held_level: int | None = None
        self._waiting: dict[int, deque[object]] = {level: deque() for level in (_NEW, _ANSWERING, _BACKGROUND)}
        self.prioritise = True  # False: one first-come-first-served line, no handovers (for comparisons)
        self.handovers = 0  # how often a holder paused for a caller of an earlier line

    # ---- acquire / release ------------------------------------------------------------------------
    def acquire(self, priority: Priority | None = None) -> None:
        level = _LEVEL[current_priority() if priority is None else Priority(priority)]
        with self._cond:
            self._wait_turn(level if self.prioritise else _NEW, object(), front=False)
            self._held, self._held_level = True, level

    def release(self) -> None:
        with self._cond:
            if not self._held:
                raise RuntimeError("release of an unheld PriorityLock")
            self._held, self._held_level = False, None
            self._cond.notify_all()

    @contextmanager
    def hold(self, priority: Priority | None = None) -> Iterator[None]:
        self.acquire(priority)
        try:
            yield
        finally:
            self.release()

    def __enter__(self) -> PriorityLock:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()

    # ---- state --------------------------------------------------------------------------------------
    @property
    def held_priority(self) -> Priority | None:
        """The priority of the current holder (None when free)."""
        with self._cond:
            if self._held_level is None:
                return None
            return Priority.background if self._held_level == _BACKGROUND else Priority.interactive

    def waiting(self, priority: Priority) -> int:
        """How many callers of ``priority`` wait for the lock (interactive: both interactive lines)."""
        with self._cond:
            if priority is Priority.background:
                return len(self._waiting[_BACKGROUND])
            return len(self._waiting[_NEW]) + len(self._waiting[_ANSWERING])

    def answering(self) -> None:
        """The interactive holder has produced its first output: from now on it pauses for a newer chat."""
        with self._cond:
            if self._held_level == _NEW:
                self._held_level = _ANSWERING

    def should_yield(self) -> bool:
        """True when a caller of an earlier line than the holder's waits."""
        with self._cond:
            return self._should_yield()

    def _should_yield(self) -> bool:
        if not self.prioritise or self._held_level is None:
            return False
        return any(self._waiting[level] for level in range(self._held_level))

    def yield_turn(self, save: Callable[[], object] | None = None,
                   restore: Callable[[object], None] | None = None) -> bool:
        """If a caller of an earlier line waits: ``save()`` the holder's state, let every such caller run, take
        the lock back (ahead of the others of its own line) and ``restore(state)``. Returns whether it
        yielded. Call only while holding the lock."""
        if not self.should_yield():
            return False
        state = save() if save is not None else None
        with self._cond:
            level = self._held_level
            assert level is not None
            self._held, self._held_level = False, None
            self.handovers += 1
            self._cond.notify_all()
            self._wait_turn(level, object(), front=True)
            self._held, self._held_level = True, level
        if restore is not None:
            restore(state)
        return True

    yield_to_interactive = yield_turn  # a background holder's view of the same

    def _wait_turn(self, level: int, ticket: object, *, front: bool) -> None:
        """Queue ``ticket`` and wait (holding ``_cond``) until the lock is free and it is first in line."""
        line = self._waiting[level]
        line.appendleft(ticket) if front else line.append(ticket)
        try:
            while self._held or self._first() is not ticket:
                self._cond.wait()
        finally:
            line.remove(ticket)
            self._cond.notify_all()  # the next in line may be able to go (or must see this one gone)

    def _first(self) -> object | None:
        for level in (_NEW, _ANSWERING, _BACKGROUND):
            if self._waiting[level]:
                return self._waiting[level][0]
        return None

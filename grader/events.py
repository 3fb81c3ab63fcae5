"""Listeners held by one instance: who hears an event is decided where that instance is built (the wiring).

There is no module-level registry: a :class:`grader.api.GraderQueue` announces *ready to issue* only to the
listeners given to it (``listeners=`` or :meth:`Listeners.subscribe`), and an issuance service announces
issued credentials only to its own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

E = TypeVar("E")


class Listeners(Generic[E]):
    """Callbacks for one kind of event, per instance and thread-safe.

    :meth:`emit` calls each in the emitting thread; a callback's exception is logged, never propagated (the
    event has already happened: a committed decision, an issued credential).
    """

    def __init__(self, name: str, callbacks: Iterable[Callable[[E], None]] = ()):
        self._name = name
        self._callbacks: list[Callable[[E], None]] = list(callbacks)
        self._lock = threading.Lock()

    def subscribe(self, callback: Callable[[E], None]) -> Callable[[], None]:
        """Add ``callback``; returns the function that removes it again."""
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def emit(self, event: E, about: str) -> None:
        """Call every callback with ``event`` (``about`` names it in the log if one fails)."""
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(event)
            except Exception:  # a broken consumer must not undo what already happened
                log.exception("%s listener %r failed for %s", self._name, callback, about)

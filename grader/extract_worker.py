"""Parse one DOCX or PDF in a child process with a wall-time and a memory limit.

The parent (:func:`extract_isolated`, called by :func:`grader.evidence.extract_file`) starts
``python -m grader.extract_worker MEDIA_TYPE LIMITS_JSON``, writes the file's bytes to its stdin and
reads one JSON :class:`WorkerReply` from its stdout. The child caps its own address space
(``RLIMIT_AS``) and CPU time before reading anything; the parent kills it when the wall-time limit
passes. A fresh interpreter (not a fork) is used: it is safe to start from any thread of a server
holding a model, and the child imports only the parsers. Learner file names never reach the child.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel, ValidationError

from grader.errors import ERRORS_BY_CODE, EvidenceError, ExtractionMemory, ExtractionTimeout, Unreadable
from grader.parsers import DOCX, PDF, IntakeLimits, docx_text, megabytes, pdf_text

logger = logging.getLogger(__name__)
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # the child imports this same code
PARSERS = {DOCX: docx_text, PDF: pdf_text}
_MEMORY_SIGNS = ("MemoryError", "bad_alloc", "Cannot allocate memory", "out of memory")


class WorkerReply(BaseModel):
    """The child's answer: the text, or the code and message of the :class:`EvidenceError` it met."""

    text: str | None = None
    code: str | None = None
    message: str | None = None


def _timeout_error(limits: IntakeLimits, filename: str | None) -> ExtractionTimeout:
    return ExtractionTimeout(f"reading it took longer than {limits.timeout_s:g} s, the limit; upload a smaller or "
                             "simpler copy (or paste the text)", filename)


def _memory_error(limits: IntakeLimits, filename: str | None) -> ExtractionMemory:
    return ExtractionMemory(f"reading it needed more than {megabytes(limits.memory_bytes)} of memory, the limit; "
                            "upload a smaller or simpler copy (or paste the text)", filename)


def extract_isolated(media_type: str, data: bytes, limits: IntakeLimits, filename: str | None = None) -> str:
    """The text of a DOCX or PDF, parsed in a child process within ``limits``.

    Raises the child's :class:`EvidenceError` (with ``filename``), :class:`ExtractionTimeout` when the wall time
    runs out (the child is killed), :class:`ExtractionMemory` when it runs out of memory.
    """
    if media_type not in PARSERS:
        raise ValueError(f"no isolated parser for {media_type}")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p)
    command = [sys.executable, "-P", "-m", "grader.extract_worker", media_type, limits.model_dump_json()]
    try:
        done = subprocess.run(command, input=data, capture_output=True, timeout=limits.timeout_s, env=env,
                              check=False)
    except subprocess.TimeoutExpired:  # run() has killed the child and reaped it
        raise _timeout_error(limits, filename) from None
    except OSError as exc:  # no process could be started (resources exhausted): nothing wrong with the file
        logger.warning("could not start the evidence parser: %s", exc)
        raise Unreadable(f"could not be read just now (the parser did not start: {exc.strerror or exc}); "
                         "submit it again later", filename) from exc
    try:
        reply = WorkerReply.model_validate_json(done.stdout) if done.stdout.strip() else None
    except ValidationError:
        reply = None
    if reply is None:
        stderr = done.stderr.decode("utf-8", "replace")
        logger.warning("the evidence parser stopped with exit code %s: %s", done.returncode, stderr[-2000:])
        if done.returncode == -signal.SIGXCPU:
            raise _timeout_error(limits, filename)
        if done.returncode == -signal.SIGKILL or any(sign in stderr for sign in _MEMORY_SIGNS):
            raise _memory_error(limits, filename)
        raise Unreadable(f"could not be read (the parser stopped with exit code {done.returncode})", filename)
    if reply.code is not None:
        if reply.code == ExtractionMemory.code:
            raise _memory_error(limits, filename)
        raise ERRORS_BY_CODE.get(reply.code, EvidenceError)(reply.message or "could not be read", filename)
    return reply.text or ""


# ---- the child ---------------------------------------------------------------------------------


def _limit_resources(limits: IntakeLimits) -> None:
    import resource

    cpu = int(limits.timeout_s) + 2  # a backstop should the parent be gone; the parent's wall limit comes first
    for which, soft, hard in ((resource.RLIMIT_AS, limits.memory_bytes, limits.memory_bytes),
                              (resource.RLIMIT_CPU, cpu, cpu + 1)):  # SIGXCPU at the soft limit, then SIGKILL
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError) as exc:  # a platform without it: the wall-time limit still holds
            print(f"extract_worker: resource limit {which} not set: {exc}", file=sys.stderr)


def _near_memory_limit(limits: IntakeLimits) -> bool:
    """Whether this process's address space came up to its limit (parsers such as lxml report a failed
    allocation as a parse error, not as MemoryError)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return False
    peak = next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmPeak:")), 0)
    return peak >= limits.memory_bytes - max(32 * 1_048_576, limits.memory_bytes // 20)


def _parse(media_type: str, data: bytes, limits: IntakeLimits) -> WorkerReply:
    try:
        return WorkerReply(text=PARSERS[media_type](data, limits))
    except EvidenceError as exc:
        return WorkerReply(code=exc.code, message=exc.reason)
    except MemoryError:
        pass  # answered below, once the parser's objects are released
    except Exception as exc:  # a parser bug or an exotic file: one line for the learner, not a traceback
        return WorkerReply(code=Unreadable.code, message=f"could not be read ({type(exc).__name__})")
    return WorkerReply(code=ExtractionMemory.code)


def _extract(media_type: str, data: bytes, limits: IntakeLimits) -> WorkerReply:
    reply = _parse(media_type, data, limits)
    if reply.code == Unreadable.code and _near_memory_limit(limits):
        return WorkerReply(code=ExtractionMemory.code)
    return reply


def main(argv: list[str] | None = None) -> int:
    media_type, limits_json = argv if argv is not None else sys.argv[1:]
    limits = IntakeLimits.model_validate(json.loads(limits_json))
    _limit_resources(limits)
    data = sys.stdin.buffer.read()
    reply_fd = os.dup(1)
    os.dup2(2, 1)  # whatever a library prints goes to stderr; stdout carries the reply only
    reply = _extract(media_type, data, limits)
    with os.fdopen(reply_fd, "w", encoding="utf-8") as out:
        out.write(reply.model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())

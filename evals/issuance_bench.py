"""Issuance benchmark: how many credentials per second are issued and verified (``stackwise eval issuance``).

In a scratch directory (database and issuer key, removed afterwards) N submissions are seeded as passed through
the real :class:`grader.queue.GraderQueue` (no model: the grade is recorded directly), then:

* **issue** - :meth:`IssuanceService.issue` for each, one after another (build, schema check, RDFC-1.0
  canonicalization, Ed25519 signature, status-list slot, database writes, ``mark_issued``);
* **verify** - :meth:`IssuanceService.verify` for each in this process (schema, proof, live status list,
  validity), then, with ``workers`` > 1, the same checks spread over that many processes (the CPU-bound part
  parallelises; threads would not, because canonicalization is pure Python).

Every issued credential must verify; ``all_valid`` says whether they did.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from grader.models import CriterionGrade, GradeResult, SubmissionIn
from grader.queue import GraderQueue, rubrics_from_catalogue
from issuance.keys import load_or_create_issuer_key
from issuance.service import IssuanceConfig, IssuanceService
from issuance.trust import TrustedIssuer, TrustList
from issuance.verify import verify_credential
from knowledge.schema import Catalogue

PUBLIC_URL = "https://bench.stackwise.example"


class IssuanceBenchResult(BaseModel):
    n: int
    workers: int
    issue_seconds: float
    issue_per_second: float
    issue_ms_p50: float
    issue_ms_p95: float
    verify_seconds: float
    verify_per_second: float
    verify_ms_p50: float
    verify_ms_p95: float
    parallel_verify_seconds: float | None = None  # only with 2 or more workers
    parallel_verify_per_second: float | None = None
    all_valid: bool
    failures: list[str] = []


def _percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def seed_passed(queue: GraderQueue, catalogue: Catalogue, n: int) -> list[str]:
    """``n`` submissions recorded as passed (top level on every criterion), across the catalogue's credentials."""
    credentials = [c for _, c in sorted(catalogue.credentials.items())]
    ids = []
    for i in range(n):
        credential = credentials[i % len(credentials)]
        rubric = credential.rubric
        levels = {c.id: max(c.levels, key=lambda lv: lv.points) for c in rubric.criteria}
        sid = queue.create_submission(SubmissionIn(
            credential_id=credential.id, learner_id=f"bench-learner-{i}", learner_name=f"Learner {i}",
            learner_email=f"learner{i}@example.org", reflection="What I learned.",
            links=[f"https://portfolio.example.org/{i}"], idempotency_key=f"bench-{i}")).id
        queue.start_grading(sid)
        queue.record_grade(sid, GradeResult(
            credential_id=credential.id,
            criteria=[CriterionGrade(criterion_id=cid, level_id=lv.id, confidence=0.9) for cid, lv in levels.items()],
            total_points=sum(lv.points for lv in levels.values()), max_points=rubric.max_points, decision="pass",
            model="bench", prompt_version="bench"))
        ids.append(sid)
    return ids


_WORKER: dict[str, Any] = {}


def _init_worker(trusted: list[TrustedIssuer], status_lists: dict[str, dict[str, Any]]) -> None:
    _WORKER["trust"] = TrustList(trusted)
    _WORKER["lists"] = status_lists


def _verify_in_worker(document: dict[str, Any]) -> bool:
    report = verify_credential(document, trust=_WORKER["trust"], fetch_status_list=_WORKER["lists"].get)
    return report.ok


def run(catalogue: Catalogue, *, n: int = 50, workers: int = 2) -> IssuanceBenchResult:
    """Issue and verify ``n`` credentials in a scratch database; timings per phase."""
    with tempfile.TemporaryDirectory(prefix="stackwise-issuance-bench-") as scratch:
        root = Path(scratch)
        url = f"sqlite:///{root / 'bench.db'}"
        queue = GraderQueue(url, rubrics=rubrics_from_catalogue(catalogue))
        config = IssuanceConfig(public_url=PUBLIC_URL, issuer_id="did:web:bench.stackwise.example",
                                issuer_name="Stackwise benchmark")
        service = IssuanceService(queue, catalogue, key=load_or_create_issuer_key(root / "key.json"), config=config,
                                  database_url=url)
        submissions = seed_passed(queue, catalogue, n)

        issue_times, documents = [], []
        started = time.perf_counter()
        for sid in submissions:
            t0 = time.perf_counter()
            documents.append(service.issue(sid, actor="bench").document)
            issue_times.append(time.perf_counter() - t0)
        issue_seconds = time.perf_counter() - started

        verify_times, failures = [], []
        started = time.perf_counter()
        for document in documents:
            t0 = time.perf_counter()
            report = service.verify(document)
            verify_times.append(time.perf_counter() - t0)
            if not report.ok:
                failures.append(f"{document['id']}: " + "; ".join(c.detail for c in report.failures))
        verify_seconds = time.perf_counter() - started

        parallel_seconds = None
        if workers > 1:
            used = {service.config.provider_of(d["issuer"]["id"]) for d in documents}  # the awarding bodies
            lists = {service.config.status_list_url(k, p): service.status_list_credential(k, p)
                     for p in used for k in service.status_list_numbers(p)}
            context = get_context("spawn")  # no fork of a process holding database connections and threads
            with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                     initargs=(list(service.trust_list()), lists)) as pool:
                list(pool.map(_verify_in_worker, documents[:workers]))  # warm up: imports and context caches
                started = time.perf_counter()
                parallel_ok = list(pool.map(_verify_in_worker, documents, chunksize=max(1, n // (workers * 4))))
                parallel_seconds = time.perf_counter() - started
            if not all(parallel_ok):
                failures.append(f"{parallel_ok.count(False)} credential(s) failed in the parallel run")

    return IssuanceBenchResult(
        n=n, workers=workers, issue_seconds=issue_seconds, issue_per_second=n / issue_seconds,
        issue_ms_p50=1000 * _percentile(issue_times, 50), issue_ms_p95=1000 * _percentile(issue_times, 95),
        verify_seconds=verify_seconds, verify_per_second=n / verify_seconds,
        verify_ms_p50=1000 * _percentile(verify_times, 50), verify_ms_p95=1000 * _percentile(verify_times, 95),
        parallel_verify_seconds=parallel_seconds,
        parallel_verify_per_second=n / parallel_seconds if parallel_seconds else None,
        all_valid=not failures, failures=failures[:10])


def render(result: IssuanceBenchResult) -> str:
    lines = [
        f"issuance benchmark: {result.n} credentials",
        f"  issue:   {result.issue_per_second:7.1f} credentials/s  ({result.issue_seconds:.2f}s; "
        f"p50 {result.issue_ms_p50:.0f} ms, p95 {result.issue_ms_p95:.0f} ms per credential, 1 thread)",
        f"  verify:  {result.verify_per_second:7.1f} credentials/s  ({result.verify_seconds:.2f}s; "
        f"p50 {result.verify_ms_p50:.0f} ms, p95 {result.verify_ms_p95:.0f} ms, 1 process)",
    ]
    if result.parallel_verify_per_second is not None:
        lines.append(f"  verify:  {result.parallel_verify_per_second:7.1f} credentials/s  "
                     f"({result.parallel_verify_seconds:.2f}s; {result.workers} processes)")
    lines.append(f"  all valid: {'yes' if result.all_valid else 'NO'}")
    lines += [f"  failure: {f}" for f in result.failures]
    return "\n".join(lines)

"""The scaled-out topology end to end (issue 16): with PostgreSQL, a Chroma server and the model server configured
(CI's loopback servers from ``.ci/run``, else the fixtures' own), the web app runs as its own process and only
enqueues, a separate ``stackwise worker`` process grades the submission through the model server, the grade lands
in PostgreSQL, and the chat searches the Chroma server. Every part is real: the CLI's ``serve`` and ``worker``
commands in subprocesses, the learner through ``gradio_client`` as a browser's page calls the app.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from evals.grading_evidence import load_evidence_dir
from grader.models import Status
from grader.store import AuditRow, GradeRow, SubmissionRow
from stackwise.loopback import answers, free_port, server_process
from storage import session_factory
from tests.test_web_app import texts
from tests.test_web_grader import Learner

pytestmark = [pytest.mark.model, pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")]

QUESTION = "Which credentials cover AI ethics and the EU AI Act?"


def _evidence(catalogue):
    """A strong held-out (test split) piece of evidence, never one the shipped engine was fitted on, for the
    credential with the fewest criteria (the model writes feedback per criterion: the shortest such run)."""
    strong = [i for i in load_evidence_dir() if i.split == "test" and "strong" in i.tags]
    return min(strong, key=lambda i: (len(catalogue.credentials[i.credential].rubric.criteria), i.id))


@pytest.fixture(scope="module")
def topology(tmp_path_factory, chroma_url, model_server, postgres_server) -> Iterator[SimpleNamespace]:
    from stackwise.config import get_settings
    from tests.pg_server import _dispose, new_database

    home = tmp_path_factory.mktemp("topology")
    database = new_database(postgres_server)
    env = {**os.environ, "STACKWISE_HOME": str(home), "STACKWISE_MODEL_DIR": str(get_settings().models_path),
           "STACKWISE_DATABASE_URL": database, "STACKWISE_CHROMA_URL": chroma_url,
           "STACKWISE_MODEL_URL": model_server.url, "STACKWISE_MODEL_API_KEY": model_server.api_key,
           "STACKWISE_GRADING": "workers", "STACKWISE_GRADER_FEEDBACK": "true",
           # the model's part of a grade here is its feedback (one request); the injection judge over HTTP, a
           # request per passage, is tested in test_grader_model
           "STACKWISE_GRADER_INJECTION_JUDGE": "false"}
    for name in ("STACKWISE_RUNTIME", "STACKWISE_MODEL_API_KEY_FILE", "STACKWISE_CHROMA_DIR"):
        env.pop(name, None)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    web = [sys.executable, "-m", "stackwise.cli", "serve", "--port", str(port), "--no-warm"]
    with server_process(web, name="stackwise serve", ready=answers(url + "/"), wait_s=300, env=env):
        yield SimpleNamespace(url=url, env=env, database=database, home=home, chroma=chroma_url,
                              model=model_server)
    _dispose(database)


def test_a_web_submission_is_graded_by_a_worker_through_the_model_server_into_postgresql(topology):
    from knowledge import load_catalogue
    from stackwise.config import BUNDLED_CATALOGUE

    item = _evidence(load_catalogue(BUNDLED_CATALOGUE))
    learner = Learner(topology.url)
    message, _ = learner.submit(credential=item.credential, pasted=item.evidence)
    assert "received" in message.lower() or "queued" in message.lower() or "waiting" in message.lower(), message

    sessions = session_factory(topology.database)
    with sessions() as session:
        row = session.scalars(select(SubmissionRow).where(SubmissionRow.credential_id == item.credential)).one()
        sid = row.id
        assert row.status == Status.received.value  # the web app only enqueued: nothing graded it
        assert session.scalars(select(GradeRow).where(GradeRow.submission_id == sid)).first() is None

    worker = subprocess.run([sys.executable, "-m", "stackwise.cli", "worker", "--once", "--id", "topology-worker"],
                            env=topology.env, capture_output=True, text=True, timeout=900)
    print(f"\n[topology] worker: {worker.stdout.strip()}\n{worker.stderr.strip()[-4000:]}")
    assert worker.returncode == 0, worker.stderr[-2000:]
    assert "topology-worker: 1 graded, 0 errors, 0 lost" in worker.stdout

    host = topology.model.url.split("//", 1)[1].split("/", 1)[0]
    with sessions() as session:
        grades = session.scalars(select(GradeRow).where(GradeRow.submission_id == sid)).all()
        assert len(grades) == 1  # exactly once, in PostgreSQL
        status = session.get(SubmissionRow, sid).status
        audit = session.scalars(select(AuditRow).where(AuditRow.submission_id == sid).order_by(AuditRow.id)).all()
    assert status in {Status.passed.value, Status.failed.value, Status.review.value}
    started = [a.details.get("worker") for a in audit if a.event_type == "grading_started"]
    assert started == ["topology-worker"], [(a.event_type, a.details) for a in audit]  # the separate process
    feedback = [a for a in audit if a.event_type == "feedback"]
    assert len(feedback) == 1 and feedback[0].details["model"] == f"http:{topology.model.alias}@{host}"

    listing = learner.submissions()  # the learner's page shows the outcome the worker recorded
    assert sid[:8] in listing or item.credential in listing
    assert "waiting for grading" not in listing.lower()


def test_the_chat_searches_the_chroma_server_and_answers_through_the_model_server(topology):
    import chromadb
    from gradio_client import Client

    from knowledge.index import COLLECTION

    client = Client(topology.url, verbose=False)
    key, *_ = client.predict("", api_name="/learner_start")
    history, _, _ = client.predict(QUESTION, [], [], key, api_name="/chat")
    answer = texts(history)[-1][1]
    print(f"\n[topology] chat: {answer[:300]!r}")
    assert "/catalogue/ethical-ai-governance" in answer  # a cited source, linked to its catalogue page

    host, port = topology.chroma.split("//", 1)[1].split(":")
    server = chromadb.HttpClient(host=host, port=int(port),
                                 settings=chromadb.config.Settings(anonymized_telemetry=False))
    assert server.get_collection(COLLECTION).count() > 0  # the index lives on the server ...
    assert not (topology.home / "chroma").exists()  # ... and no local directory was made

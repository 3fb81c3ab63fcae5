"""``/forget`` on Telegram with the grader: the learner's submissions lose their evidence and their link to the
Telegram account, after the confirmation (the real bot handlers over the offline fake Bot API, the real grader
queue on the test's SQLite database; no model)."""

from __future__ import annotations

import pytest

from grader.models import SubmissionIn
from tests.test_telegram_submit import CREDENTIAL, EVIDENCE, bot, catalogue, grader, send, user_id  # noqa: F401


@pytest.mark.asyncio
async def test_forget_erases_the_learners_submissions_after_the_confirmation(bot, grader):  # noqa: F811
    user = user_id()
    learner = f"telegram:{user}"
    mine = grader.receive(SubmissionIn(credential_id=CREDENTIAL, learner_id=learner, learner_name="Ada T",
                                       files=[("mine.txt", EVIDENCE.encode(), "text/plain")],
                                       reflection="My own words."))
    theirs = grader.receive(SubmissionIn(credential_id=CREDENTIAL, learner_id="telegram:1",
                                         files=[("theirs.txt", EVIDENCE.encode(), "text/plain")]))
    size = len(EVIDENCE.encode())
    (reply,) = await send(bot, user, "/forget")
    assert reply.startswith(f"This deletes the evidence of 1 submission (1 file, {size:,} bytes")
    assert len(grader.queue.submissions_for_learner(learner)) == 1
    (reply,) = await send(bot, user, "/forget yes")
    assert reply.startswith(f"Forgotten: deleted the evidence of 1 submission (1 file, {size:,} bytes")
    assert grader.queue.submissions_for_learner(learner) == []
    (reply,) = await send(bot, user, "/status")
    assert reply.startswith("You have not submitted any evidence yet")
    from grader.models import Assessor

    desk = Assessor(username="alice")
    gone = grader.queue.get_submission(mine.id, assessor=desk)
    assert gone.files == [] and gone.reflection == "" and gone.learner_name == ""
    assert len(grader.queue.get_submission(theirs.id, assessor=desk).files) == 1  # nobody else's

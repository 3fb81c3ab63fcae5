"""The Telegram bot: its :class:`telegram.ext.Application` with the chat and submission handlers.

Same engine and the same conversation memory as the CLI and the web chat; a learner is
``telegram:<user id>`` (the Telegram account, which Telegram authenticates; the private chat's id is the same
number), never a name. Commands: /start, /help, /plan, /hold, /reset, /forget (everything, after
``/forget yes``); any other text is a question.
Given a :class:`grader.service.GraderService`, the bot also takes evidence for assessment: /submit,
/reflection, /done, /cancel, /status (handlers in :mod:`stackwise.telegram.submissions`); while a submission
is open, the learner's text messages are evidence rather than questions. Every outcome and credential of a
Telegram learner is pushed to them once, whoever decided it (:mod:`stackwise.telegram.pushes`).
The chat's handlers are :class:`stackwise.telegram.chat.ChatBot`. Replies longer than Telegram's
4096-character limit are split on paragraph, then line, then word boundaries
(:func:`stackwise.telegram.common.split_message`).

Run with :func:`run_bot` (token from ``STACKWISE_TELEGRAM_TOKEN``). The token is never logged: it is
redacted from this module's log records and, under :func:`run_bot`, from every record the root logger's
handlers write (httpx, which logs request URLs containing the token, is limited to warnings).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from telegram import BotCommand, Update
from telegram.ext import Application, ApplicationBuilder, CommandHandler, MessageHandler, filters
from telegram.request import BaseRequest

from stackwise.telegram.chat import TYPING_INTERVAL, ChatBot
from stackwise.telegram.common import learner_id, redactor
from stackwise.telegram.pushes import POLL_SECONDS, Pushes
from stackwise.telegram.submissions import SUBMIT_COMMANDS, SUBMIT_HELP, Submissions

if TYPE_CHECKING:
    from assistant.api import AssistantService
    from grader.api import GraderService
    from issuance.api import IssuanceService
    from stackwise.config import Settings

logger = logging.getLogger(__name__)
logger.addFilter(redactor)

COMMANDS = [
    ("start", "welcome and example questions"),
    ("help", "how to use the assistant"),
    ("plan", "PATHWAY_ID [HOLDING_IDS]: what you still need"),
    ("hold", "ID,ID: the credentials you already hold"),
    ("reset", "delete our conversation and your holdings"),
    ("forget", "delete everything stored about you (asks first)"),
]


def build_application(service: AssistantService, token: str, *, request: BaseRequest | None = None,
                      base_url: str | None = None, get_updates_request: BaseRequest | None = None,
                      typing_interval: float = TYPING_INTERVAL, grader: GraderService | None = None,
                      issuance: IssuanceService | None = None, push_seconds: float = POLL_SECONDS) -> Application:
    """The bot's :class:`telegram.ext.Application` with every handler registered.

    ``request`` replaces the HTTP layer (tests pass an offline fake; it is also used for getUpdates
    unless ``get_updates_request`` is given); ``base_url`` points the bot at another Bot API server,
    e.g. a self-hosted one. With a ``grader`` the evidence-submission commands are added; the
    :class:`stackwise.telegram.submissions.Submissions` handling them is ``application.bot_data["submissions"]``.
    With ``issuance`` (and a grader) learners receive their credential file when it is issued. With a grader,
    :class:`stackwise.telegram.pushes.Pushes` (``application.bot_data["pushes"]``) pushes every outcome and
    credential of a Telegram learner, whoever decided it; its polling loop runs from ``post_init``
    (``push_seconds`` between polls).
    """
    redactor.secrets.add(token)
    commands = list(COMMANDS)
    submissions = None
    if grader is not None:
        commands += SUBMIT_COMMANDS
        bot = ChatBot(service, typing_interval, extra_help=SUBMIT_HELP)
        pushes = Pushes(grader, issuance, poll_seconds=push_seconds)
        submissions = Submissions(grader, learner_id, bot._lock, issuance=issuance, pushes=pushes)
    else:
        bot = ChatBot(service, typing_interval)
    bot.grader, bot.issuance, bot.submissions = grader, issuance, submissions

    async def post_init(application: Application) -> None:
        await application.bot.set_my_commands([BotCommand(name, text) for name, text in commands])
        if submissions is not None:  # outcomes and credentials decided anywhere, delivered once
            application.bot_data["stop_pushes"] = submissions.pushes.start(application.bot)

    async def post_stop(application: Application) -> None:  # before the HTTP client shuts down
        stop = application.bot_data.pop("stop_pushes", None)
        if stop is not None:
            stop()

    builder = (ApplicationBuilder().token(token).concurrent_updates(True).post_init(post_init)
               .post_stop(post_stop))
    if request is not None:
        builder = builder.request(request).get_updates_request(get_updates_request or request)
    elif get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    if base_url:
        builder = builder.base_url(base_url)
    application = builder.build()

    new = filters.UpdateType.MESSAGE  # edited messages and channel posts are not questions
    handlers: list[tuple[str, Callable]] = [("start", bot.start), ("help", bot.help), ("plan", bot.plan),
                                            ("hold", bot.hold), ("reset", bot.reset), ("forget", bot.forget)]
    if submissions is not None:
        handlers += [("submit", submissions.submit), ("reflection", submissions.reflection),
                     ("done", submissions.done), ("cancel", submissions.cancel), ("status", submissions.status)]
    for name, callback in handlers:
        application.add_handler(CommandHandler(name, callback, filters=new))
    application.add_handler(MessageHandler(new & filters.COMMAND, bot.unknown_command))
    if submissions is not None:
        application.bot_data["submissions"] = submissions
        application.bot_data["pushes"] = submissions.pushes
        # while a submission is open in this chat, text is evidence (or the reflective statement)
        application.add_handler(MessageHandler(new & filters.TEXT & submissions.drafting, submissions.text))
        application.add_handler(MessageHandler(new & filters.TEXT, bot.question))
        application.add_handler(MessageHandler(new & filters.Document.ALL, submissions.document))
        application.add_handler(MessageHandler(new & filters.PHOTO, submissions.photo))
        application.add_handler(MessageHandler(new & submissions.drafting, submissions.unsupported))
    else:
        application.add_handler(MessageHandler(new & filters.TEXT, bot.question))
        application.add_handler(MessageHandler(new & (filters.Document.ALL | filters.PHOTO), bot.evidence))
    application.add_handler(MessageHandler(new, bot.other))
    application.add_error_handler(bot.error)
    return application


def _protect_logs(token: str) -> None:
    """Keep the token out of every log line this process writes."""
    redactor.secrets.add(token)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in root.handlers:
        if redactor not in handler.filters:
            handler.addFilter(redactor)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # httpx logs each request URL, token included


def run_bot(settings: Settings | None = None, *, base_url: str | None = None, warm_up: bool = True) -> None:
    """Run the bot with long polling until interrupted (Ctrl-C).

    Raises :class:`stackwise.wiring.SetupError` when ``STACKWISE_TELEGRAM_TOKEN`` is not set.
    """
    from stackwise.config import get_settings
    from stackwise.wiring import SetupError, assistant_service, grader_service, issuance_service

    settings = settings or get_settings()
    token = settings.telegram_token.get_secret_value().strip() if settings.telegram_token else ""
    if not token:
        raise SetupError("no Telegram bot token: set STACKWISE_TELEGRAM_TOKEN to the token @BotFather gave you")
    _protect_logs(token)
    service = assistant_service(settings)
    if warm_up:
        logger.info("loading the model before accepting messages")
        service.warm_up()
    grader = grader_service(settings)
    issuance = issuance_service(settings)
    application = build_application(service, token, base_url=base_url, grader=grader, issuance=issuance)
    application.bot_data["pushes"].begin()
    resumed = grader.resume_pending()
    if resumed:
        logger.info("grading %d submission(s) left ungraded by the last run (their results are pushed)",
                    len(resumed))
    logger.info("Telegram bot polling for messages (Ctrl-C stops it)")
    application.run_polling(allowed_updates=[Update.MESSAGE])


if __name__ == "__main__":
    run_bot()

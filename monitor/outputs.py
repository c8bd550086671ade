"""Where alerts go, chosen from the settings: the console, or Telegram (bot and sink).

python-telegram-bot (with httpx and tornado, 16 MB) is imported only when a token is set:
a daemon that writes its alerts to the console never loads it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from monitor.alerts.pacing import Pacer
from monitor.alerts.render import AlertView
from monitor.alerts.sinks import ConsoleSink, Sent, Sink
from monitor.bot.health import TelegramHealth
from monitor.config import Settings
from monitor.eventlog.events import watch_of
from monitor.eventlog.queries.alerts import OutgoingAlert
from monitor.eventlog.queries.watches import watch_text
from monitor.eventlog.store import Store
from monitor.feeds.probe import Prober
from monitor.poll.feed_health import plain
from monitor.poll.recipients import Audience
from monitor.poll.watch_step import WATCH_LEVEL
from monitor.rules.matcher import RuleSet

if TYPE_CHECKING:
    from monitor.bot.sink import TelegramSink

log = logging.getLogger(__name__)


@dataclass
class Outputs:
    sinks: list[Sink]
    audience: Audience
    app: Any = None  # the Telegram Application, when a token is set
    sink: TelegramSink | None = None
    health: TelegramHealth | None = None  # whether Telegram answers, for /healthz and /metrics
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def build_outputs(
    settings: Settings,
    store: Store,
    rules: Callable[[], RuleSet],
    write: Callable[[str], None] | None = None,
    prober: Prober | None = None,
) -> Outputs:
    if settings.telegram_token is None:
        return Outputs([ConsoleSink(write)], Audience(console=True))
    from monitor.bot import app as telegram
    from monitor.bot.commands import BotContext
    from monitor.bot.sink import TelegramSink

    telegram.protect_token(settings.telegram_token.get_secret_value())
    context = BotContext(
        store=store, rules=rules, settings=settings, clock=store.clock, prober=prober
    )
    pacer = Pacer()  # one for alerts and replies: Telegram counts them together
    health = TelegramHealth(settings.telegram_degraded_after)
    app = telegram.build_application(settings, context, pacer, health=health)
    view = alert_view(rules, lambda rule_id: watch_text(store, rule_id))
    sink = TelegramSink(app.bot, pacer, view, channel=settings.telegram_channel)
    audience = Audience(
        console=False,
        channel=settings.telegram_channel,
        channel_level=settings.telegram_channel_level,
    )
    return Outputs([sink], audience, app, sink, health=health)


async def open_outputs(
    outputs: Outputs, settings: Settings, stop: asyncio.Event, *, receive_updates: bool
) -> None:
    """Start the bot in the background (it retries while Telegram is unreachable)."""
    if outputs.app is None or outputs.sink is None:
        return
    sink, app = outputs.sink, outputs.app
    from monitor.bot import app as telegram

    async def start() -> None:
        if receive_updates:
            sink.enabled = await telegram.keep_bot_running(app, settings, stop)
        else:
            await app.initialize()
            sink.enabled = True

    if receive_updates:
        outputs.tasks.append(asyncio.create_task(start()))
    else:
        try:
            await start()
        except Exception as error:  # unreachable or refused: alerts stay pending
            log.error("telegram not reachable, alerts stay queued: %s", type(error).__name__)


async def stop_receiving(outputs: Outputs) -> None:
    """No more updates from Telegram (the first step of a shutdown)."""
    for task in outputs.tasks:
        task.cancel()
    if outputs.app is not None:
        from monitor.bot import app as telegram

        await telegram.stop_updates(outputs.app)


async def close_outputs(outputs: Outputs, grace: float = 2.0) -> None:
    for task in outputs.tasks:
        task.cancel()
    if outputs.app is None:
        return
    from monitor.bot import app as telegram

    try:
        await asyncio.wait_for(telegram.stop_bot(outputs.app), grace)
    except TimeoutError:
        log.warning("telegram bot did not stop within %.0fs; leaving it", grace)
    except Exception as error:
        log.warning("telegram bot did not stop cleanly: %s", type(error).__name__)


def admin_notifier(outputs: Outputs, settings: Settings) -> Callable[[str], Awaitable[None]]:
    """Sends a notice (HTML) to each of the bot's admins in their private chat; without
    Telegram, or before the bot is up, the notice is only logged (by its sender)."""

    async def notify(text: str) -> None:
        sink = outputs.sink
        if sink is None or not sink.enabled:
            return
        for admin in settings.telegram_admins:
            result = await sink.send_text(f"telegram:{admin}", text, plain(text), silent=False)
            if not isinstance(result, Sent):
                log.warning("notice to admin %s not sent: %s", admin, result)

    return notify


def alert_view(
    rules: Callable[[], RuleSet], watches: Callable[[str], str | None] = lambda _: None
) -> Callable[[OutgoingAlert], AlertView]:
    """Builds what a message shows from an alert and the rules in force; `watches` gives a
    chat's watch's words by its rule id."""

    def view(alert: OutgoingAlert) -> AlertView:
        by_id = {rule.id: (rule.title, rule.level) for rule in rules().rules}
        for rule_id in alert.rules:
            watch = watch_of(rule_id)
            if watch is not None:
                words = watches(rule_id) or ""
                by_id[rule_id] = (f"Watch {watch[1]}: {words}".strip(), WATCH_LEVEL)
        return AlertView(
            title=alert.entry_title,
            link=alert.entry_link,
            source=alert.outlet or alert.feed_title or alert.feed_url,
            published=alert.published,
            rules=tuple((r, *by_id.get(r, (r, alert.level))) for r in alert.rules),
            summary=alert.entry_summary,
            spans=tuple(alert.spans),
            terms=tuple(alert.terms),
            also=alert.also,
        )

    return view

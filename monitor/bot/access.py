"""Who may use the Telegram bot: admins, allowed chats, or everyone when the bot is open.

bot_commands checks every command and button here before running it; /start and /help
answer everyone, the admin commands (bot_admin) only the bot's admins. In a group only
the group's administrators (Telegram's getChatMember, asked by telegram.py and kept for
a minute in `GroupAdmins`) and the bot's admins may change its topics, level or mute.
"""

from __future__ import annotations

from monitor.bot.admin import ADMIN_HANDLERS
from monitor.bot.replies import Caller, Reply
from monitor.config import Settings

OPEN_TO_ALL = frozenset({"start", "help"})
CHANGES = frozenset(
    {"subscribe", "unsubscribe", "level", "mute", "unmute", "previews", "mode", "timezone", "quiet"}
    | {"watch", "unwatch"}
)  # and buttons
GROUPS = frozenset({"group", "supergroup"})
ADMIN_TTL = 60.0  # seconds a getChatMember answer is trusted


def is_admin(settings: Settings, caller: Caller) -> bool:
    return caller.user_id is not None and caller.user_id in settings.telegram_admins


def allowed(settings: Settings, caller: Caller) -> bool:
    return (
        settings.telegram_open
        or is_admin(settings, caller)
        or caller.chat_id in settings.telegram_allowed_chats
    )


def closed(caller: Caller) -> Reply:
    return Reply(
        "Sorry, this bot is open only to chats its admins have allowed. To ask for access,"
        f" send an admin this chat's id: <code>{caller.chat_id}</code>."
    )


def refusal(settings: Settings, caller: Caller, name: str) -> Reply | None:
    if name in ADMIN_HANDLERS and not is_admin(settings, caller):
        return Reply(f"/{name} is for the bot's admins only. /help lists what you can use.")
    if name not in OPEN_TO_ALL and not allowed(settings, caller):
        return closed(caller)
    return group_refusal(settings, caller, name)


def needs_group_admin(settings: Settings, caller: Caller, name: str) -> bool:
    """Whether this command changes a group's settings, for someone not a bot admin."""
    return caller.chat_type in GROUPS and name in CHANGES and not is_admin(settings, caller)


def group_refusal(settings: Settings, caller: Caller, name: str) -> Reply | None:
    """The reply for a group member who may not change the group's settings, or None."""
    if not needs_group_admin(settings, caller, name) or caller.chat_admin:
        return None
    if caller.chat_admin is None:
        return Reply(
            "I could not check with Telegram that you administer this group; please try again"
            " in a minute."
        )
    return Reply(
        "Only this group's administrators can change its topics, watches, level, mute or"
        " delivery."
        " /mysubs shows them."
    )


class GroupAdmins:
    """getChatMember answers, kept briefly: (chat, user) -> administers the chat."""

    def __init__(self, ttl: float = ADMIN_TTL, most: int = 10_000) -> None:
        self.ttl, self.most = ttl, most
        self._known: dict[tuple[int, int], tuple[bool, float]] = {}

    def get(self, chat_id: int, user_id: int, now: float) -> bool | None:
        known = self._known.get((chat_id, user_id))
        return known[0] if known is not None and known[1] > now else None

    def put(self, chat_id: int, user_id: int, admin: bool, now: float) -> None:
        if len(self._known) >= self.most:  # forget the expired ones, or all if none expired
            self._known = {k: v for k, v in self._known.items() if v[1] > now}
            if len(self._known) >= self.most:
                self._known.clear()
        self._known[(chat_id, user_id)] = (admin, now + self.ttl)

"""Who may use the Telegram bot: admins, allowed chats, or everyone when the bot is open.

bot_commands checks every command and button here before running it; /start and /help
answer everyone, the admin commands (bot_admin) only the bot's admins.
"""

from __future__ import annotations

from monitor.bot_admin import ADMIN_HANDLERS
from monitor.bot_views import Caller, Reply
from monitor.config import Settings

OPEN_TO_ALL = frozenset({"start", "help"})


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
    return None

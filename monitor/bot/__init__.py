"""The Telegram bot: commands as plain functions, access, admin commands, replies, the
python-telegram-bot application and the Telegram sink."""

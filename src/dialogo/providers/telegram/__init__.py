"""Telegram, through the Bot API: channel posts and the bot's direct messages."""

"""Stackwise Telegram bot: chat, submissions and credentials."""

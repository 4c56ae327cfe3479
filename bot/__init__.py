"""Adapters of SI Check: the Telegram bot, the terminal console and the ``sicheck`` CLI."""

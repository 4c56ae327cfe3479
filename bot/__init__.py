"""Adapters of SI Check: the terminal console, the CLI and (next) Telegram."""

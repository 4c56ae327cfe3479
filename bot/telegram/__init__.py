"""The Telegram adapter: updates in, engine events through storage, views out as messages."""

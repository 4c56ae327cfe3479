"""Durable state of SI Check: SQLAlchemy models, repository functions and migrations."""

"""Alembic migrations of the SI Check schema."""

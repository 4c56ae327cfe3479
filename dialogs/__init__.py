"""The platform-neutral SI Check engine: content, state machine, scoring and views."""

# syntax=docker/dockerfile:1
# Build: install the locked dependencies, then the project, then compile the catalogs.
FROM python:3.11-slim AS build
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY bot ./bot
COPY dialogs ./dialogs
COPY storage ./storage
COPY locales ./locales
RUN uv sync --locked --no-dev && uv run --no-sync sicheck i18n compile

# Run: the virtual environment and the code only, as an unprivileged user.
FROM python:3.11-slim
# The directory is made for the user: WORKDIR would make it root's, and SQLite's default
# database goes to ./data in it.
RUN useradd --create-home --uid 10001 sicheck && install -d -o sicheck -g sicheck /app
WORKDIR /app
COPY --from=build --chown=sicheck:sicheck /app /app
ENV PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1 LISTEN_HOST=0.0.0.0 LISTEN_PORT=8080
USER sicheck
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('LISTEN_PORT', '8080')}/healthz\", timeout=4)"]
ENTRYPOINT ["sicheck"]
CMD ["run"]

# syntax=docker/dockerfile:1
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

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 sicheck
WORKDIR /app
COPY --from=build --chown=sicheck:sicheck /app /app
ENV PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1
USER sicheck
ENTRYPOINT ["sicheck"]
CMD ["run"]

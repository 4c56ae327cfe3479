"""The image's working directory is writable by the user the bot runs as.

SQLite's default database is ``./data/sicheck.db``, made in the working directory on first
start. ``WORKDIR`` creates its directory as root, and ``COPY --chown`` into a directory that
exists already leaves that directory's owner as it was: only a directory made for the user
beforehand lets the bot make ``./data``.
"""

from __future__ import annotations

import re

from tests.test_dockerfile import instructions


def runtime_stage() -> list[tuple[str, str]]:
    every = instructions()
    last = max(i for i, (name, _args) in enumerate(every) if name == "FROM")
    return every[last:]


def test_the_working_directory_is_made_for_the_runtime_user_before_it_is_entered() -> None:
    stage = runtime_stage()
    [user] = [args for name, args in stage if name == "USER"]
    [workdir] = [(i, args) for i, (name, args) in enumerate(stage) if name == "WORKDIR"]
    position, directory = workdir
    made = [
        args
        for name, args in stage[:position]
        if name == "RUN"
        and re.search(rf"install -d -o {user} -g {user} {re.escape(directory)}(\s|$)", args)
    ]
    assert made, f"{directory} is root's: {user} cannot make ./data for SQLite there"

"""What the message after a finished assessment needs, read in one unit of work.

Read-only: the assessment is found only through the respondent who owns it and only once it
is completed, so a forged id reads nothing.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.engine import Connection

from dialogs.what_next import WhatNext
from storage.dialogue import Who, find_respondent, language_for
from storage.mentoring import share_state
from storage.models import Assessment
from storage.teams import team_status


def what_next(
    connection: Connection, who: Who, assessment_id: int, configured: Collection[str] = ()
) -> WhatNext | None:
    """The team and sharing of the sender's finished assessment (with the coordinators the
    settings name, ``configured``); ``None`` if not theirs."""
    respondent = find_respondent(connection, who)
    if respondent is None:
        return None
    found = connection.execute(
        select(Assessment.practice_name, Assessment.team_id, Assessment.cohort_id).where(
            Assessment.id == assessment_id,
            Assessment.respondent_id == respondent.id,
            Assessment.status == "completed",
        )
    ).first()
    if found is None:
        return None
    return WhatNext(
        language=language_for(respondent, who),
        practice=found.practice_name or "…",
        team=None
        if found.team_id is None
        else team_status(connection, found.team_id, respondent, who),
        shared=share_state(connection, assessment_id, found.cohort_id, configured),
    )

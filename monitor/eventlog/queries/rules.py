"""Rules: which rule set the log last recorded."""

from __future__ import annotations

from monitor.eventlog.store import Reader

RULES_STREAM = "rules:active"


def last_ruleset_version(log: Reader) -> str | None:
    """The version of the last RulesLoaded, or None before the first."""
    row = log.db.execute(
        "SELECT json_extract(data, '$.version') FROM events WHERE stream = ?"
        " ORDER BY seq DESC LIMIT 1",
        (RULES_STREAM,),
    ).fetchone()
    return str(row[0]) if row else None

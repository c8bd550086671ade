"""Outbox claims: several daemons on one PostgreSQL share the alerts to send, each
alert claimed by one daemon at a time.

The alerts to send are offered (`offer_alerts`, by id, in queue order); a daemon's
dispatcher claims a batch (`claim_alerts`) for a bounded lease, sends them, and marks
each one finished (`finish_alert`). The claim is one statement taking the open rows
`FOR UPDATE SKIP LOCKED`, so daemons claiming together never take the same alert. A
daemon that dies holds its claims only until their lease ends; then another daemon's
next `claim_alerts` takes them.

The claims decide only who tries; the event log stays the record of what was sent.
The dispatcher still appends AlertDispatched (and the in-flight and uncertain outcomes)
on the alert's stream with its expected version, so a daemon that lost its claim while
sending loses the append instead of recording the alert twice, and an alert that was
in flight when its daemon died is settled as the reliability notes say (`uncertain`,
not resent), whichever daemon claims it next. Times are passed in, as in `leases`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.eventlog.leases import Database, lease_end, transaction


def offer_alerts(db: Database, alert_ids: Sequence[str]) -> int:
    """Offer alerts to the daemons, claimed in the order given; offering an alert again
    changes nothing. The number newly offered."""
    ids = list(dict.fromkeys(alert_ids))
    with transaction(db) as conn:
        return conn.execute(
            "INSERT INTO alert_claims (alert_id)"
            " SELECT id FROM unnest(%s::text[]) WITH ORDINALITY AS offer(id, n) ORDER BY n"
            " ON CONFLICT (alert_id) DO NOTHING",
            (ids,),
        ).rowcount


CLAIM_ALERTS = """
WITH picked AS (
    SELECT alert_id FROM alert_claims
    WHERE NOT done AND (lease_until IS NULL OR lease_until < %(now)s)
    ORDER BY offered
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE alert_claims SET owner = %(owner)s, lease_until = %(until)s
FROM picked WHERE alert_claims.alert_id = picked.alert_id
RETURNING alert_claims.alert_id, alert_claims.offered
"""


def claim_alerts(db: Database, owner: str, now: datetime, limit: int, lease: float) -> list[str]:
    """Claim up to `limit` unfinished alerts nobody holds at `now`, oldest offer first,
    for `owner` for `lease` seconds; the ids claimed, in offer order."""
    until = lease_end(now, lease)
    if limit <= 0:
        return []
    with transaction(db) as conn:
        rows = conn.execute(
            CLAIM_ALERTS, {"now": now, "limit": limit, "owner": owner, "until": until}
        ).fetchall()
    return [alert_id for alert_id, _ in sorted(rows, key=lambda row: row[1])]


def finish_alert(db: Database, owner: str, alert_id: str) -> bool:
    """Mark an alert `owner` holds as finished (sent, failed for good, or uncertain: the
    log says which); it is never claimed again. False when `owner` no longer holds it."""
    with transaction(db) as conn:
        finished = conn.execute(
            "UPDATE alert_claims SET done = TRUE, lease_until = NULL"
            " WHERE alert_id = %s AND owner = %s AND NOT done",
            (alert_id, owner),
        ).rowcount
    return finished == 1


def release_alerts(db: Database, owner: str, alert_ids: Sequence[str]) -> list[str]:
    """Give back unfinished claims (not sent yet: paced, or a clean stop) for any daemon
    to claim at once; the ids released."""
    with transaction(db) as conn:
        rows = conn.execute(
            "UPDATE alert_claims SET owner = NULL, lease_until = NULL"
            " WHERE owner = %s AND alert_id = ANY(%s::text[]) AND NOT done RETURNING alert_id",
            (owner, list(alert_ids)),
        ).fetchall()
    return [alert_id for (alert_id,) in rows]

"""Commitments: the quantities matches found (officers trained or pledged, training places,
equipment), from `commitments_view`. The report asks these questions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.eventlog.projections import iso
from monitor.eventlog.store import Reader


@dataclass(frozen=True)
class OfficersTrained:
    """Officers a training pledges or reports, for one counterpart region and year."""

    region: str  # a broad region id (region:africa), or "" when no counterpart is named
    year: str
    officers: float
    trained: float  # reported as given ("has trained 2,700")
    pledged: float  # promised ("will train 3,000")
    reports: int  # entries that named them


def officers_by_region_and_year(log: Reader, start: datetime) -> list[OfficersTrained]:
    """People counts of trainings in entries dated from `start`, by counterpart region and
    year; a number found by two rules in one entry counts once."""
    rows = log.db.execute(
        "SELECT COALESCE(region, '') AS region, year, SUM(amount) AS officers,"
        " SUM(CASE WHEN status = 'done' THEN amount ELSE 0 END) AS trained,"
        " SUM(CASE WHEN status = 'pledged' THEN amount ELSE 0 END) AS pledged,"
        " COUNT(DISTINCT entry_id) AS reports"
        " FROM (SELECT DISTINCT entry_id, field, start, amount, status, region, year"
        "  FROM commitments_view WHERE kind = 'people' AND act = 'training'"
        "  AND COALESCE(published, seen_at) >= ?) AS found"
        " GROUP BY 1, 2 ORDER BY year DESC, officers DESC, region",
        (iso(start),),
    )
    return [
        OfficersTrained(
            row["region"],
            row["year"],
            row["officers"],
            row["trained"],
            row["pledged"],
            row["reports"],
        )
        for row in rows
    ]

"""The throwaway PostgreSQL server the tests use starts, answers and isolates tests."""

import psycopg


def test_a_fresh_database_answers_on_loopback(postgres_url: str) -> None:
    assert "@127.0.0.1:" in postgres_url
    with psycopg.connect(postgres_url) as db:
        row = db.execute(
            "SELECT current_database(), count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone()
    assert row is not None and row[0].startswith("test_") and row[1] == 0

"""The event log: events, the SQLite store (append, transactions), schema, projections,
replay, SQL views, the daemon lock, and every SQL read the rest of the program needs."""

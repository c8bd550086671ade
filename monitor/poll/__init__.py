"""Polling: which entries are new (decide, pure), the poll pipeline, the scheduler, and who
hears of a match."""

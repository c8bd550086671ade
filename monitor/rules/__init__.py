"""Rules: rule files and their schema, the gazetteer and its blockers, normalisation, the
matcher, checks and backtests. Imports nothing else of the monitor."""

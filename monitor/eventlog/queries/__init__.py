"""Every SQL read the program needs, as named questions grouped by subject; each takes a
Reader (or the Store) and returns plain records."""

"""Sources: fetching over HTTP under a policy, parsing feeds in worker processes, feed
text cleaning, OPML, and the feed list (add, remove, sync) as events."""

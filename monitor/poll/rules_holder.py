"""The rules in force: loaded at start, reloaded on SIGHUP or when their files change, and
recorded as RulesLoaded whenever the set differs from the one last recorded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from monitor.config import Settings
from monitor.errors import RulesError, StoreError
from monitor.eventlog import events as ev
from monitor.eventlog.queries.rules import RULES_STREAM, last_ruleset_version
from monitor.eventlog.store import Store
from monitor.rules.matcher import RuleSet, load_ruleset

log = logging.getLogger(__name__)


class RulesHolder:
    """The rules in force: a failed reload keeps the last good set and says why.

    Without a rule nothing can ever match, so an empty rules folder is refused (at start
    and on reload) unless MONITOR_ALLOW_NO_RULES says it is wanted.
    """

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.current = load_ruleset(settings.rules, allow_empty=settings.allow_no_rules)
        record_rules(store, self.current)

    def __call__(self) -> RuleSet:
        return self.current

    def reload(self) -> bool:
        """Load the rules again; never raises (the file watcher and SIGHUP call it)."""
        try:
            fresh = load_ruleset(self.settings.rules, allow_empty=self.settings.allow_no_rules)
        except RulesError as error:
            log.error("%s", error.summary("rules not reloaded; the previous rules stay in force"))
            return False
        except Exception as error:  # a bug must not end the watcher: say it, keep the rules
            log.error("rules not reloaded (%r); the previous rules stay in force", error)
            return False
        self.current = fresh
        try:
            record_rules(self.store, fresh)
        except StoreError as error:  # in force already; recorded at the next load
            log.error("rules reloaded but RulesLoaded not recorded: %s", error)
        log.info("rules reloaded: version %s, %d rules", fresh.version, len(fresh.rules))
        return True


def record_rules(store: Store, ruleset: RuleSet) -> None:
    """Append RulesLoaded when the rule set differs from the one last recorded."""
    if last_ruleset_version(store) == ruleset.version:
        return
    versions = [
        ev.RuleVersion(id=rule.id, version=rule.version, level=rule.level, title=rule.title)
        for rule in ruleset.rules
    ]
    data = ev.RulesLoaded(version=ruleset.version, rules=versions)
    position = store.version(RULES_STREAM)
    store.append([ev.NewEvent(RULES_STREAM, data, f"{ruleset.version}@{position}")])


def rules_fingerprint(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of the rule and gazetteer files."""
    files = sorted([*folder.glob("*.yaml"), *folder.glob("entities/*.yaml")])
    stats = [(str(p), p.stat()) for p in files if p.is_file()]
    return tuple((name, st.st_size, st.st_mtime_ns) for name, st in stats)


async def watch_rules(rules: RulesHolder, stop: asyncio.Event, every: float = 5.0) -> None:
    """Reload the rules when their files change (SIGHUP does the same at once).

    Runs until `stop`: nothing in the folder may end it, or later edits would go unseen.
    A failed reload is reported once; the next change to the files is tried again.
    """
    seen: tuple[tuple[str, int, int], ...] | None = None
    with contextlib.suppress(OSError):
        seen = rules_fingerprint(rules.settings.rules)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        try:
            current = rules_fingerprint(rules.settings.rules)
        except OSError as error:
            log.warning("rules folder unreadable: %s", error)
            continue
        if current != seen and not stop.is_set():
            seen = current
            try:
                rules.reload()
            except Exception as error:  # reload says why it failed; this is the last guard
                log.error("rules not reloaded (%r); the previous rules stay in force", error)

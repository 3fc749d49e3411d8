"""Audit log (analysts only, docs/SECURITY.md section 7): whether the log's hash chain is intact (as
`python -m access audit verify` checks it), and its entries — every sign-in, view with its filters, export with
what it held, refusal and error — newest first, filtered by who, event and day, with CSV and XLSX exports.

The entries come from the audit log file (`access.audit`), not from the warehouse: read again whenever the file
has changed (every run that follows a new entry), in one pass for both sections."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pandas as pd

from access import audit
from views.model import Choice, Column, Section, Table, Text, View, ViewContext
from views.text import code_literal, md_literal

SHOWN_ENTRIES = 2000   # the newest entries matching the filters shown (and exported) at most
ALL = ""
SOURCE = "Crime Plan Monitor audit log"
COLUMNS = (Column("seq", "Entry", 0), Column("at_utc", "When (UTC)", None), Column("event", "Event", None),
           Column("user", "Who", None), Column("role", "Role", None), Column("view", "View", None),
           Column("detail", "Detail", None))


_last_read: tuple[tuple, tuple[audit.Verification, list[dict]]] | None = None


def _read_log(where: Path) -> tuple[audit.Verification, list[dict]]:
    """audit.read_log's check and entries, read once while the file is unchanged (the view's two sections share
    one pass; any append, rewrite or replacement changes the file's size, times or inode and reads it again)."""
    global _last_read
    try:
        info = where.stat()
        key = (str(where), info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    except OSError:
        return audit.read_log(where)
    last = _last_read
    if last is not None and last[0] == key:
        return last[1]
    result = audit.read_log(where)
    _last_read = (key, result)
    return result


def chain_status(ctx: ViewContext) -> Section:
    """The hash chain checked from the first entry to the newest, as `python -m access audit verify` does."""
    title = "Is the log intact?"
    where = audit.audit_log_path()
    result = _read_log(where)[0]
    place = Text(f"Audit log: {code_literal(where, None)}. From a shell: `python -m access audit verify` (add "
                 "`--head SEQ:HASH` with the newest head from the server log to check no newest entries were removed).",
                 "caption")
    if result.ok:
        seq, digest = result.head if result.head else (0, audit.GENESIS)
        return Section(title, (Text(f"**Chain intact**: {result.entries:,} entries, each following the one before; "
                                    f"the newest is entry {seq} with hash `{digest[:16]}…`.", "success"), place),
                       in_pack=False)
    if result.entries == 0 and not where.exists():
        return Section(title, (Text("No audit log yet: nothing has been recorded.", "info"), place), in_pack=False)
    problems = "\n".join(f"- {md_literal(problem, 300)}" for problem in result.problems[:20])
    more = f"\n- … and {len(result.problems) - 20} more" if len(result.problems) > 20 else ""
    return Section(title, (Text(f"**The chain is broken** ({len(result.problems)} problem(s) in {result.entries:,} "
                                f"entries): entries were changed, inserted, removed or re-ordered.\n\n{problems}{more}",
                                "error"), place), in_pack=False)


def _choices(ctx: ViewContext, entries: list[dict]) -> tuple[str, str, str]:
    users = tuple(sorted({str(e.get("user", "")) for e in entries}, key=str.casefold))
    days = tuple(sorted({str(e.get("at", ""))[:10] for e in entries if e.get("at")}, reverse=True))
    who = ctx.choose(Choice("who", "Who", (ALL, *users), ALL, labels={ALL: "Everyone"}, widget="selectbox"))
    event = ctx.choose(Choice("event", "Event", (ALL, *audit.EVENTS), ALL, labels={ALL: "Every event"},
                              widget="selectbox"))
    day = ctx.choose(Choice("day", "Day (UTC)", (ALL, *days), ALL, labels={ALL: "Every day"}, widget="selectbox"))
    return who, event, day


def day_bounds(day: str) -> tuple[datetime | None, datetime | None]:
    """The first and last instant of a UTC day 'YYYY-MM-DD' (None, None for every day)."""
    if not day:
        return None, None
    start = datetime.combine(date.fromisoformat(day), time.min, tzinfo=timezone.utc)
    return start, start + timedelta(days=1) - timedelta(microseconds=1)


def entries(ctx: ViewContext) -> Section:
    """The entries matching the chosen person, event and day, newest first."""
    title = "Entries"
    everything = _read_log(audit.audit_log_path())[1]
    who, event, day = _choices(ctx, everything)
    since, until = day_bounds(day)
    chosen = audit.filter_entries(everything, user=who or None, event=event or None, since=since, until=until)
    if not chosen:
        return Section(title, (Text("No entries match these filters.", "info"),), in_pack=False)
    rows = pd.DataFrame(audit.entries_table(chosen[:SHOWN_ENTRIES]), columns=[c.name for c in COLUMNS])
    shown = f"the newest {SHOWN_ENTRIES:,} of {len(chosen):,}" if len(chosen) > SHOWN_ENTRIES else f"{len(chosen):,}"
    notes = ctx.notes("Audit log entries", SOURCE, units="entries",
                      caveats="Times in UTC. Each entry's hash chains it to the one before (docs/SECURITY.md).")
    table = Table("audit-entries", rows, COLUMNS, notes, static=False, widths={"Detail": "large"},
                  caption=f"Showing {shown} matching entries, newest first. The whole log, unfiltered: "
                          "`python -m access audit export --out audit.csv`.")
    return Section(title, (table,), in_pack=False)


VIEW = View(
    id="audit", title="Audit log", heading="Audit log: sign-ins, views and exports", icon=":material/policy:",
    group="More views", uses_comparison=False,
    intro=("Who signed in, which views they opened with which filters, what they exported (with what each file held) "
           "and any refusals and errors, from the append-only audit log. Analysts only."),
    sections=(chain_status, entries),
)

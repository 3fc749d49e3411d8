"""The audit trail: who signed in, opened which view with which filters, and exported what, and when.

The log is a file of JSON lines, one entry per event, only ever appended to: the file is opened with O_APPEND
(every write lands at the end, whatever any other writer does), each entry is written with one `write` and
`fsync`ed, and writers take an exclusive `flock` so entries from several processes never interleave. Each entry
carries the SHA-256 of the previous entry (`prev`) and its own (`hash`, over the entry's canonical JSON without
`hash`), so editing, deleting or re-ordering any entry breaks the chain: `python -m access audit verify` finds it.
Deleting the newest entries leaves a shorter valid chain; that is caught by comparing with a head (sequence number
and hash) kept elsewhere: every append also writes the new head to the server log (logger `crime_monitor.audit`),
and `verify --head SEQ:HASH` checks it. docs/SECURITY.md lists the OS-level protections for production.

Location: `$CRIME_MONITOR_AUDIT_LOG`, else `data/audit/audit.jsonl` (outside any web root; the folder is created
0700 and the file 0600).
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import io
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from access.logs import server_logger

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_AUDIT_LOG = PROJECT_ROOT / "data" / "audit" / "audit.jsonl"
GENESIS = "0" * 64
EVENTS = ("sign_in", "sign_in_refused", "sign_out", "view", "view_refused", "export", "error")
ENTRY_FIELDS = ("seq", "at", "event", "user", "role", "detail", "prev")
_LOGGER = server_logger("crime_monitor.audit")
_LOCK = threading.Lock()


def audit_log_path(path: str | os.PathLike | None = None) -> Path:
    """`path`, else `$CRIME_MONITOR_AUDIT_LOG`, else data/audit/audit.jsonl."""
    return Path(path or os.environ.get("CRIME_MONITOR_AUDIT_LOG") or DEFAULT_AUDIT_LOG)


def entry_hash(entry: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the entry's canonical JSON (sorted keys, no spaces), without its `hash` field."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                                     default=str).encode("utf-8")).hexdigest()


def _last_line(fd: int) -> bytes:
    """The last non-empty line of an open file (read backwards in blocks)."""
    end = os.lseek(fd, 0, os.SEEK_END)
    tail = b""
    position = end
    while position > 0:
        step = min(8192, position)
        position -= step
        os.lseek(fd, position, os.SEEK_SET)
        tail = os.read(fd, step) + tail
        stripped = tail.rstrip(b"\n")
        if b"\n" in stripped:
            return stripped.rsplit(b"\n", 1)[1]
    return tail.rstrip(b"\n")


def _open_for_append(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)


def append_entry(event: str, user: str, role: str | None, detail: Mapping[str, Any] | None = None, *,
                 path: str | os.PathLike | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Append one event to the audit log and return the entry written (with its hash).

    event: one of EVENTS; user: who (e-mail or subject, "local" without sign-in); role: their product role (None
    when they have none); detail: what (view id and filters, export file and contents), JSON-serialisable."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}: expected one of {', '.join(EVENTS)}")
    file = audit_log_path(path)
    at = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat(timespec="milliseconds")
    with _LOCK:
        fd = _open_for_append(file)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            last = _last_line(fd)
            if last:
                try:
                    previous = json.loads(last)
                    seq, prev = int(previous["seq"]) + 1, str(previous["hash"])
                except (ValueError, KeyError, TypeError):
                    raise AuditError(f"{file}: the last line is not an audit entry; run `python -m access audit "
                                     "verify` and investigate before anything more is logged") from None
            else:
                seq, prev = 1, GENESIS
            entry: dict[str, Any] = {"seq": seq, "at": at, "event": event, "user": str(user),
                                     "role": role, "detail": dict(detail or {}), "prev": prev}
            entry["hash"] = entry_hash(entry)
            line = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str) + "\n"
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)  # closing releases the lock
    _LOGGER.info("audit head %d:%s (%s by %s)", seq, entry["hash"], event, user)
    return entry


class AuditError(RuntimeError):
    """The audit log cannot be appended to safely."""


@dataclass
class Verification:
    """The result of checking a log's hash chain: ok, entries checked, the head (seq, hash), problems found."""

    ok: bool
    entries: int
    head: tuple[int, str] | None
    problems: list[str] = field(default_factory=list)


def verify_log(path: str | os.PathLike | None = None, *, expected_head: tuple[int, str] | None = None) -> Verification:
    """Check every line: valid JSON, consecutive seq from 1, `prev` = the previous entry's hash, `hash` = the
    entry's own; and, with `expected_head` (from the server log or a copy kept elsewhere), that the entry with
    that seq still exists with that hash (so removing the newest entries is found too)."""
    return read_log(path, expected_head=expected_head)[0]


def read_log(path: str | os.PathLike | None = None, *, expected_head: tuple[int, str] | None = None
             ) -> tuple[Verification, list[dict[str, Any]]]:
    """verify_log's check and read_entries' entries from one pass over the file (the audit view shows both)."""
    file = audit_log_path(path)
    problems: list[str] = []
    if not file.exists():
        return Verification(False, 0, None, [f"{file}: no audit log"]), []
    prev, count, head = GENESIS, 0, None
    seen: dict[int, str] = {}
    entries: list[dict[str, Any]] = []
    with open(file, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                problems.append(f"{file}:{number}: empty line")
                continue
            try:
                entry = json.loads(raw)
                if isinstance(entry, dict) and "seq" in entry:
                    entries.append(entry)
                seq, stored = int(entry["seq"]), str(entry["hash"])
            except (ValueError, KeyError, TypeError):
                problems.append(f"{file}:{number}: not an audit entry")
                continue
            count += 1
            if seq != count:
                problems.append(f"{file}:{number}: sequence number {seq}, expected {count} (an entry was removed "
                                "or inserted)")
            if entry.get("prev") != prev:
                problems.append(f"{file}:{number}: does not follow the previous entry (prev hash differs)")
            if entry_hash(entry) != stored:
                problems.append(f"{file}:{number}: entry {seq} was changed after it was written (hash differs)")
            prev, head = stored, (seq, stored)
            seen[seq] = stored
    if expected_head is not None:
        seq, digest = expected_head
        if seen.get(seq) != digest:
            problems.append(f"{file}: entry {seq} with hash {digest[:12]}… (the head recorded elsewhere) is not in "
                            "the log: entries were removed or rewritten")
    return Verification(not problems, count, head, problems), entries


def read_entries(path: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Every entry of the log (lines that are not entries are skipped: `verify_log` reports them)."""
    file = audit_log_path(path)
    if not file.exists():
        return []
    out = []
    with open(file, "rb") as handle:
        for raw in handle:
            with contextlib.suppress(ValueError):
                entry = json.loads(raw)
                if isinstance(entry, dict) and "seq" in entry:
                    out.append(entry)
    return out


def filter_entries(entries: Sequence[Mapping[str, Any]], *, user: str | None = None, event: str | None = None,
                   since: datetime | None = None, until: datetime | None = None, text: str | None = None,
                   limit: int | None = None) -> list[Mapping[str, Any]]:
    """Entries matching every given condition, newest first: user (exact, case-insensitive), event, `at` within
    since..until (inclusive, timezone-aware), `text` anywhere in the detail (case-insensitive); at most `limit`."""
    def keep(entry: Mapping[str, Any]) -> bool:
        if user and str(entry.get("user", "")).casefold() != user.casefold():
            return False
        if event and entry.get("event") != event:
            return False
        at = datetime.fromisoformat(str(entry.get("at")))
        if (since and at < since) or (until and at > until):
            return False
        return not text or text.casefold() in json.dumps(entry.get("detail", {}), default=str).casefold()

    chosen = [e for e in reversed(entries) if keep(e)]
    return chosen[:limit] if limit is not None else chosen


def _detail_text(detail: Any) -> str:
    if not isinstance(detail, Mapping):
        return str(detail)
    keys = sorted(detail, key=lambda k: (k != "view", k))  # the view first, then the rest by name
    def text(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)

    return "; ".join(f"{k}: {text(detail[k])}" for k in keys)


def entries_table(entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows for the analysts' audit view and its export: seq, at_utc, event, user, role, view, detail (text)."""
    return [{"seq": e.get("seq"), "at_utc": e.get("at"), "event": e.get("event"), "user": e.get("user"),
             "role": e.get("role") or "", "view": (e.get("detail") or {}).get("view", ""),
             "detail": _detail_text(e.get("detail", {}))} for e in entries]


def entries_csv(entries: Sequence[Mapping[str, Any]]) -> bytes:
    """The rows of `entries_table` as UTF-8 CSV (for the audit view's download)."""
    rows = entries_table(entries)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["seq", "at_utc", "event", "user", "role", "view", "detail"],
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


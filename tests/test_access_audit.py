"""The audit log: append-only hash chain, tamper detection (edit, delete, insert, reorder, truncate), file
permissions, concurrent writers, filters and the CSV export, and the command line."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from access.audit import (
    GENESIS,
    append_entry,
    entries_csv,
    filter_entries,
    read_entries,
    read_log,
    verify_log,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _write_three(log: Path) -> list[dict]:
    return [
        append_entry("sign_in", "ann@essex.police.uk", "analyst", {"subject": "s1"}, path=log,
                     now=datetime(2021, 3, 1, 9, 0, tzinfo=timezone.utc)),
        append_entry("view", "ann@essex.police.uk", "analyst", {"view": "roads", "filters": {"districts": ["Harlow"]}},
                     path=log, now=datetime(2021, 3, 1, 9, 1, tzinfo=timezone.utc)),
        append_entry("export", "pat@pfcc.gov.uk", "panel", {"view": "overview", "file": "scorecard.xlsx", "rows": 7},
                     path=log, now=datetime(2021, 3, 2, 10, 0, tzinfo=timezone.utc)),
    ]


def _sha256_without_hash(entry: dict) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def test_chain_is_what_the_design_says(tmp_path):
    log = tmp_path / "audit" / "audit.jsonl"
    written = _write_three(log)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines == written
    assert [e["seq"] for e in lines] == [1, 2, 3]
    assert lines[0]["prev"] == GENESIS == "0" * 64
    for before, entry in zip([None, *lines], lines):
        assert entry["hash"] == _sha256_without_hash(entry)          # recomputed here, not read back
        if before is not None:
            assert entry["prev"] == before["hash"]
    assert lines[1]["at"] == "2021-03-01T09:01:00.000+00:00" and lines[2]["user"] == "pat@pfcc.gov.uk"
    result = verify_log(log)
    assert result.ok and result.entries == 3 and result.head == (3, lines[2]["hash"])


def test_file_and_folder_are_private(tmp_path):
    log = tmp_path / "private" / "audit.jsonl"
    append_entry("sign_in", "a", "analyst", path=log)
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize("tamper", ["edit", "delete_middle", "insert", "reorder", "rewrite_hash", "garbage"])
def test_any_rewrite_is_found(tmp_path, tamper):
    log = tmp_path / "audit.jsonl"
    _write_three(log)
    lines = log.read_text().splitlines()
    if tamper == "edit":            # change who exported
        lines[2] = lines[2].replace("pat@pfcc.gov.uk", "someone@else")
    elif tamper == "delete_middle":
        del lines[1]
    elif tamper == "insert":
        lines.insert(1, lines[0])
    elif tamper == "reorder":
        lines[1], lines[2] = lines[2], lines[1]
    elif tamper == "rewrite_hash":  # edit and recompute this entry's own hash: the next entry no longer follows
        entry = json.loads(lines[1])
        entry["detail"]["view"] = "data"
        entry["hash"] = _sha256_without_hash(entry)
        lines[1] = json.dumps(entry)
    else:
        lines.append("not json")
    log.write_text("\n".join(lines) + "\n")
    result = verify_log(log)
    assert not result.ok and result.problems
    assert all(str(log) in p for p in result.problems)


@pytest.mark.parametrize("tamper", ["none", "edit", "delete_middle", "garbage"])
def test_one_pass_gives_the_check_and_the_entries_of_two(tmp_path, tamper):
    """read_log (the audit view's one pass) = verify_log's check + read_entries' entries."""
    log = tmp_path / "audit.jsonl"
    written = _write_three(log)
    lines = log.read_text().splitlines()
    if tamper == "edit":
        lines[2] = lines[2].replace("pat@pfcc.gov.uk", "someone@else")
    elif tamper == "delete_middle":
        del lines[1]
    elif tamper == "garbage":
        lines[1:1] = ["not json", "[1, 2]", ""]
    log.write_text("\n".join(lines) + "\n")
    check, entries = read_log(log)
    assert check == verify_log(log) and entries == read_entries(log)
    assert check.ok == (tamper == "none")
    kept = {"none": [1, 2, 3], "edit": [1, 2, 3], "delete_middle": [1, 3], "garbage": [1, 2, 3]}[tamper]
    assert [e["seq"] for e in entries] == kept and entries[0] == written[0]
    assert read_log(tmp_path / "missing.jsonl") == (verify_log(tmp_path / "missing.jsonl"), [])


def test_the_audit_view_reads_the_log_again_after_any_change(tmp_path):
    """The view's sections share one read while the file is unchanged; an append or an in-place edit of the
    same length is read again (size, times or inode change)."""
    from views import audit as audit_view

    log = tmp_path / "audit.jsonl"
    _write_three(log)
    first = audit_view._read_log(log)
    assert first[0].ok and audit_view._read_log(log) is first  # unchanged: the one read shared
    append_entry("sign_in", "bob", "analyst", path=log)
    appended = audit_view._read_log(log)
    assert appended[0].ok and appended[0].entries == 4
    text = log.read_text()
    log.write_text(text.replace("pat@pfcc.gov.uk", "pat@pfcc.gov.xx"))  # same length, same size
    edited = audit_view._read_log(log)
    assert not edited[0].ok and any("changed after it was written" in p for p in edited[0].problems)


def test_removing_the_newest_entries_is_found_with_the_head_kept_elsewhere(tmp_path, caplog):
    log = tmp_path / "audit.jsonl"
    caplog.set_level("INFO", logger="crime_monitor.audit")
    written = _write_three(log)
    head = f"{written[-1]['seq']}:{written[-1]['hash']}"
    assert f"audit head {head}" in caplog.text                  # the server log keeps every head
    log.write_text("".join(line + "\n" for line in log.read_text().splitlines()[:2]))
    assert verify_log(log).ok                                   # a shorter chain is still a chain ...
    result = verify_log(log, expected_head=(3, written[-1]["hash"]))
    assert not result.ok and "not in the log" in result.problems[0]   # ... but not the head recorded elsewhere


def test_appending_after_a_damaged_last_line_is_refused(tmp_path):
    from access.audit import AuditError

    log = tmp_path / "audit.jsonl"
    _write_three(log)
    with open(log, "a") as handle:
        handle.write("{broken\n")
    with pytest.raises(AuditError, match="the last line is not an audit entry"):
        append_entry("view", "a", "analyst", path=log)


def test_concurrent_writers_keep_one_chain(tmp_path):
    log = tmp_path / "audit.jsonl"
    threads = [threading.Thread(target=lambda i=i: [append_entry("view", f"u{i}", "officer", {"n": n}, path=log)
                                                  for n in range(15)]) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    script = ("import sys; from access.audit import append_entry\n"
              "for n in range(10): append_entry('export', 'other-process', 'analyst', {'n': n}, path=sys.argv[1])")
    subprocess.run([sys.executable, "-c", script, str(log)], cwd=PROJECT_ROOT, check=True)
    result = verify_log(log)
    assert result.ok and result.entries == 4 * 15 + 10


def test_unknown_event_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown audit event 'delete'"):
        append_entry("delete", "a", "analyst", path=tmp_path / "a.jsonl")


def test_filters_and_csv_export_for_the_audit_view(tmp_path):
    log = tmp_path / "audit.jsonl"
    _write_three(log)
    entries = read_entries(log)
    assert [e["seq"] for e in filter_entries(entries)] == [3, 2, 1]             # newest first
    assert [e["seq"] for e in filter_entries(entries, user="ANN@essex.police.uk")] == [2, 1]
    assert [e["seq"] for e in filter_entries(entries, event="export")] == [3]
    since = datetime(2021, 3, 1, 9, 0, 30, tzinfo=timezone.utc)
    assert [e["seq"] for e in filter_entries(entries, since=since)] == [3, 2]
    assert [e["seq"] for e in filter_entries(entries, until=since)] == [1]
    assert [e["seq"] for e in filter_entries(entries, text="harlow")] == [2]
    assert [e["seq"] for e in filter_entries(entries, limit=1)] == [3]
    rows = list(csv.DictReader(io.StringIO(entries_csv(filter_entries(entries)).decode("utf-8"))))
    assert [r["seq"] for r in rows] == ["3", "2", "1"]
    assert rows[0]["view"] == "overview" and "scorecard.xlsx" in rows[0]["detail"] and rows[0]["role"] == "panel"
    assert rows[1]["detail"] == 'view: roads; filters: {"districts": ["Harlow"]}'


def test_command_line_verify_and_export(tmp_path):
    log = tmp_path / "audit.jsonl"
    written = _write_three(log)
    env = {**os.environ, "CRIME_MONITOR_AUDIT_LOG": str(log)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "access", "audit", *args], cwd=PROJECT_ROOT, env=env,
                              capture_output=True, text=True, timeout=60)

    ok = run("verify", "--head", f"3:{written[2]['hash']}")
    assert ok.returncode == 0 and f"3 entries, chain intact; head 3:{written[2]['hash']}" in ok.stdout
    exported = run("export", "--event", "view")
    assert exported.returncode == 0 and exported.stdout.splitlines()[0] == "seq,at_utc,event,user,role,view,detail"
    assert len(exported.stdout.splitlines()) == 2
    log.write_text(log.read_text().replace('"rows":7', '"rows":0'))
    bad = run("verify")
    assert bad.returncode == 1 and "entry 3 was changed after it was written" in bad.stderr
    assert "Traceback" not in bad.stderr

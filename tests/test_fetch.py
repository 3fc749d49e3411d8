"""`python -m etl fetch` against a local HTTP server on 127.0.0.1 that mimics data.police.uk:
`/api/crime-last-updated` and `/data/archive/YYYY-MM.zip` (zips built here from the real Essex files in
../shared/data plus fake members for other forces), with HTTP Range support, a 404 for an unpublished
month, and a connection dropped mid-file."""

from __future__ import annotations

import csv
import hashlib
import http.server
import io
import json
import socket
import threading
import zipfile
from datetime import date
from pathlib import Path

import duckdb
import pytest

from etl.fetch import FetchError, fetch, plan_archives
from tests.conftest import run_cli

ESSEX_MONTHS = ["2018-10", "2018-11", "2018-12", "2019-01", "2019-02"]
STREET_HEADER_LINE = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,"
    "Last outcome category,Context\n"
)
OUTCOMES_HEADER_LINE = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Outcome type\n"
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fake_street(force_name: str, month: str) -> bytes:
    row = f"{'a' * 64},{month},{force_name},{force_name},0.1,51.5,On or near High Street,E01000001,Somewhere 001A,Burglary,Under investigation,\n"
    return (STREET_HEADER_LINE + row).encode()


def build_archive(essex_dir: Path, months: list[str], other_forces: bool) -> tuple[bytes, dict[str, bytes]]:
    """A data.police.uk style archive zip; returns (zip bytes, essex member name -> bytes)."""
    buffer = io.BytesIO()
    essex_members: dict[str, bytes] = {}
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as bundle:
        for month in months:
            data = (essex_dir / month / f"{month}-essex-street.csv").read_bytes()
            name = f"{month}/{month}-essex-street.csv"
            bundle.writestr(name, data)
            essex_members[name] = data
            if month == "2019-01":  # an outcomes file too, so more than one kind is extracted
                outcomes = (OUTCOMES_HEADER_LINE + f"{'b' * 64},2019-01,Essex Police,Essex Police,0.5,51.7,"
                            "On or near Mill Lane,E01021237,Basildon 001A,Suspect charged\n").encode()
                bundle.writestr(f"{month}/{month}-essex-outcomes.csv", outcomes)
                essex_members[f"{month}/{month}-essex-outcomes.csv"] = outcomes
            if other_forces:
                bundle.writestr(f"{month}/{month}-kent-street.csv", fake_street("Kent Police", month))
                bundle.writestr(f"{month}/{month}-metropolitan-street.csv", fake_street("Metropolitan Police Service", month))
                bundle.writestr(f"{month}/{month}-essex-county-fake-street.csv", fake_street("Nobody", month))
    return buffer.getvalue(), essex_members


class FakePoliceData:
    """State of the fake data.police.uk: what it serves and every request it saw."""

    def __init__(self):
        self.last_updated = "2019-02-01"
        self.archives: dict[str, bytes] = {}
        self.drop_once: set[str] = set()
        self.requests: list[tuple[str, str | None]] = []
        self.lock = threading.Lock()

    def archive_requests(self) -> list[tuple[str, str | None]]:
        return [r for r in self.requests if r[0].startswith("/data/archive/")]


def make_handler(state: FakePoliceData):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output quiet
            pass

        def do_GET(self):
            with state.lock:
                state.requests.append((self.path, self.headers.get("Range")))
            if self.path == "/api/crime-last-updated":
                body = json.dumps({"date": state.last_updated}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            name = self.path.rsplit("/", 1)[-1]
            if not self.path.startswith("/data/archive/") or name not in state.archives:
                self.send_error(404, "Not Found")
                return
            data = state.archives[name]
            start = 0
            range_header = self.headers.get("Range")
            if range_header and range_header.startswith("bytes="):
                start = int(range_header[6:].split("-")[0])
                if start >= len(data):
                    self.send_error(416, "Range Not Satisfiable")
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(data) - start))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            body = data[start:]
            if name in state.drop_once:
                state.drop_once.discard(name)
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)  # drop the connection mid-file
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


@pytest.fixture(scope="module")
def archives(essex_dir: Path) -> dict[str, tuple[bytes, dict[str, bytes]]]:
    return {
        "single": build_archive(essex_dir, ESSEX_MONTHS, other_forces=False),
        "multi": build_archive(essex_dir, ESSEX_MONTHS, other_forces=True),
    }


@pytest.fixture()
def server():
    state = FakePoliceData()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def quiet(_message: str) -> None:
    pass


def test_plan_chooses_the_fewest_archives():
    months = [date(y, m, 1) for y in range(2015, 2022) for m in range(1, 13) if date(y, m, 1) <= date(2021, 6, 1)]
    plan = plan_archives(months, latest_archive=date(2021, 6, 1))
    # by hand: 2017-12.zip holds 2015-01..2017-12, 2020-12.zip 2018-01..2020-12, 2021-06.zip the rest
    assert [archive for archive, _ in plan] == [date(2017, 12, 1), date(2020, 12, 1), date(2021, 6, 1)]
    assert [(covered[0], covered[-1]) for _, covered in plan] == [
        (date(2015, 1, 1), date(2017, 12, 1)), (date(2018, 1, 1), date(2020, 12, 1)), (date(2021, 1, 1), date(2021, 6, 1))]
    assert plan_archives([date(2019, 1, 1), date(2019, 2, 1)], date(2021, 6, 1)) == [
        (date(2021, 6, 1), [date(2019, 1, 1), date(2019, 2, 1)])]


def test_normal_run_then_skip_then_load(server, archives, essex_dir, tmp_path):
    server.archives["2019-02.zip"], members = archives["single"]
    dest = tmp_path / "police"
    report = fetch("essex", date(2018, 11, 1), date(2019, 1, 1), dest, base_url=server.base_url, log=quiet)
    assert report.fetched == [date(2018, 11, 1), date(2018, 12, 1), date(2019, 1, 1)]
    assert report.not_yet_published == [] and report.missing_for_force == []
    assert [r[0] for r in server.archive_requests()] == ["/data/archive/2019-02.zip"]
    assert sorted(p.name for p in dest.iterdir() if not p.name.startswith(".")) == ["2018-11", "2018-12", "2019-01"]
    for month in ("2018-11", "2018-12", "2019-01"):
        original = (essex_dir / month / f"{month}-essex-street.csv").read_bytes()
        assert sha256((dest / month / f"{month}-essex-street.csv").read_bytes()) == sha256(original)
    assert (dest / "2019-01" / "2019-01-essex-outcomes.csv").read_bytes() == members["2019-01/2019-01-essex-outcomes.csv"]
    assert not (dest / ".downloads").exists()  # the zip is deleted after extraction

    # a second run finds every month complete and downloads nothing
    again = fetch("essex", date(2018, 11, 1), date(2019, 1, 1), dest, base_url=server.base_url, log=quiet)
    assert again.fetched == [] and len(again.already_complete) == 3
    assert len(server.archive_requests()) == 1

    # the CLI loads what it fetched
    db = tmp_path / "fetched.duckdb"
    result = run_cli("etl", "fetch", "--force", "essex", "--from", "2018-11", "--to", "2019-01", "--dest", str(dest),
                     "--base-url", server.base_url, "--load", "--db", str(db))
    assert "Loaded" in result.stdout
    with open(essex_dir / "2018-12" / "2018-12-essex-street.csv", newline="", encoding="utf-8") as handle:
        expected_rows = sum(1 for _ in csv.reader(handle)) - 1
    con = duckdb.connect(str(db), read_only=True)
    try:
        loaded = dict(con.execute("SELECT month, count(*) FROM crimes GROUP BY 1").fetchall())
        assert loaded[date(2018, 12, 1)] == expected_rows
        assert sorted(loaded) == [date(2018, 11, 1), date(2018, 12, 1), date(2019, 1, 1)]
        assert con.execute("SELECT count(*) FROM outcomes").fetchall()[0][0] == 1
    finally:
        con.close()


def test_unpublished_month_is_reported_not_a_crash(server, archives, tmp_path):
    # the API says March 2019 is out, but its archive answers 404; April and May are after the last update
    server.last_updated = "2019-03-01"
    server.archives["2019-02.zip"], _ = archives["single"]
    dest = tmp_path / "police"
    result = run_cli("etl", "fetch", "--force", "essex", "--from", "2019-01", "--to", "2019-05", "--dest", str(dest),
                     "--base-url", server.base_url)
    assert result.returncode == 0
    for month in ("2019-03", "2019-04", "2019-05"):
        assert f"{month}: not yet published" in result.stderr
    assert (dest / "2019-01" / "2019-01-essex-street.csv").exists()
    assert (dest / "2019-02" / "2019-02-essex-street.csv").exists()
    assert not (dest / "2019-03").exists()
    # asked for 2019-03.zip first (404), then fell back to 2019-02.zip; never asked for April or May
    assert [r[0] for r in server.archive_requests()] == ["/data/archive/2019-03.zip", "/data/archive/2019-02.zip"]


def test_interrupted_download_resumes_with_a_range_request(server, archives, essex_dir, tmp_path):
    data, _ = archives["single"]
    server.archives["2019-02.zip"] = data
    server.drop_once.add("2019-02.zip")
    dest = tmp_path / "police"
    # first run: no retries, the dropped connection stops it and the partial file is kept
    with pytest.raises(FetchError, match="run the same command again to resume"):
        fetch("essex", date(2019, 1, 1), date(2019, 2, 1), dest, base_url=server.base_url, retries=0, log=quiet)
    part = dest / ".downloads" / "2019-02.zip.part"
    kept = part.stat().st_size
    assert 0 < kept < len(data)
    assert part.read_bytes() == data[:kept]
    assert not (dest / "2019-01").exists()

    # second run: resumes from the kept bytes
    report = fetch("essex", date(2019, 1, 1), date(2019, 2, 1), dest, base_url=server.base_url, log=quiet)
    assert report.fetched == [date(2019, 1, 1), date(2019, 2, 1)]
    assert server.archive_requests()[-1] == ("/data/archive/2019-02.zip", f"bytes={kept}-")
    original = (essex_dir / "2019-02" / "2019-02-essex-street.csv").read_bytes()
    assert (dest / "2019-02" / "2019-02-essex-street.csv").read_bytes() == original


def test_interrupted_download_retries_within_one_run(server, archives, tmp_path):
    data, _ = archives["single"]
    server.archives["2019-02.zip"] = data
    server.drop_once.add("2019-02.zip")
    report = fetch("essex", date(2019, 2, 1), date(2019, 2, 1), tmp_path / "police", base_url=server.base_url,
                   retries=2, retry_wait=0, log=quiet)
    assert report.fetched == [date(2019, 2, 1)]
    ranges = [r[1] for r in server.archive_requests()]
    assert ranges[0] is None and ranges[1] is not None and ranges[1].startswith("bytes=")


def test_multi_force_zip_keeps_only_the_asked_force(server, archives, tmp_path):
    server.archives["2019-02.zip"], members = archives["multi"]
    with zipfile.ZipFile(io.BytesIO(server.archives["2019-02.zip"])) as bundle:
        assert any("-kent-" in name for name in bundle.namelist())  # the zip really holds other forces
    dest = tmp_path / "police"
    report = fetch("essex", date(2018, 10, 1), date(2019, 2, 1), dest, base_url=server.base_url, log=quiet)
    assert len(report.fetched) == 5
    kept = sorted(str(p.relative_to(dest)) for p in dest.rglob("*.csv"))
    assert kept == sorted(members)  # exactly the essex members, nothing from kent, metropolitan or "essex-county-fake"

    kent = fetch("kent", date(2019, 1, 1), date(2019, 1, 1), tmp_path / "kent", base_url=server.base_url, log=quiet)
    assert [p.name for p in kent.files] == ["2019-01-kent-street.csv"]


def test_bad_arguments_fail_clearly(server, tmp_path):
    with pytest.raises(FetchError, match="unknown force"):
        fetch("atlantis", date(2019, 1, 1), date(2019, 1, 1), tmp_path, base_url=server.base_url, log=quiet)
    result = run_cli("etl", "fetch", "--force", "essex", "--from", "2019-13", "--to", "2019-01", "--dest", str(tmp_path),
                     check=False)
    assert result.returncode == 2 and "YYYY-MM" in result.stderr


def test_kept_zips_are_not_loaded_with_the_fetched_folder(server, archives, essex_dir, tmp_path):
    from etl.load import load_sources

    server.archives["2019-02.zip"], _ = archives["multi"]
    dest = tmp_path / "police"
    fetch("essex", date(2019, 1, 1), date(2019, 2, 1), dest, base_url=server.base_url, keep_zips=True, log=quiet)
    assert (dest / ".downloads" / "2019-02.zip").exists()
    db = tmp_path / "kept.duckdb"
    load_sources([dest], db, progress=False)
    expected = 0
    for month in ("2019-01", "2019-02"):
        with open(essex_dir / month / f"{month}-essex-street.csv", newline="", encoding="utf-8") as handle:
            expected += sum(1 for _ in csv.reader(handle)) - 1
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*), count(DISTINCT force_id) FROM crimes").fetchall()[0] == (expected, 1)
    finally:
        con.close()

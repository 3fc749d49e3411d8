"""`python -m etl fetch`: download real data.police.uk street, outcomes and stop-and-search files for one
force and a range of months, from data.police.uk's monthly archive zips.

How it works:
- `GET {base}/api/crime-last-updated` gives the latest published month (`{"date": "2021-06-01"}`);
  months after it are reported as "not yet published" and not requested.
- `{base}/data/archive/YYYY-MM.zip` holds the 36 months up to YYYY-MM for every force (members
  `YYYY-MM/YYYY-MM-<force>-street.csv`, `-outcomes.csv`, `-stop-and-search.csv`). We choose the fewest
  zips that cover the months asked, download each to a `.part` file with HTTP Range resume (so an
  interrupted download carries on where it stopped), and extract only the asked force's members for
  the asked months into `DEST/YYYY-MM/`. A zip that answers 404 is not published yet: we try the
  previous month's zip, and months no zip covers are reported as "not yet published".
- A month folder is complete once its `.fetched` marker (holding the crime-last-updated date) is
  written; later runs skip complete months (resume), unless `--refresh`.
- `--load --db PATH` loads the fetched month folders through `etl.load.load_sources`.

Only the standard library (urllib) is used. The base URL is configurable (`--base-url`) so tests run
against a local server.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import sys
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

DEFAULT_BASE_URL = "https://data.police.uk"
ARCHIVE_MONTHS = 36  # each archive zip holds this many months, ending with its own
MARKER = ".fetched"
DOWNLOADS = ".downloads"
KINDS = ("street", "outcomes", "stop-and-search")
CHUNK_BYTES = 1 << 20
USER_AGENT = "crime-plan-monitor-fetch/1.0 (+https://data.police.uk)"


class FetchError(Exception):
    """A fetch that cannot go on (network, server or file problem), with a message saying what to do."""


@dataclass
class FetchReport:
    """What one fetch did, month by month (first-of-month dates)."""

    force_id: str
    last_updated: date
    fetched: list[date] = field(default_factory=list)
    already_complete: list[date] = field(default_factory=list)
    not_yet_published: list[date] = field(default_factory=list)
    missing_for_force: list[date] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    zips_downloaded: list[str] = field(default_factory=list)
    stale: list[date] = field(default_factory=list)

    @property
    def complete(self) -> list[date]:
        return sorted(self.fetched + self.already_complete)


# ------------------------------------------------------------------------------------------------
# Months
# ------------------------------------------------------------------------------------------------
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str) -> date:
    """ "2019-01" -> date(2019, 1, 1); raises ValueError with the expected form."""
    match = _MONTH.match(text.strip())
    if not match:
        raise ValueError(f"month {text!r} is not in the form YYYY-MM")
    return date(int(match.group(1)), int(match.group(2)), 1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def month_range(first: date, last: date) -> list[date]:
    months, current = [], first
    while current <= last:
        months.append(current)
        current = add_months(current, 1)
    return months


def plan_archives(months: list[date], latest_archive: date) -> list[tuple[date, list[date]]]:
    """The fewest archive zips covering `months` (sorted): each zip is the latest one (not after
    `latest_archive`) whose 36-month window still holds the earliest month not yet covered."""
    plan: list[tuple[date, list[date]]] = []
    remaining = sorted(m for m in months if m <= latest_archive)
    while remaining:
        archive = min(add_months(remaining[0], ARCHIVE_MONTHS - 1), latest_archive)
        covered = [m for m in remaining if add_months(archive, -(ARCHIVE_MONTHS - 1)) <= m <= archive]
        plan.append((archive, covered))
        remaining = [m for m in remaining if m not in covered]
    return plan


# ------------------------------------------------------------------------------------------------
# HTTP
# ------------------------------------------------------------------------------------------------
def _request(url: str, headers: dict | None = None) -> urllib.request.Request:
    return urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})


def crime_last_updated(base_url: str, timeout: float = 30) -> date:
    """The date data.police.uk says its crime data was last updated (its latest month)."""
    url = f"{base_url.rstrip('/')}/api/crime-last-updated"
    try:
        with urllib.request.urlopen(_request(url), timeout=timeout) as response:
            payload = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raise FetchError(f"{url} answered HTTP {exc.code}; is the base URL right?") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise FetchError(f"cannot reach {url} ({exc}); check the network or --base-url") from exc
    except json.JSONDecodeError as exc:
        raise FetchError(f"{url} did not answer JSON ({exc})") from exc
    text = str(payload.get("date", "")) if isinstance(payload, dict) else ""
    if not re.match(r"^\d{4}-\d{2}(-\d{2})?", text):
        raise FetchError(f"{url} answered {payload!r}, not {{\"date\": \"YYYY-MM-DD\"}}")
    return date(int(text[:4]), int(text[5:7]), 1)


class NotPublished(Exception):
    """The server answered 404 for an archive zip."""


def download(url: str, target: Path, *, retries: int = 3, timeout: float = 60, log=None,
             retry_wait: float = 1.0) -> Path:
    """Download `url` to `target`, resuming a `target.part` left by an interrupted run (HTTP Range).

    Raises NotPublished on 404, FetchError when the download keeps failing."""
    log = log or (lambda message: None)
    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    attempt = 0
    while True:
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with urllib.request.urlopen(_request(url, headers), timeout=timeout) as response:
                status = response.status
                if have and status == 200:
                    log(f"  {url}: the server ignored the resume request; starting again")
                    have = 0
                total = _total_size(response, have)
                if have:
                    log(f"  resuming {url} at {have:,} bytes")
                _stream(response, part, have, total, url, log)
            if total is not None and part.stat().st_size != total:
                raise http.client.IncompleteRead(b"", total - part.stat().st_size)
            os.replace(part, target)
            return target
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise NotPublished(url) from exc
            if exc.code == 416 and have:
                # asked to resume past the end: the .part is the whole file (or stale); check it
                part.unlink()
                error: Exception = exc
            elif 500 <= exc.code < 600:
                error = exc
            else:
                raise FetchError(f"{url} answered HTTP {exc.code} {exc.reason}") from exc
        except (http.client.IncompleteRead, http.client.HTTPException, urllib.error.URLError, OSError) as exc:
            error = exc
        attempt += 1
        if attempt > retries:
            kept = part.stat().st_size if part.exists() else 0
            raise FetchError(
                f"download of {url} failed after {attempt} attempt(s): {error!r}. "
                f"{kept:,} bytes are kept in {part}; run the same command again to resume."
            ) from error
        log(f"  {url}: interrupted ({error!r}); retrying ({attempt}/{retries})")
        time.sleep(retry_wait)


def _total_size(response, have: int) -> int | None:
    content_range = response.headers.get("Content-Range")
    if content_range and "/" in content_range:
        size = content_range.rsplit("/", 1)[1]
        return int(size) if size.isdigit() else None
    length = response.headers.get("Content-Length")
    return have + int(length) if length and length.isdigit() else None


def _stream(response, part: Path, have: int, total: int | None, url: str, log) -> None:
    mode = "ab" if have else "wb"
    done, last_report = have, time.monotonic()
    with open(part, mode) as out:
        while True:
            block = response.read(CHUNK_BYTES)
            if not block:
                break
            out.write(block)
            done += len(block)
            if time.monotonic() - last_report >= 2:
                last_report = time.monotonic()
                share = f" ({done / total:.0%} of {total / 1e6:,.0f} MB)" if total else ""
                log(f"  {url}: {done / 1e6:,.1f} MB{share}")


# ------------------------------------------------------------------------------------------------
# Extraction
# ------------------------------------------------------------------------------------------------
def member_pattern(force_id: str) -> re.Pattern:
    return re.compile(
        rf"^(?:[^/]+/)?(\d{{4}}-\d{{2}})/\1-{re.escape(force_id)}-(street|outcomes|stop-and-search)\.csv$"
    )


def extract_force_months(archive: Path, force_id: str, months: list[date], dest: Path,
                         last_updated: date) -> dict[date, list[Path]]:
    """Extract the force's files for `months` from one archive zip into DEST/YYYY-MM/ (each month
    written to a temporary folder, then renamed, then marked complete). Returns files by month."""
    wanted = {f"{m:%Y-%m}": m for m in months}
    pattern = member_pattern(force_id)
    found: dict[date, list[zipfile.ZipInfo]] = {}
    try:
        bundle = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise FetchError(f"{archive} is not a valid zip ({exc}); delete it and fetch again") from exc
    with bundle:
        for info in bundle.infolist():
            match = pattern.match(info.filename)
            if match and match.group(1) in wanted and ".." not in info.filename:
                found.setdefault(wanted[match.group(1)], []).append(info)
        written: dict[date, list[Path]] = {}
        for month, members in sorted(found.items()):
            folder = dest / f"{month:%Y-%m}"
            temporary = dest / f".{month:%Y-%m}.partial"
            shutil.rmtree(temporary, ignore_errors=True)
            temporary.mkdir(parents=True)
            paths = []
            for info in members:
                name = Path(info.filename).name
                try:
                    with bundle.open(info) as source, open(temporary / name, "wb") as out:
                        shutil.copyfileobj(source, out, CHUNK_BYTES)
                except (zipfile.BadZipFile, OSError) as exc:
                    shutil.rmtree(temporary, ignore_errors=True)
                    raise FetchError(f"{archive}: member {info.filename} is damaged ({exc}); delete the zip and fetch again") from exc
                paths.append(folder / name)
            (temporary / MARKER).write_text(f"{last_updated:%Y-%m-%d}\n", encoding="utf-8")
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(temporary, folder)
            written[month] = sorted(paths)
    return written


def month_status(dest: Path, month: date) -> str | None:
    """The crime-last-updated date stored when this month folder was completed, or None."""
    marker = dest / f"{month:%Y-%m}" / MARKER
    return marker.read_text(encoding="utf-8").strip() if marker.exists() else None


# ------------------------------------------------------------------------------------------------
# The fetch
# ------------------------------------------------------------------------------------------------
def fetch(force: str, first: date, last: date, dest: str | os.PathLike, *, base_url: str = DEFAULT_BASE_URL,
          refresh: bool = False, keep_zips: bool = False, retries: int = 3, log=None,
          retry_wait: float = 1.0) -> FetchReport:
    """Fetch `force`'s data.police.uk files for the months `first`..`last` (inclusive) into `dest`."""
    from etl.sources.common import FORCES, force_id_for

    log = log or (lambda message: print(message, file=sys.stderr))
    force_id = force_id_for(force)
    if force_id is None or force_id not in FORCES:
        raise FetchError(f"unknown force {force!r}; use a data.police.uk force id such as 'essex' or 'metropolitan'")
    if first > last:
        raise FetchError(f"--from {first:%Y-%m} is after --to {last:%Y-%m}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    last_updated = crime_last_updated(base_url)
    report = FetchReport(force_id=force_id, last_updated=last_updated)
    log(f"data.police.uk crime data last updated {last_updated:%Y-%m}; fetching {force_id} {first:%Y-%m} to {last:%Y-%m}")

    needed = []
    for month in month_range(first, last):
        if month > last_updated:
            report.not_yet_published.append(month)
            continue
        stored = month_status(dest, month)
        if stored and not refresh:
            report.already_complete.append(month)
            if stored < f"{last_updated:%Y-%m-%d}":
                report.stale.append(month)
            continue
        needed.append(month)
    if report.already_complete:
        log(f"{len(report.already_complete)} month(s) already fetched in {dest}; skipping them (--refresh to fetch again)")
    if report.stale:
        log(f"note: data.police.uk has been updated since {len(report.stale)} of them were fetched "
            "(months get revised); use --refresh to download them again")

    downloads = dest / DOWNLOADS
    latest_archive = last_updated
    while needed:
        archive_month, covered = plan_archives(needed, latest_archive)[0]
        url = f"{base_url.rstrip('/')}/data/archive/{archive_month:%Y-%m}.zip"
        target = downloads / f"{archive_month:%Y-%m}.zip"
        log(f"archive {archive_month:%Y-%m}.zip covers {covered[0]:%Y-%m}..{covered[-1]:%Y-%m}: downloading")
        try:
            if not target.exists():
                download(url, target, retries=retries, log=log, retry_wait=retry_wait)
                report.zips_downloaded.append(url)
        except NotPublished:
            log(f"archive {archive_month:%Y-%m}.zip is not published yet (404)")
            report_unpublished = [m for m in needed if m >= archive_month]
            for month in report_unpublished:
                report.not_yet_published.append(month)
            needed = [m for m in needed if m < archive_month]
            latest_archive = add_months(archive_month, -1)
            continue
        written = extract_force_months(target, force_id, covered, dest, last_updated)
        for month in covered:
            if month in written:
                report.fetched.append(month)
                report.files.extend(written[month])
                log(f"  {month:%Y-%m}: {len(written[month])} file(s) for {force_id}")
            else:
                report.missing_for_force.append(month)
                log(f"  {month:%Y-%m}: the archive holds no {force_id} files for this month")
        needed = [m for m in needed if m not in covered]
        if not keep_zips:
            target.unlink()
    with contextlib.suppress(OSError):
        downloads.rmdir()
    report.not_yet_published.sort()
    for month in report.not_yet_published:
        log(f"{month:%Y-%m}: not yet published on data.police.uk")
    log(f"fetched {len(report.fetched)} month(s), {len(report.already_complete)} already complete, "
        f"{len(report.not_yet_published)} not yet published, {len(report.missing_for_force)} without {force_id} files")
    return report


def complete_month_folders(dest: Path, months: list[date]) -> list[Path]:
    return [dest / f"{m:%Y-%m}" for m in months if month_status(dest, m)]


def _cmd_fetch(args: argparse.Namespace) -> int:
    try:
        first, last = parse_month(args.from_month), parse_month(args.to_month)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.load and not args.db:
        print("error: --load needs --db PATH (the warehouse to load into)", file=sys.stderr)
        return 2
    try:
        report = fetch(args.force, first, last, args.dest, base_url=args.base_url, refresh=args.refresh,
                       keep_zips=args.keep_zips, retries=args.retries)
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    if args.load:
        from etl.load import load_sources

        folders = complete_month_folders(Path(args.dest), report.complete)
        if not folders:
            print("nothing to load: no complete month folders in the range asked", file=sys.stderr)
            return 1
        summary = load_sources(folders, args.db)
        print(f"Loaded {len(summary.files)} file(s) into {summary.db_path}: {summary.rows_read:,} rows read, "
              f"{summary.rows_loaded:,} loaded, {summary.rows_rejected:,} rejected.")
    return 0


def register(subparsers) -> None:
    """Add `python -m etl fetch`."""
    parser = subparsers.add_parser(
        "fetch", help="download real data.police.uk files for a force and months (archive zips; resumable)",
        description="Download a force's data.police.uk street, outcomes and stop-and-search files for the months "
                    "asked into DEST/YYYY-MM/, from the monthly archive zips. Resumes after an interruption.",
    )
    parser.add_argument("--force", required=True, help="data.police.uk force id or name (e.g. essex)")
    parser.add_argument("--from", dest="from_month", required=True, metavar="YYYY-MM", help="first month")
    parser.add_argument("--to", dest="to_month", required=True, metavar="YYYY-MM", help="last month")
    parser.add_argument("--dest", required=True, help="folder for the month folders (YYYY-MM/)")
    parser.add_argument("--base-url", default=DEFAULT_BASE_URL, help=f"data.police.uk address (default {DEFAULT_BASE_URL})")
    parser.add_argument("--load", action="store_true", help="load the fetched months into --db afterwards")
    parser.add_argument("--db", help="warehouse file for --load")
    parser.add_argument("--refresh", action="store_true", help="download months again even if already fetched")
    parser.add_argument("--keep-zips", action="store_true", help="keep the downloaded archive zips in DEST/.downloads")
    parser.add_argument("--retries", type=int, default=3, help="retries of an interrupted download (default 3)")
    parser.set_defaults(handler=_cmd_fetch)

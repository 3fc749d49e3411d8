"""`python -m etl load`: expand sources (files, month folders, parents of month folders, zips), recognise
each file's kind from its header, and load them all in one atomic write.

Options every loader sees: `force`, `mapping`, `accept_rejects` (let files with many or only rejected rows
replace data, see etl.plausibility) and the date window (`earliest_date`, `latest_date`)."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import sys
import tempfile
import zipfile
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from etl.plausibility import date_window, install_window
from etl.progress import Progress
from etl.sources import source_modules
from etl.sources.common import ScannedFile, describe_header_mismatch, scan_file
from etl.warehouse import FileLoad, LoadError, Warehouse, fault_point

# zip safety: total uncompressed bytes and per-member compression ratio
MAX_ZIP_UNCOMPRESSED_BYTES = int(os.environ.get("CRIME_MONITOR_MAX_ZIP_BYTES", str(64 * 1024**3)))
MAX_ZIP_RATIO = 200
ZIP_MEMBER = re.compile(
    r"^(?:[^/]+/)?(\d{4}-\d{2})/\1-[a-z0-9-]+-(street|outcomes|stop-and-search)\.csv$"
)
SOURCE_SUFFIXES = {".csv", ".txt", ".geojson", ".gz", ".json"}


@dataclass
class LoadSummary:
    files: list[FileLoad]
    db_path: Path

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)


def _is_source_file(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and not name.startswith(".") and (
        path.suffix.lower() in {".csv", ".txt", ".zip"} or name.endswith(".geojson.gz") or name.endswith(".geojson")
    )


def _expand_directory(directory: Path) -> list[Path]:
    """A month folder, or a parent of month folders, or any folder of source files (recursively)."""
    found = [
        p for p in sorted(directory.rglob("*"))
        if _is_source_file(p) and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    ]  # hidden folders (e.g. `etl fetch`'s .downloads and unfinished .YYYY-MM.partial) are not sources
    if not found:
        raise LoadError("no CSV, zip or GeoJSON files found in this folder", directory)
    return found


def _safe_member_name(name: str, archive: str) -> PurePosixPath:
    member = PurePosixPath(name)
    if member.is_absolute() or ".." in member.parts or name.startswith(("/", "\\")) or "\\" in name:
        raise LoadError(f"unsafe member path {name!r} (absolute or '..'); refusing to extract", archive)
    return member


def _extract_zip(archive: Path, dest: Path) -> list[tuple[Path, str]]:
    """Extract a data.police.uk download zip safely. Returns (extracted path, display name) pairs."""
    display_archive = str(archive)
    if archive.stat().st_size == 0:
        raise LoadError("the zip file is empty (0 bytes)", archive)
    try:
        bundle = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise LoadError(f"not a valid zip file ({exc})", archive) from exc
    extracted: list[tuple[Path, str]] = []
    total = 0
    with bundle:
        members = [info for info in bundle.infolist() if not info.is_dir()]
        if not members:
            raise LoadError("the zip holds no files", archive)
        for info in members:
            member = _safe_member_name(info.filename, display_archive)
            if not ZIP_MEMBER.match(str(member)):
                raise LoadError(
                    f"unexpected member {info.filename!r}: a data.police.uk zip holds only "
                    "YYYY-MM/YYYY-MM-<force>-street|outcomes|stop-and-search.csv files",
                    archive,
                )
            if info.compress_size and info.file_size / max(info.compress_size, 1) > MAX_ZIP_RATIO and info.file_size > 10 * 1024**2:
                raise LoadError(
                    f"member {info.filename!r} expands {info.file_size / info.compress_size:.0f}-fold; "
                    "refusing a likely zip bomb",
                    archive,
                )
        for number, info in enumerate(members):
            member = _safe_member_name(info.filename, display_archive)
            # one folder per member: two members for the same month (a/2018-12/x.csv, b/2018-12/x.csv) must
            # both reach the loader, which refuses the pair, rather than one overwriting the other here
            target = dest / f"member{number}" / member.parts[-2] / member.parts[-1]
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(info) as source, open(target, "wb") as out:
                    while block := source.read(1 << 20):
                        total += len(block)
                        if total > MAX_ZIP_UNCOMPRESSED_BYTES:
                            raise LoadError(
                                f"uncompressed contents exceed the limit of {MAX_ZIP_UNCOMPRESSED_BYTES} bytes "
                                "(set CRIME_MONITOR_MAX_ZIP_BYTES to raise it); refusing a likely zip bomb",
                                archive,
                            )
                        out.write(block)
            except OSError as exc:
                if exc.errno not in {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}:
                    raise
                raise LoadError(
                    f"the temporary folder {dest.parent} ran out of room while unpacking member {info.filename!r}"
                    f" ({exc.strerror}); free some space there or set TMPDIR to a folder with more room",
                    archive,
                ) from exc
            except zipfile.BadZipFile as exc:
                raise LoadError(f"member {info.filename!r} cannot be read ({exc})", archive) from exc
            extracted.append((target, f"{archive}!{info.filename}"))
    return extracted


@contextlib.contextmanager
def expand_sources(sources: Sequence[str | os.PathLike]) -> Iterator[list[tuple[Path, str]]]:
    """Every source file named by `sources`, as (path on disk, display name). Zips are extracted
    into a temporary folder that is removed afterwards."""
    temp_root = Path(tempfile.mkdtemp(prefix="crime-monitor-load-"))
    try:
        files: list[tuple[Path, str]] = []
        for raw in sources:
            source = Path(raw)
            if not source.exists():
                raise LoadError("no such file or folder", source)
            candidates = _expand_directory(source) if source.is_dir() else [source]
            for candidate in candidates:
                if candidate.suffix.lower() == ".zip":
                    dest = temp_root / f"zip{len(files)}"
                    files.extend(_extract_zip(candidate, dest))
                else:
                    files.append((candidate, str(candidate)))
        seen: set[Path] = set()
        unique = []
        for path, display in files:
            resolved = path.resolve()
            if resolved not in seen:
                seen.add(resolved)
                unique.append((path, display))
        yield unique
    finally:
        shutil.rmtree(temp_root, ignore_errors=True)


def classify(files: list[tuple[Path, str]], options: dict) -> dict:
    """Scan each file and find the source module that recognises its header."""
    modules = source_modules()
    groups: dict = defaultdict(list)
    claims = []
    for path, display in files:
        special = None
        for module in modules:
            claim = getattr(module, "claim_file", None)
            if claim is not None:
                special = claim(path, options)
                if special:
                    break
        claims.append((module, special) if special else None)
    # hashing and UTF-8 checks run in threads (hashlib releases the GIL); results (and the first
    # error) still come in file order
    unclaimed = [item for item, claimed in zip(files, claims) if claimed is None]
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        scans = pool.map(lambda item: scan_file(item[0], item[1]), unclaimed)
        for (path, display), claimed in zip(files, claims):
            if claimed is not None:
                module, special = claimed
                scanned = ScannedFile(path=path, display=display, sha256="", header=[], has_bom=False, size=path.stat().st_size)
                groups[module.__name__].append((scanned, special))
                continue
            scanned = next(scans)
            _detect_kind(scanned, display, modules, options, groups)
    return groups


def _detect_kind(scanned: ScannedFile, display: str, modules, options: dict, groups: dict) -> None:
    """Add a scanned file to the group of the module that recognises its header (LoadError if none)."""
    for module in modules:
        kind = module.detect(scanned.header, options)
        if kind:
            groups[module.__name__].append((scanned, kind))
            return
    raise LoadError(_unrecognised_header_message(scanned.header, modules), display, 1)


def _unrecognised_header_message(header: list[str], modules) -> str:
    best = None
    for module in modules:
        for kind, expected in getattr(module, "HEADERS", {}).items():
            overlap = len(set(header) & set(expected)) / max(len(set(expected)), 1)
            if best is None or overlap > best[0]:
                best = (overlap, module, kind, expected)
    shown = ",".join(header[:15]) + (",…" if len(header) > 15 else "")
    message = f"header not recognised as any known source: {shown!r}"
    if best and best[0] >= 0.5:
        family = (best[1].__doc__ or best[1].__name__).strip().splitlines()[0].rstrip(".")
        message += f". Closest is {best[2]} ({family}): {describe_header_mismatch(header, best[3])}"
    return message


def load_sources(
    sources: Sequence[str | os.PathLike],
    db: str | os.PathLike | None = None,
    *,
    wait: bool = True,
    progress: bool | None = None,
    accept_rejects: bool = False,
    earliest_date: str | None = None,
    latest_date: str | None = None,
    **options,
) -> LoadSummary:
    """Load every source in one atomic write; raises LoadError (database unchanged) on a bad file.

    accept_rejects: load files even when many (or all) of their rows are rejected (etl.plausibility);
    earliest_date, latest_date: the plausible date window (YYYY-MM-DD; default 2000-01-01 to tomorrow)."""
    warehouse = Warehouse(db)
    window = date_window(earliest_date, latest_date)
    show = sys.stderr.isatty() if progress is None else progress
    with expand_sources(sources) as files:
        with Progress(len(files), "checking", enabled=show) as bar:
            groups = classify(files, options) if not show else _classify_with_progress(files, options, bar)
        modules = {m.__name__: m for m in source_modules()}
        with warehouse.write(wait=wait) as session:
            session.progress = show
            session.accept_rejects = accept_rejects
            session.window = window
            install_window(session.con, window)
            for module_name, module_files in groups.items():
                modules[module_name].load(session, module_files, **options)
                fault_point(f"loaded {module_name}")
            for key, value in options.get("meta", {}).items():
                session.set_meta(key, value)
            files_logged = list(session.files)
    return LoadSummary(files=files_logged, db_path=warehouse.path)


def _classify_with_progress(files, options, bar: Progress) -> dict:
    groups: dict = defaultdict(list)
    for item in files:
        for name, entries in classify([item], options).items():
            groups[name].extend(entries)
        bar.advance(item[1])
    return groups

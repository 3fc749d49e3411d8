"""Reference data: the ONS LSOA -> local authority -> police force lookup, 2011 Census usual residents
by LSOA, and LSOA boundaries (GeoJSON), into `lsoa` and `lsoa_boundaries`.

The lookup and the census file may be loaded together or apart; each fills its own columns of `lsoa`
and keeps the other's.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from etl.sources.common import (
    ScannedFile,
    district_from_lsoa_name,
    force_id_for,
    insert_rows,
)
from etl.sources.tidy_csv import records_with_lines
from etl.warehouse import FileLoad, LoadError, WriteSession

LOOKUP_HEADER = [
    "", "Region code", "Region name", "Local authority code", "Local authority name", "MSOA Code",
    "MSOA Name", "LSOA Code", "LSOA Name", "Police_force",
]
CENSUS_HEADER = [
    "Region code", "Region name", "Local authority code", "Local authority name", "MSOA Code", "MSOA Name",
    "LSOA Code", "LSOA Name", "", "Persons", "Persons", "Persons", "Hectares", "Persons per hectare",
    "Households", "Persons per household",
]
HEADERS = {"lsoa-lookup": LOOKUP_HEADER, "census-population": CENSUS_HEADER}


def detect(header: list[str], options: dict | None = None) -> str | None:
    if header == LOOKUP_HEADER or header == LOOKUP_HEADER[1:]:
        return "lsoa-lookup"
    if header == CENSUS_HEADER:
        return "census-population"
    return None


def claim_file(path: Path, options: dict | None = None) -> str | None:
    """GeoJSON boundary files are not CSV: claim them by name."""
    name = path.name.lower()
    if name.endswith(".geojson") or name.endswith(".geojson.gz"):
        return "lsoa-boundaries"
    return None


def load(session: WriteSession, files: list[tuple[ScannedFile, str]], **_options) -> None:
    for scanned, kind in files:
        if kind == "lsoa-lookup":
            _load_lookup(session, scanned)
        elif kind == "census-population":
            _load_census(session, scanned)
        else:
            _load_boundaries(session, scanned)


def _int(text: str) -> int:
    return int(text.replace(",", "").strip())


def _load_lookup(session: WriteSession, scanned: ScannedFile) -> None:
    width = len(scanned.header)
    offset = 1 if width == len(LOOKUP_HEADER) else 0
    good, rejects, read = [], [], 0
    for line, record, raw in records_with_lines(scanned):
        read += 1
        if len(record) != width:
            rejects.append((line, f"expected {width} columns, found {len(record)}", raw))
            continue
        values = [v.strip() for v in record[offset:]]
        region_code, region_name, la_code, la_name, msoa_code, msoa_name, lsoa_code, lsoa_name, force = values
        if not lsoa_code:
            rejects.append((line, "LSOA Code is empty", raw))
            continue
        good.append((
            lsoa_code, lsoa_name or None, district_from_lsoa_name(lsoa_name), msoa_code or None, msoa_name or None,
            la_code or None, la_name or None, region_code or None, region_name or None,
            force or None, force_id_for(force),
        ))
    con = session.con
    con.execute("DROP TABLE IF EXISTS staged_lookup")
    con.execute(
        """CREATE TEMP TABLE staged_lookup (lsoa_code VARCHAR, lsoa_name VARCHAR, district VARCHAR,
           msoa_code VARCHAR, msoa_name VARCHAR, local_authority_code VARCHAR, local_authority_name VARCHAR,
           region_code VARCHAR, region_name VARCHAR, police_force_name VARCHAR, force_id VARCHAR)"""
    )
    insert_rows(con, "staged_lookup", good)
    duplicates = con.execute(
        "SELECT lsoa_code, count(*) FROM staged_lookup GROUP BY 1 HAVING count(*) > 1 LIMIT 1"
    ).fetchall()
    if duplicates:
        raise LoadError(f"LSOA {duplicates[0][0]} appears {duplicates[0][1]} times", scanned.display)
    session.claim_keys("lsoa_lookup", "staged_lookup", ["lsoa_code"], scanned.display)
    con.execute(
        """
        INSERT INTO lsoa (lsoa_code, lsoa_name, district, msoa_code, msoa_name, local_authority_code,
                          local_authority_name, region_code, region_name, police_force_name, force_id)
        SELECT * FROM staged_lookup
        ON CONFLICT (lsoa_code) DO UPDATE SET
            lsoa_name = excluded.lsoa_name, district = excluded.district, msoa_code = excluded.msoa_code,
            msoa_name = excluded.msoa_name, local_authority_code = excluded.local_authority_code,
            local_authority_name = excluded.local_authority_name, region_code = excluded.region_code,
            region_name = excluded.region_name, police_force_name = excluded.police_force_name,
            force_id = excluded.force_id
        """
    )
    con.execute("DROP TABLE staged_lookup")
    session.add_rejects(scanned.display, rejects)
    session.log_file(FileLoad(scanned.display, "lsoa-lookup", None, None, scanned.sha256, read, len(good), len(rejects)))


def _load_census(session: WriteSession, scanned: ScannedFile) -> None:
    good, rejects, read = [], [], 0
    for line, record, raw in records_with_lines(scanned):
        read += 1
        if len(record) != len(CENSUS_HEADER):
            rejects.append((line, f"expected {len(CENSUS_HEADER)} columns, found {len(record)}", raw))
            continue
        values = [v.strip() for v in record]
        if not values[6]:
            rejects.append((line, "LSOA Code is empty", raw))
            continue
        try:
            usual, household, communal = _int(values[9]), _int(values[10]), _int(values[11])
            hectares = float(values[12].replace(",", "")) if values[12] else None
        except ValueError:
            rejects.append((line, f"Persons '{values[9]}' / '{values[10]}' / '{values[11]}' is not a whole number", raw))
            continue
        if usual < 0:
            rejects.append((line, f"Persons {usual} is negative", raw))
            continue
        good.append((
            values[6], values[7] or None, district_from_lsoa_name(values[7]), values[4] or None, values[5] or None,
            values[2] or None, values[3] or None, values[0] or None, values[1] or None,
            usual, household, communal, hectares,
        ))
    con = session.con
    con.execute("DROP TABLE IF EXISTS staged_census")
    con.execute(
        """CREATE TEMP TABLE staged_census (lsoa_code VARCHAR, lsoa_name VARCHAR, district VARCHAR,
           msoa_code VARCHAR, msoa_name VARCHAR, local_authority_code VARCHAR, local_authority_name VARCHAR,
           region_code VARCHAR, region_name VARCHAR, usual_residents INTEGER, household_residents INTEGER,
           communal_residents INTEGER, area_hectares DOUBLE)"""
    )
    insert_rows(con, "staged_census", good)
    session.claim_keys("lsoa_census", "staged_census", ["lsoa_code"], scanned.display)
    con.execute(
        """
        INSERT INTO lsoa (lsoa_code, lsoa_name, district, msoa_code, msoa_name, local_authority_code,
                          local_authority_name, region_code, region_name, usual_residents,
                          household_residents, communal_residents, area_hectares)
        SELECT * FROM staged_census
        ON CONFLICT (lsoa_code) DO UPDATE SET
            usual_residents = excluded.usual_residents, household_residents = excluded.household_residents,
            communal_residents = excluded.communal_residents, area_hectares = excluded.area_hectares,
            lsoa_name = coalesce(lsoa.lsoa_name, excluded.lsoa_name),
            district = coalesce(lsoa.district, excluded.district)
        """
    )
    con.execute("DROP TABLE staged_census")
    session.add_rejects(scanned.display, rejects)
    session.log_file(FileLoad(scanned.display, "census-population", None, None, scanned.sha256, read, len(good), len(rejects)))


def _load_boundaries(session: WriteSession, scanned: ScannedFile) -> None:
    from etl.warehouse import sha256_file

    opener = gzip.open if scanned.path.name.lower().endswith(".gz") else open
    try:
        with opener(scanned.path, "rt", encoding="utf-8") as handle:
            collection = json.load(handle)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LoadError(f"not a readable GeoJSON file ({exc})", scanned.display) from exc
    features = collection.get("features") if isinstance(collection, dict) else None
    if not isinstance(features, list):
        raise LoadError("GeoJSON has no 'features' list", scanned.display)
    good, rejects = [], []
    for number, feature in enumerate(features, start=1):
        properties = (feature or {}).get("properties") or {}
        code = properties.get("LSOA11CD") or properties.get("LSOA21CD") or properties.get("lsoa_code")
        geometry = (feature or {}).get("geometry")
        if not code or not geometry:
            rejects.append((number, "feature has no LSOA11CD code or no geometry", json.dumps(properties)[:500]))
            continue
        good.append((
            code,
            properties.get("LSOA11NM") or properties.get("LSOA21NM"),
            _float_or_none(properties.get("LONG")),
            _float_or_none(properties.get("LAT")),
            json.dumps(geometry, separators=(",", ":")),
        ))
    session.claim_unit(("lsoa-boundaries",), scanned.display, "set of LSOA boundaries (a boundary file replaces them all)")
    con = session.con
    replaced = con.execute("DELETE FROM lsoa_boundaries").fetchall()[0][0]  # a boundary file replaces them all
    insert_rows(con, "lsoa_boundaries", good)
    session.add_rejects(scanned.display, rejects)
    session.log_file(
        FileLoad(scanned.display, "lsoa-boundaries", None, None, sha256_file(scanned.path), len(features), len(good),
                 len(rejects), int(replaced), "every LSOA boundary")
    )


def _float_or_none(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None

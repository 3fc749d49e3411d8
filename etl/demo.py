"""`python -m etl demo`: a synthetic, clearly labelled demo archive for Essex Police, January 2017 to
December 2021, written in the real source formats and loaded through the same loaders as real data.

What it writes (into an archive folder next to the database, default `data/demo-archive/`):
- data.police.uk street, outcomes and stop-and-search CSVs, one folder per month (`2019-01/2019-01-essex-street.csv`);
- DfT STATS19 collision, casualty and vehicle CSVs (current `collision_*` headers), police_force 42;
- the Action Fraud tidy CSV, the force-measures tidy CSV;
- a force incident extract in a force-specific column layout, with its TOML column mapping;
- synthetic ONS reference files: LSOA lookup, census residents and LSOA boundaries (GeoJSON), with LSOA
  codes `E0199xxxx` that cannot be mistaken for real ones.

Volumes are calibrated to the facts in PRODUCT.md ("Facts to calibrate a demo dataset against"): the
Oct 2018 - Feb 2019 category totals, district shares, seasonality, the COVID-19 shifts of spring 2020 and
the later lockdowns, KSI casualties (820 in the year to March 2020, 648 to March 2021), fraud rising.
Everything is a random draw from a numpy Generator seeded by `--seed`: the same seed gives the same files.
Nothing here is real data; `meta.dataset = 'demo'` makes the app show its "Demo data — synthetic" banner.
"""

from __future__ import annotations

import argparse
import binascii
import contextlib
import csv
import fcntl
import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from etl.sources.police_uk import OUTCOMES_HEADER, STOP_SEARCH_HEADER, STREET_HEADER
from etl.sources.reference import CENSUS_HEADER, LOOKUP_HEADER
from etl.warehouse import resolve_db_path

FIRST_MONTH = date(2017, 1, 1)
LAST_MONTH = date(2021, 12, 1)
FORCE_ID = "essex"
FORCE_NAME = "Essex Police"
DFT_FORCE_CODE = 42
ARCHIVE_MARKER = "README.md"
MARKER_TEXT = "SYNTHETIC DEMO DATA"
SOURCES_DIR = Path(__file__).resolve().parent / "sources"
LATER_LOADERS = ("stats19", "fraud", "extract", "measures")

# --------------------------------------------------------------------------------------------------
# Calibration facts (PRODUCT.md) and district reference (2011 LSOA counts and census residents per
# Essex local authority; shares of street-level rows Oct 2018 - Feb 2019; approximate centres).
# --------------------------------------------------------------------------------------------------
# 5-month totals, Oct 2018 - Feb 2019 (PRODUCT.md "Facts to calibrate")
CALIBRATION_TOTALS: dict[str, int] = {
    "Violence and sexual offences": 26779,
    "Anti-social behaviour": 16460,
    "Criminal damage and arson": 6826,
    "Vehicle crime": 6498,
    "Other theft": 5729,
    "Public order": 5332,
    "Burglary": 5234,
    "Shoplifting": 4727,
    "Drugs": 1984,
    "Other crime": 1555,
    "Bicycle theft": 838,
    "Possession of weapons": 820,
    "Robbery": 817,
    "Theft from the person": 634,
}
CATEGORIES = list(CALIBRATION_TOTALS)
ASB = "Anti-social behaviour"


@dataclass(frozen=True)
class District:
    name: str  # as in LSOA names ("Southend-on-Sea 001A")
    la_name: str  # ONS local authority name ("Southend-on-Sea UA")
    la_code: str
    lsoas: int
    msoas: int
    residents: int
    crime_share: float  # share of the force's street-level rows, Oct 2018 - Feb 2019
    lon: float
    lat: float


DISTRICTS: list[District] = [
    District("Basildon", "Basildon", "E07000066", 110, 22, 174497, 0.1160, 0.47, 51.585),
    District("Braintree", "Braintree", "E07000067", 87, 18, 147084, 0.0613, 0.58, 51.900),
    District("Brentwood", "Brentwood", "E07000068", 46, 9, 73601, 0.0354, 0.29, 51.630),
    District("Castle Point", "Castle Point", "E07000069", 57, 12, 88011, 0.0391, 0.58, 51.545),
    District("Chelmsford", "Chelmsford", "E07000070", 107, 21, 168310, 0.0948, 0.48, 51.745),
    District("Colchester", "Colchester", "E07000071", 105, 20, 173074, 0.1132, 0.89, 51.890),
    District("Epping Forest", "Epping Forest", "E07000072", 78, 17, 124659, 0.0651, 0.11, 51.680),
    District("Harlow", "Harlow", "E07000073", 54, 11, 81944, 0.0627, 0.12, 51.775),
    District("Maldon", "Maldon", "E07000074", 40, 8, 61629, 0.0204, 0.72, 51.720),
    District("Rochford", "Rochford", "E07000075", 53, 10, 83287, 0.0281, 0.76, 51.610),
    District("Southend-on-Sea", "Southend-on-Sea UA", "E06000033", 107, 17, 173658, 0.1260, 0.72, 51.545),
    District("Tendring", "Tendring", "E07000076", 89, 18, 138048, 0.0822, 1.13, 51.850),
    District("Thurrock", "Thurrock UA", "E06000034", 98, 19, 157705, 0.1110, 0.35, 51.495),
    District("Uttlesford", "Uttlesford", "E07000077", 46, 9, 79443, 0.0384, 0.27, 51.960),
]
REGION_CODE, REGION_NAME = "E12000006", "EAST"

# LSOAs just outside the force that data.police.uk rows fall in (about 0.5% of rows)
OUTSIDE_LSOAS = [
    # LSOA name, LA code, LA name, region code, region name, police force, lon, lat
    ("Babergh 003B", "E07000200", "Babergh", "E12000006", "EAST", "Suffolk", 0.93, 52.02),
    ("Havering 012C", "E09000016", "Havering", "E12000007", "LONDON", "Metropolitan Police", 0.21, 51.57),
    ("Redbridge 007A", "E09000026", "Redbridge", "E12000007", "LONDON", "Metropolitan Police", 0.08, 51.59),
    ("Waltham Forest 002D", "E09000031", "Waltham Forest", "E12000007", "LONDON", "Metropolitan Police", 0.00, 51.62),
    ("East Hertfordshire 015A", "E07000242", "East Hertfordshire", "E12000006", "EAST", "Hertfordshire", 0.09, 51.83),
    ("Broxbourne 004B", "E07000095", "Broxbourne", "E12000006", "EAST", "Hertfordshire", -0.02, 51.73),
    ("South Cambridgeshire 018C", "E07000012", "South Cambridgeshire", "E12000006", "EAST", "Cambridgeshire", 0.20, 52.09),
    ("Barking and Dagenham 001B", "E09000002", "Barking and Dagenham", "E12000007", "LONDON", "Metropolitan Police", 0.14, 51.56),
]
OUTSIDE_SHARE = 0.005
NO_LOCATION_SHARE = 0.0044

# yearly growth before COVID-19 (recorded-crime trends of the period)
TREND_PER_YEAR: dict[str, float] = {
    "Violence and sexual offences": 0.07, "Anti-social behaviour": -0.065, "Criminal damage and arson": -0.01,
    "Vehicle crime": 0.0, "Other theft": -0.01, "Public order": 0.08, "Burglary": -0.03, "Shoplifting": 0.02,
    "Drugs": 0.03, "Other crime": 0.04, "Bicycle theft": -0.02, "Possession of weapons": 0.06,
    "Robbery": 0.02, "Theft from the person": 0.0,
}

_SUMMER = [0.95, 0.97, 0.98, 0.98, 1.04, 1.06, 1.08, 1.06, 1.00, 1.00, 0.97, 0.98]
SEASONALITY: dict[str, list[float]] = {
    "Violence and sexual offences": _SUMMER,
    "Public order": _SUMMER,
    "Criminal damage and arson": [0.95, 0.96, 0.98, 1.00, 1.04, 1.03, 1.04, 1.02, 0.99, 1.02, 1.00, 0.96],
    "Possession of weapons": _SUMMER,
    "Anti-social behaviour": [0.86, 0.90, 0.95, 1.02, 1.10, 1.12, 1.18, 1.15, 1.02, 1.06, 0.96, 0.87],
    "Burglary": [1.08, 1.00, 0.95, 0.92, 0.92, 0.89, 0.92, 0.95, 0.98, 1.04, 1.16, 1.17],
    "Vehicle crime": [1.03, 1.00, 0.97, 0.96, 0.97, 0.96, 0.98, 1.00, 1.00, 1.02, 1.08, 1.06],
    "Bicycle theft": [0.65, 0.65, 0.85, 1.00, 1.20, 1.30, 1.35, 1.30, 1.20, 1.05, 0.80, 0.65],
    "Shoplifting": [0.98, 0.93, 1.00, 0.98, 1.00, 0.98, 1.00, 1.00, 0.98, 1.02, 1.05, 1.10],
}

# April 2020 against what was expected (PRODUCT.md: burglary -37%, shoplifting -54%, ASB +59%, drugs +22%;
# all recorded crime -25%); other months scale the shift by the lockdown intensity below.
COVID_APRIL_FACTOR: dict[str, float] = {
    "Violence and sexual offences": 0.80, "Anti-social behaviour": 1.59, "Criminal damage and arson": 0.80,
    "Vehicle crime": 0.55, "Other theft": 0.55, "Public order": 0.95, "Burglary": 0.63, "Shoplifting": 0.46,
    "Drugs": 1.22, "Other crime": 0.95, "Bicycle theft": 0.85, "Possession of weapons": 0.85,
    "Robbery": 0.55, "Theft from the person": 0.40,
}
# lockdown intensity by month (1 = April 2020): first lockdown 23 Mar - 23 Jun 2020, second 5 Nov - 2 Dec
# 2020, third 6 Jan - 29 Mar 2021, restrictions lifted 19 Jul 2021; some shift persists afterwards.
LOCKDOWN_INTENSITY: dict[str, float] = {
    "2020-03": 0.35, "2020-04": 1.00, "2020-05": 0.90, "2020-06": 0.60, "2020-07": 0.35, "2020-08": 0.25,
    "2020-09": 0.25, "2020-10": 0.30, "2020-11": 0.60, "2020-12": 0.40, "2021-01": 0.75, "2021-02": 0.70,
    "2021-03": 0.55, "2021-04": 0.35, "2021-05": 0.25, "2021-06": 0.20, "2021-07": 0.12, "2021-08": 0.06,
    "2021-09": 0.05, "2021-10": 0.05, "2021-11": 0.05, "2021-12": 0.05,
}
# drug offences: +22% in April and +44% in May 2020 (proactive policing of emptier streets)
DRUGS_COVID_FACTOR: dict[str, float] = {
    "2020-03": 1.05, "2020-04": 1.22, "2020-05": 1.44, "2020-06": 1.30, "2020-07": 1.15, "2020-08": 1.08,
    "2020-09": 1.06, "2020-10": 1.06, "2020-11": 1.18, "2020-12": 1.10, "2021-01": 1.20, "2021-02": 1.18,
    "2021-03": 1.12, "2021-04": 1.06, "2021-05": 1.04, "2021-06": 1.03,
}

STREETS = [
    "High Street", "Church Road", "Station Road", "London Road", "Park Avenue", "Victoria Road", "Mill Lane",
    "The Avenue", "Queens Road", "Manor Road", "Kings Road", "New Road", "School Lane", "Chapel Street",
    "Green Lane", "Hall Road", "North Street", "West Street", "Castle Road", "Grange Close", "Orchard Way",
    "Meadow Close", "Brook Street", "Southend Road", "Colchester Road", "Chelmsford Road", "Rectory Lane",
    "Maple Drive", "Windmill Hill", "Beacon Hill", "Elm Grove", "Oak Road", "Harbour Road", "Market Place",
]
SPECIAL_PLACES = [
    "Supermarket", "Petrol Station", "Parking Area", "Shopping Area", "Sports/Recreation Area",
    "Nightclub", "Pedestrian Subway", "Further/Higher Educational Building", "Hospital", "Police Station",
]
SNAP_POINTS_PER_LSOA = 8

# last outcome category mix of finished investigations, by crime type (shares of data.police.uk outcomes)
_GENERAL_OUTCOMES = {
    "Investigation complete; no suspect identified": 0.40, "Unable to prosecute suspect": 0.36,
    "Court result unavailable": 0.045, "Local resolution": 0.04, "Action to be taken by another organisation": 0.025,
    "Status update unavailable": 0.02, "Offender sent to prison": 0.012, "Offender given a caution": 0.009,
    "Offender given community sentence": 0.009, "Formal action is not in the public interest": 0.005,
    "Offender fined": 0.004, "Offender given suspended prison sentence": 0.003, "Defendant found not guilty": 0.003,
    "Further investigation is not in the public interest": 0.002, "Offender given conditional discharge": 0.002,
    "Court case unable to proceed": 0.002, "Awaiting court outcome": 0.003,
}
_OUTCOME_OVERRIDES: dict[str, dict[str, float]] = {
    "Violence and sexual offences": {"Investigation complete; no suspect identified": 0.10, "Unable to prosecute suspect": 0.68},
    "Public order": {"Investigation complete; no suspect identified": 0.25, "Unable to prosecute suspect": 0.50},
    "Burglary": {"Investigation complete; no suspect identified": 0.78, "Unable to prosecute suspect": 0.10},
    "Vehicle crime": {"Investigation complete; no suspect identified": 0.85, "Unable to prosecute suspect": 0.06},
    "Bicycle theft": {"Investigation complete; no suspect identified": 0.85, "Unable to prosecute suspect": 0.06},
    "Theft from the person": {"Investigation complete; no suspect identified": 0.80, "Unable to prosecute suspect": 0.09},
    "Shoplifting": {"Investigation complete; no suspect identified": 0.38, "Court result unavailable": 0.16, "Local resolution": 0.08},
    "Drugs": {"Investigation complete; no suspect identified": 0.03, "Unable to prosecute suspect": 0.10,
              "Offender given a drugs possession warning": 0.38, "Local resolution": 0.18, "Court result unavailable": 0.17},
    "Possession of weapons": {"Investigation complete; no suspect identified": 0.05, "Court result unavailable": 0.35,
                              "Offender sent to prison": 0.08},
}
UNDER_INVESTIGATION = "Under investigation"
# outcome categories that mean a charge or summons (the outcomes file says "Suspect charged" first)
COURT_OUTCOMES = {
    "Court result unavailable", "Offender sent to prison", "Offender given community sentence", "Offender fined",
    "Offender given suspended prison sentence", "Defendant found not guilty", "Offender given conditional discharge",
    "Court case unable to proceed", "Awaiting court outcome",
}


def _outcome_mix(category: str) -> tuple[list[str], np.ndarray]:
    mix = dict(_GENERAL_OUTCOMES)
    mix.update(_OUTCOME_OVERRIDES.get(category, {}))
    names = list(mix)
    weights = np.array([mix[n] for n in names], dtype=float)
    return names, weights / weights.sum()


# --------------------------------------------------------------------------------------------------
# Months and calendars
# --------------------------------------------------------------------------------------------------
def demo_months() -> list[date]:
    """Every first-of-month from January 2017 to December 2021."""
    months, current = [], FIRST_MONTH
    while current <= LAST_MONTH:
        months.append(current)
        current = date(current.year + (current.month == 12), current.month % 12 + 1, 1)
    return months


def _days_in_month(month: date) -> int:
    following = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return (following - month).days


def _last_sunday(year: int, month: int) -> date:
    day = date(year, month + 1, 1) - timedelta(days=1) if month < 12 else date(year, 12, 31)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def _utc_offset(local: datetime) -> str:
    """UK civil time: BST (+01:00) from the last Sunday of March to the last Sunday of October."""
    start, end = _last_sunday(local.year, 3), _last_sunday(local.year, 10)
    return "+01:00" if start <= local.date() < end else "+00:00"


# February's daily rate runs above the rest of winter in the published series (Essex, Oct 2018 - Feb 2019:
# 468 crimes a day in February against 433 in January), which offsets most of its three fewer days.
FEBRUARY_DAILY_UPLIFT = 1.08


def _lockdown(month: date) -> float:
    return LOCKDOWN_INTENSITY.get(f"{month:%Y-%m}", 0.0)


def expected_monthly_counts() -> dict[str, np.ndarray]:
    """Expected street-level rows per month (Jan 2017 - Dec 2021) by crime type, before random noise.

    Scaled so each type's Oct 2018 - Feb 2019 total equals the PRODUCT.md figure."""
    months = demo_months()
    window = [i for i, m in enumerate(months) if date(2018, 10, 1) <= m <= date(2019, 2, 1)]
    expected = {}
    for category in CATEGORIES:
        season = SEASONALITY.get(category, [1.0] * 12)
        values = []
        for index, month in enumerate(months):
            years = (index - 22) / 12  # 0 at Nov 2018, the middle of the calibration window
            level = (1 + TREND_PER_YEAR[category]) ** years
            level *= season[month.month - 1] * _days_in_month(month) / 30.44
            level *= FEBRUARY_DAILY_UPLIFT if month.month == 2 else 1.0
            key = f"{month:%Y-%m}"
            if category == "Drugs":
                level *= DRUGS_COVID_FACTOR.get(key, 1.0)
            else:
                level *= 1 + (COVID_APRIL_FACTOR[category] - 1) * _lockdown(month)
            values.append(level)
        curve = np.array(values)
        expected[category] = curve * CALIBRATION_TOTALS[category] / curve[window].sum()
    return expected


# --------------------------------------------------------------------------------------------------
# Synthetic geography: LSOAs as grid cells claimed around each district's centre
# --------------------------------------------------------------------------------------------------
CELL_LON, CELL_LAT = 0.014, 0.009
GRID_LON = (-0.05, 1.35)
GRID_LAT = (51.42, 52.12)


@dataclass
class Geography:
    codes: list[str]
    names: list[str]
    district_index: np.ndarray  # per LSOA: index into DISTRICTS, -1 outside the force
    msoa_codes: list[str]
    msoa_names: list[str]
    lon: np.ndarray  # centroid
    lat: np.ndarray
    residents: np.ndarray
    polygons: list[list[list[float]] | None]
    inside: np.ndarray  # bool per LSOA


def build_geography(rng: np.random.Generator) -> Geography:
    """1,077 synthetic Essex LSOAs (grid cells) and a few outside the force."""
    lons = np.arange(GRID_LON[0], GRID_LON[1], CELL_LON) + CELL_LON / 2
    lats = np.arange(GRID_LAT[0], GRID_LAT[1], CELL_LAT) + CELL_LAT / 2
    grid_lon, grid_lat = np.meshgrid(lons, lats)
    cell_lon, cell_lat = grid_lon.ravel(), grid_lat.ravel()
    km_lon = 111.32 * math.cos(math.radians(51.75))
    order_by_district = []
    for district in DISTRICTS:
        distance = np.hypot((cell_lon - district.lon) * km_lon, (cell_lat - district.lat) * 111.32)
        order_by_district.append(np.argsort(distance, kind="stable"))
    claimed = np.full(cell_lon.size, -1)
    pointers = [0] * len(DISTRICTS)
    counts = [0] * len(DISTRICTS)
    targets = [d.lsoas for d in DISTRICTS]
    while any(c < t for c, t in zip(counts, targets)):
        pick = min((counts[i] / targets[i], i) for i in range(len(DISTRICTS)) if counts[i] < targets[i])[1]
        order = order_by_district[pick]
        while claimed[order[pointers[pick]]] != -1:
            pointers[pick] += 1
        claimed[order[pointers[pick]]] = pick
        counts[pick] += 1

    codes, names, district_index, msoa_codes, msoa_names = [], [], [], [], []
    centre_lon, centre_lat, residents, polygons = [], [], [], []
    serial, msoa_serial = 0, 0
    for d_index, district in enumerate(DISTRICTS):
        cells = np.flatnonzero(claimed == d_index)
        # MSOAs are numbered north to south, as ONS numbers them
        cells = cells[np.lexsort((cell_lon[cells], -cell_lat[cells]))]
        weights = np.clip(rng.normal(1.0, 0.15, cells.size), 0.6, 1.6)
        people = np.floor(weights / weights.sum() * district.residents).astype(int)
        people[: district.residents - people.sum()] += 1
        groups = np.array_split(np.arange(cells.size), district.msoas)
        for m_number, group in enumerate(groups, start=1):
            msoa_serial += 1
            msoa_code = f"E0299{msoa_serial:04d}"
            msoa_name = f"{district.name} {m_number:03d}"
            for letter_index, position in enumerate(group):
                serial += 1
                cell = cells[position]
                x, y = float(cell_lon[cell]), float(cell_lat[cell])
                codes.append(f"E0199{serial:04d}")
                names.append(f"{msoa_name}{chr(ord('A') + letter_index)}")
                district_index.append(d_index)
                msoa_codes.append(msoa_code)
                msoa_names.append(msoa_name)
                centre_lon.append(round(x, 6))
                centre_lat.append(round(y, 6))
                residents.append(int(people[position]))
                half_x, half_y = CELL_LON / 2, CELL_LAT / 2
                ring = [[x - half_x, y - half_y], [x + half_x, y - half_y], [x + half_x, y + half_y],
                        [x - half_x, y + half_y], [x - half_x, y - half_y]]
                polygons.append([[round(a, 6), round(b, 6)] for a, b in ring])
    for number, (name, _la_code, _la_name, _rc, _rn, _force, lon, lat) in enumerate(OUTSIDE_LSOAS, start=1):
        codes.append(f"E0199{9000 + number:04d}")
        names.append(name)
        district_index.append(-1)
        msoa_codes.append(f"E0299{9000 + number:04d}")
        msoa_names.append(name[:-1])
        centre_lon.append(lon)
        centre_lat.append(lat)
        residents.append(int(rng.integers(1300, 2000)))
        polygons.append(None)
    district_array = np.array(district_index)
    return Geography(
        codes=codes, names=names, district_index=district_array, msoa_codes=msoa_codes, msoa_names=msoa_names,
        lon=np.array(centre_lon), lat=np.array(centre_lat), residents=np.array(residents), polygons=polygons,
        inside=district_array >= 0,
    )


def write_reference(geo: Geography, folder: Path) -> list[Path]:
    """The ONS-format lookup, census residents and LSOA boundary files for the synthetic LSOAs."""
    folder.mkdir(parents=True, exist_ok=True)
    lookup = folder / "demo-lsoa11-to-local-authority-and-force.csv"
    census = folder / "demo-census2011-lsoa-usual-residents.csv"
    boundaries = folder / "demo-lsoa11-boundaries.geojson"
    hectares = CELL_LON * 111.32 * math.cos(math.radians(51.75)) * CELL_LAT * 111.32 * 100
    with open(lookup, "w", newline="", encoding="utf-8") as l_handle, open(census, "w", newline="", encoding="utf-8") as c_handle:
        lookup_writer, census_writer = csv.writer(l_handle), csv.writer(c_handle)
        lookup_writer.writerow(LOOKUP_HEADER)
        census_writer.writerow(CENSUS_HEADER)
        for i, code in enumerate(geo.codes):
            if geo.inside[i]:
                district = DISTRICTS[geo.district_index[i]]
                la_code, la_name, region_code, region_name, force = (
                    district.la_code, district.la_name, REGION_CODE, REGION_NAME, "Essex")
            else:
                _name, la_code, la_name, region_code, region_name, force, _lon, _lat = OUTSIDE_LSOAS[i - int(geo.inside.sum())]
            lookup_writer.writerow([i + 1, region_code, region_name, la_code, la_name, geo.msoa_codes[i],
                                    geo.msoa_names[i], code, geo.names[i], force])
            people = int(geo.residents[i])
            communal = int(round(people * 0.015))
            households = int(round(people / 2.4))
            census_writer.writerow([
                region_code, region_name, la_code, la_name, geo.msoa_codes[i], geo.msoa_names[i], code,
                geo.names[i], "", f"{people:,}", f"{people - communal:,}", f"{communal:,}", f"{hectares:.0f}",
                f"{people / hectares:.1f}", f"{households:,}", f"{(people - communal) / households:.1f}",
            ])
    features = []
    for i, code in enumerate(geo.codes):
        if geo.polygons[i] is None:
            continue
        features.append({
            "type": "Feature",
            "properties": {"LSOA11CD": code, "LSOA11NM": geo.names[i], "LONG": float(geo.lon[i]), "LAT": float(geo.lat[i])},
            "geometry": {"type": "Polygon", "coordinates": [geo.polygons[i]]},
        })
    boundaries.write_text(json.dumps({"type": "FeatureCollection", "name": "demo_lsoa11_boundaries",
                                      "features": features}, separators=(",", ":")), encoding="utf-8")
    return [lookup, census, boundaries]


# --------------------------------------------------------------------------------------------------
# data.police.uk street, outcomes, stop and search
# --------------------------------------------------------------------------------------------------
@dataclass
class SnapPoints:
    lon: np.ndarray  # (lsoas, SNAP_POINTS_PER_LSOA)
    lat: np.ndarray
    location: np.ndarray  # object array of "On or near ..." strings


def build_snap_points(geo: Geography, rng: np.random.Generator) -> SnapPoints:
    shape = (len(geo.codes), SNAP_POINTS_PER_LSOA)
    lon = np.round(geo.lon[:, None] + rng.uniform(-0.45, 0.45, shape) * CELL_LON, 6)
    lat = np.round(geo.lat[:, None] + rng.uniform(-0.45, 0.45, shape) * CELL_LAT, 6)
    street = rng.integers(0, len(STREETS), shape)
    special = rng.integers(0, len(SPECIAL_PLACES), shape)
    is_special = rng.random(shape) < 0.25
    names = np.where(is_special, np.array(SPECIAL_PLACES, dtype=object)[special], np.array(STREETS, dtype=object)[street])
    location = np.array(["On or near " + n for n in names.ravel()], dtype=object).reshape(shape)
    return SnapPoints(lon=lon, lat=lat, location=location)


def _lsoa_weights(geo: Geography, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per crime type: probability of each LSOA (district shares calibrated, hotspots within districts)."""
    inside = np.flatnonzero(geo.inside)
    hotspot = rng.lognormal(0.0, 0.9, inside.size)
    district_shares = np.array([d.crime_share for d in DISTRICTS])
    weights = {}
    for category in CATEGORIES:
        concentration = 1.4 if category in ("Shoplifting", "Theft from the person", "Robbery") else 0.8
        local = hotspot ** concentration * rng.lognormal(0.0, 0.3, inside.size)
        shares = district_shares * rng.lognormal(0.0, 0.06, district_shares.size)
        shares /= shares.sum()
        probability = np.zeros(len(geo.codes))
        for d_index in range(len(DISTRICTS)):
            members = geo.district_index[inside] == d_index
            probability[inside[members]] = local[members] / local[members].sum() * shares[d_index]
        probability *= 1 - OUTSIDE_SHARE
        outside = np.flatnonzero(~geo.inside)
        probability[outside] = OUTSIDE_SHARE / outside.size
        weights[category] = probability / probability.sum()
    return weights


def _hex_ids(rng: np.random.Generator, count: int) -> list[str]:
    """64-hex crime IDs (data.police.uk style)."""
    text = binascii.hexlify(rng.bytes(32 * count)).decode()
    return [text[i : i + 64] for i in range(0, 64 * count, 64)]


@dataclass
class StreetMonth:
    month: date
    frame: pd.DataFrame  # street rows
    lsoa: np.ndarray  # LSOA index per row (-1: no location)
    category: np.ndarray  # index into CATEGORIES


def generate_street(geo: Geography, snaps: SnapPoints, rng: np.random.Generator) -> list[StreetMonth]:
    """Street-level crime and ASB rows for every month."""
    expected = expected_monthly_counts()
    weights = _lsoa_weights(geo, rng)
    outcome_mixes = {c: _outcome_mix(c) for c in CATEGORIES}
    months = demo_months()
    lsoa_codes = np.array(geo.codes, dtype=object)
    lsoa_names = np.array(geo.names, dtype=object)
    result = []
    for m_index, month in enumerate(months):
        months_before_end = len(months) - 1 - m_index
        lsoa_parts, category_parts, outcome_parts = [], [], []
        for c_index, category in enumerate(CATEGORIES):
            count = int(rng.poisson(expected[category][m_index]))
            lsoa_parts.append(rng.choice(len(geo.codes), size=count, p=weights[category]))
            category_parts.append(np.full(count, c_index))
            if category == ASB:
                outcome_parts.append(np.full(count, "", dtype=object))
                continue
            names, probabilities = outcome_mixes[category]
            outcome = np.array(names, dtype=object)[rng.choice(len(names), size=count, p=probabilities)]
            open_share = 0.01 + 0.55 * math.exp(-months_before_end / 3.0)
            outcome[rng.random(count) < open_share] = UNDER_INVESTIGATION
            outcome_parts.append(outcome)
        lsoa = np.concatenate(lsoa_parts)
        category = np.concatenate(category_parts)
        outcome = np.concatenate(outcome_parts)
        # data.police.uk publishes rows grouped loosely by location, not by type: shuffle
        order = rng.permutation(lsoa.size)
        lsoa, category, outcome = lsoa[order], category[order], outcome[order]
        no_location = rng.random(lsoa.size) < NO_LOCATION_SHARE
        lsoa = np.where(no_location, -1, lsoa)
        point = rng.integers(0, SNAP_POINTS_PER_LSOA, lsoa.size)
        safe = np.maximum(lsoa, 0)
        ids = np.array(_hex_ids(rng, lsoa.size), dtype=object)
        is_asb = category == CATEGORIES.index(ASB)
        located = lsoa >= 0
        frame = pd.DataFrame({
            "Crime ID": np.where(is_asb, None, ids),
            "Month": f"{month:%Y-%m}",
            "Reported by": FORCE_NAME,
            "Falls within": FORCE_NAME,
            "Longitude": np.where(located, snaps.lon[safe, point], np.nan),
            "Latitude": np.where(located, snaps.lat[safe, point], np.nan),
            "Location": np.where(located, snaps.location[safe, point], "No location"),
            "LSOA code": np.where(located, lsoa_codes[safe], None),
            "LSOA name": np.where(located, lsoa_names[safe], None),
            "Crime type": np.array(CATEGORIES, dtype=object)[category],
            "Last outcome category": _blank(outcome),
            "Context": np.full(lsoa.size, None, dtype=object),
        })
        result.append(StreetMonth(month=month, frame=frame[STREET_HEADER], lsoa=lsoa, category=category))
    return result


def _month_path(root: Path, month: date, kind: str) -> Path:
    folder = root / f"{month:%Y-%m}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{month:%Y-%m}-{FORCE_ID}-{kind}.csv"


def _write_frame(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, path: Path, select: str = "*") -> None:
    """Write a frame as CSV through DuckDB (fast; quotes only where needed, NULL as an empty field).
    `select` is a fixed expression list from this module, never user text."""
    con.register("frame", frame)
    try:
        con.sql(f"SELECT {select} FROM frame").write_csv(str(path), sep=",", header=True)
    finally:
        con.unregister("frame")


def _blank(values: np.ndarray) -> np.ndarray:
    """Empty strings as None, so they are written as empty fields."""
    values = np.asarray(values, dtype=object)
    values[values == ""] = None
    return values


def generate_outcomes(street: list[StreetMonth], rng: np.random.Generator) -> dict[date, pd.DataFrame]:
    """Outcomes-file rows for a subset of crimes: the outcome in the month it was reached (a charge is
    reported as "Suspect charged" first)."""
    months = [s.month for s in street]
    pieces: dict[int, list[pd.DataFrame]] = {i: [] for i in range(len(months))}
    for s_index, item in enumerate(street):
        frame = item.frame
        finished = frame["Crime ID"].notna() & (frame["Last outcome category"] != UNDER_INVESTIGATION)
        chosen = frame[finished.to_numpy() & (rng.random(len(frame)) < 0.35)]
        lag = np.minimum(rng.geometric(0.45, len(chosen)) - 1, 8)
        outcome = chosen["Last outcome category"].to_numpy()
        court = np.isin(outcome, list(COURT_OUTCOMES))
        base = pd.DataFrame({
            "Crime ID": chosen["Crime ID"].to_numpy(),
            "Reported by": FORCE_NAME,
            "Falls within": FORCE_NAME,
            "Longitude": chosen["Longitude"].to_numpy(),
            "Latitude": chosen["Latitude"].to_numpy(),
            "Location": chosen["Location"].to_numpy(),
            "LSOA code": chosen["LSOA code"].to_numpy(),
            "LSOA name": chosen["LSOA name"].to_numpy(),
        })
        final = base.assign(**{"Outcome type": outcome, "lag": lag + court.astype(int)})
        charged = base[court].assign(**{"Outcome type": "Suspect charged", "lag": lag[court]})
        for rows in (charged, final):
            for lag_value, group in rows.groupby("lag", sort=True):
                target = s_index + int(lag_value)
                if target < len(months):
                    pieces[target].append(group.drop(columns="lag"))
    result = {}
    for target, parts in pieces.items():
        month = months[target]
        frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[c for c in OUTCOMES_HEADER if c != "Month"])
        frame.insert(1, "Month", f"{month:%Y-%m}")
        result[month] = frame[OUTCOMES_HEADER]
    return result


SEARCH_OBJECTS = {
    # legislation: (share, [(object, share)])
    "Misuse of Drugs Act 1971 (section 23)": (0.64, [("Controlled drugs", 1.0)]),
    "Police and Criminal Evidence Act 1984 (section 1)": (0.33, [
        ("Stolen goods", 0.35), ("Offensive weapons", 0.30), ("Article for use in theft", 0.15),
        ("Articles for use in criminal damage", 0.08), ("Anything to threaten or harm anyone", 0.07),
        ("Fireworks", 0.03), ("Evidence of offences under the Act", 0.02)]),
    "Criminal Justice and Public Order Act 1994 (section 60)": (0.015, [("Offensive weapons", 1.0)]),
    "Firearms Act 1968 (section 47)": (0.015, [("Firearms", 1.0)]),
}
SEARCH_OUTCOMES = [
    ("A no further action disposal", 0.70), ("Arrest", 0.15), ("Community resolution", 0.07),
    ("Khat or Cannabis warning", 0.04), ("Summons / charged by post", 0.025),
    ("Penalty Notice for Disorder", 0.01), ("Caution (simple or conditional)", 0.005),
]
ETHNICITY = [
    ("White - English/Welsh/Scottish/Northern Irish/British", "White", 0.62),
    ("White - Any other White background", "White", 0.08),
    ("Black/African/Caribbean/Black British - Any other Black/African/Caribbean background", "Black", 0.10),
    ("Black/African/Caribbean/Black British - African", "Black", 0.04),
    ("Asian/Asian British - Any other Asian background", "Asian", 0.04),
    ("Mixed/Multiple ethnic groups - Any other Mixed/Multiple ethnic background", "White", 0.03),
    ("Other ethnic group - Not stated", "White", 0.06),
    ("", "", 0.03),
]


def _stop_search_volume(month: date) -> float:
    """Expected searches in a month: ~600 in 2017 rising to ~850 in 2019, up ~35% in spring 2020."""
    years = (month.year - 2017) + (month.month - 1) / 12
    level = 600 * (1 + 0.17 * min(years, 3.0)) - 20 * max(years - 3.5, 0)
    spring_2020 = {"2020-03": 1.10, "2020-04": 1.35, "2020-05": 1.45, "2020-06": 1.30, "2020-07": 1.15,
                   "2021-01": 1.12, "2021-02": 1.10}
    season = [0.95, 0.92, 1.0, 1.0, 1.04, 1.03, 1.05, 1.03, 1.0, 1.0, 0.98, 0.97]
    return level * spring_2020.get(f"{month:%Y-%m}", 1.0) * season[month.month - 1] * _days_in_month(month) / 30.44


def generate_stop_search(geo: Geography, snaps: SnapPoints, month: date, weights: np.ndarray,
                         rng: np.random.Generator) -> pd.DataFrame:
    """One month of stop-and-search rows."""
    count = int(rng.poisson(_stop_search_volume(month)))
    days = rng.integers(0, _days_in_month(month), count)
    hour_weights = np.array([4, 3, 2, 1.5, 1, 0.8, 0.8, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6, 6, 6, 6, 5.5, 5, 4.5])
    hours = rng.choice(24, size=count, p=hour_weights / hour_weights.sum())
    minutes = rng.integers(0, 60, count)
    dates = []
    for day, hour, minute in zip(days, hours, minutes):
        local = datetime(month.year, month.month, 1 + int(day), int(hour), int(minute))
        dates.append(f"{local:%Y-%m-%dT%H:%M:%S}{_utc_offset(local)}")
    legislations = list(SEARCH_OBJECTS)
    leg_share = np.array([SEARCH_OBJECTS[k][0] for k in legislations])
    legislation = rng.choice(len(legislations), size=count, p=leg_share / leg_share.sum())
    objects = np.empty(count, dtype=object)
    for leg_index, name in enumerate(legislations):
        members = np.flatnonzero(legislation == leg_index)
        options = SEARCH_OBJECTS[name][1]
        shares = np.array([share for _, share in options])
        picks = rng.choice(len(options), size=members.size, p=shares / shares.sum())
        objects[members] = np.array([o for o, _ in options], dtype=object)[picks]
    outcome_names = [o for o, _ in SEARCH_OUTCOMES]
    outcome_share = np.array([s for _, s in SEARCH_OUTCOMES])
    outcome = np.array(outcome_names, dtype=object)[rng.choice(len(outcome_names), size=count, p=outcome_share)]
    not_drugs = objects != "Controlled drugs"
    warning = (outcome == "Khat or Cannabis warning") & not_drugs
    outcome[warning] = "A no further action disposal"
    positive = outcome != "A no further action disposal"
    linked = np.where(positive, np.where(rng.random(count) < 0.75, "True", "False"),
                      np.where(rng.random(count) < 0.5, "False", None))
    ethnicity = rng.choice(len(ETHNICITY), size=count, p=np.array([e[2] for e in ETHNICITY]))
    lsoa = rng.choice(len(geo.codes), size=count, p=weights)
    point = rng.integers(0, SNAP_POINTS_PER_LSOA, count)
    located = rng.random(count) > 0.04
    age = rng.choice(["under 10", "10-17", "18-24", "25-34", "over 34"], size=count, p=[0.002, 0.2, 0.36, 0.25, 0.188])
    frame = pd.DataFrame({
        "Type": rng.choice(["Person search", "Person and Vehicle search", "Vehicle search"], size=count, p=[0.85, 0.13, 0.02]),
        "Date": dates,
        "Part of a policing operation": np.where(rng.random(count) < 0.03, "True", "False"),
        "Policing operation": np.full(count, None, dtype=object),
        "Latitude": np.where(located, snaps.lat[lsoa, point], np.nan),
        "Longitude": np.where(located, snaps.lon[lsoa, point], np.nan),
        "Gender": rng.choice(["Male", "Female", "Other"], size=count, p=[0.89, 0.105, 0.005]),
        "Age range": age,
        "Self-defined ethnicity": _blank(np.array([e[0] for e in ETHNICITY], dtype=object)[ethnicity]),
        "Officer-defined ethnicity": _blank(np.array([e[1] for e in ETHNICITY], dtype=object)[ethnicity]),
        "Legislation": [legislations[k] for k in legislation],
        "Object of search": objects,
        "Outcome": outcome,
        "Outcome linked to object of search": linked,
        "Removal of more than just outer clothing": _blank(rng.choice(["False", "True", ""], size=count, p=[0.78, 0.02, 0.20])),
    })
    return frame.sort_values("Date", kind="stable").reset_index(drop=True)[STOP_SEARCH_HEADER]


# --------------------------------------------------------------------------------------------------
# DfT STATS19 collisions, casualties, vehicles
# --------------------------------------------------------------------------------------------------
COLLISION_HEADER = [
    "collision_index", "collision_year", "collision_ref_no", "location_easting_osgr", "location_northing_osgr",
    "longitude", "latitude", "police_force", "collision_severity", "number_of_vehicles", "number_of_casualties",
    "date", "day_of_week", "time", "local_authority_district", "local_authority_ons_district",
    "local_authority_highway", "first_road_class", "first_road_number", "road_type", "speed_limit",
    "junction_detail", "junction_control", "second_road_class", "second_road_number",
    "pedestrian_crossing_human_control", "pedestrian_crossing_physical_facilities", "light_conditions",
    "weather_conditions", "road_surface_conditions", "special_conditions_at_site", "carriageway_hazards",
    "urban_or_rural_area", "did_police_officer_attend_scene_of_collision", "trunk_road_flag",
    "lsoa_of_collision_location",
]
CASUALTY_HEADER = [
    "collision_index", "collision_year", "collision_ref_no", "vehicle_reference", "casualty_reference",
    "casualty_class", "sex_of_casualty", "age_of_casualty", "age_band_of_casualty", "casualty_severity",
    "pedestrian_location", "pedestrian_movement", "car_passenger", "bus_or_coach_passenger",
    "pedestrian_road_maintenance_worker", "casualty_type", "casualty_home_area_type", "casualty_imd_decile",
    "lsoa_of_casualty",
]
VEHICLE_HEADER = [
    "collision_index", "collision_year", "collision_ref_no", "vehicle_reference", "vehicle_type",
    "towing_and_articulation", "vehicle_manoeuvre", "vehicle_direction_from", "vehicle_direction_to",
    "vehicle_location_restricted_lane", "junction_location", "skidding_and_overturning",
    "hit_object_in_carriageway", "vehicle_leaving_carriageway", "hit_object_off_carriageway",
    "first_point_of_impact", "vehicle_left_hand_drive", "journey_purpose_of_driver", "sex_of_driver",
    "age_of_driver", "age_band_of_driver", "engine_capacity_cc", "propulsion_code", "age_of_vehicle",
    "generic_make_model", "driver_imd_decile", "driver_home_area_type", "lsoa_of_driver",
]
# KSI casualties per financial year (PRODUCT.md): 820 to March 2020, 648 to March 2021; slight ~4x KSI
KSI_TARGETS = {(2019, 4): 820, (2020, 4): 648}
ROAD_SEASON = [0.95, 0.88, 0.93, 0.92, 1.02, 1.02, 1.04, 1.00, 1.02, 1.06, 1.10, 1.06]
ROAD_COVID = {
    "2020-03": 0.88, "2020-04": 0.52, "2020-05": 0.72, "2020-06": 0.86, "2020-07": 0.95, "2020-08": 0.97,
    "2020-09": 0.95, "2020-10": 0.92, "2020-11": 0.76, "2020-12": 0.85, "2021-01": 0.64, "2021-02": 0.70,
    "2021-03": 0.82, "2021-04": 0.90, "2021-05": 0.93, "2021-06": 0.95, "2021-07": 0.97,
}
# casualty type code -> (share among KSI, share among slight, vehicle type code)
CASUALTY_TYPES = {
    0: (0.17, 0.11, 9),    # pedestrian (struck by a car)
    1: (0.12, 0.10, 1),    # cyclist
    3: (0.07, 0.03, 3),    # motorcycle 125cc and under
    5: (0.13, 0.03, 5),    # motorcycle over 500cc
    9: (0.43, 0.63, 9),    # car occupant
    19: (0.04, 0.05, 19),  # van occupant
    11: (0.01, 0.02, 11),  # bus or coach occupant
    21: (0.02, 0.02, 21),  # goods 7.5t and over occupant
    8: (0.01, 0.01, 8),    # taxi occupant
}
AGE_BANDS = [(0, 5, 1), (6, 10, 2), (11, 15, 3), (16, 20, 4), (21, 25, 5), (26, 35, 6), (36, 45, 7), (46, 55, 8),
             (56, 65, 9), (66, 75, 10), (76, 120, 11)]


def _age_band(age: int) -> int:
    return next(code for low, high, code in AGE_BANDS if low <= age <= high)


def _road_curves() -> tuple[np.ndarray, np.ndarray]:
    """Expected KSI and slight collisions per month, scaled to the KSI casualty targets."""
    months = demo_months()
    base = np.array([ROAD_SEASON[m.month - 1] * _days_in_month(m) / 30.44 for m in months])
    ksi_covid = np.array([ROAD_COVID.get(f"{m:%Y-%m}", 1.0) for m in months])
    slight_covid = 1 - (1 - ksi_covid) * 1.25
    ksi = base * ksi_covid
    for (year, start_month), target in KSI_TARGETS.items():
        window = [i for i, m in enumerate(months) if date(year, start_month, 1) <= m < date(year + 1, start_month, 1)]
        ksi[window] *= target / KSI_CASUALTIES_PER_KSI_COLLISION / ksi[window].sum()
    # before April 2019 and after March 2021: the pre-COVID level
    pre = [i for i, m in enumerate(months) if m < date(2019, 4, 1)]
    ksi[pre] = base[pre] * (820 / KSI_CASUALTIES_PER_KSI_COLLISION) / base[:12].sum()
    post = [i for i, m in enumerate(months) if m >= date(2021, 4, 1)]
    ksi[post] = base[post] * ksi_covid[post] * (760 / KSI_CASUALTIES_PER_KSI_COLLISION) / base[:12].sum()
    years = np.array([(i - 28) / 12 for i in range(len(months))])
    slight = base * slight_covid * 2400 / base[:12].sum() * (0.97 ** np.clip(years, None, 1.0))
    return ksi, slight


KSI_CASUALTIES_PER_KSI_COLLISION = 1 + 0.25 * 0.15  # one KSI casualty, plus Poisson(0.25) others, 15% KSI


def generate_stats19(geo: Geography, rng: np.random.Generator) -> tuple[list[list], list[list], list[list]]:
    """Collision, casualty and vehicle rows (DfT codes), police_force 42."""
    ksi_curve, slight_curve = _road_curves()
    months = demo_months()
    inside = np.flatnonzero(geo.inside)
    road_weight = geo.residents[inside] / geo.residents[inside].sum()
    type_codes = np.array(list(CASUALTY_TYPES))
    ksi_share = np.array([CASUALTY_TYPES[c][0] for c in type_codes])
    slight_share = np.array([CASUALTY_TYPES[c][1] for c in type_codes])

    # one entry per collision, all months at once
    n_ksi = rng.poisson(ksi_curve)
    n_slight = rng.poisson(slight_curve)
    month_of, severity = [], []
    for m_index in range(len(months)):
        month_of.extend([m_index] * int(n_ksi[m_index] + n_slight[m_index]))
        severity.extend([2] * int(n_ksi[m_index]) + [3] * int(n_slight[m_index]))
    month_of = np.array(month_of)
    severity = np.array(severity)
    count = severity.size
    severity[(severity == 2) & (rng.random(count) < 0.075)] = 1
    days_in = np.array([_days_in_month(months[m]) for m in month_of])
    day = 1 + np.floor(rng.random(count) * days_in).astype(int)
    hour = rng.choice(24, size=count, p=_ROAD_HOURS)
    minute = rng.integers(0, 60, count)
    lsoa = inside[rng.choice(inside.size, size=count, p=road_weight)]
    lon = np.round(geo.lon[lsoa] + rng.uniform(-0.4, 0.4, count) * CELL_LON, 6)
    lat = np.round(geo.lat[lsoa] + rng.uniform(-0.4, 0.4, count) * CELL_LAT, 6)
    extra = rng.poisson(np.where(severity < 3, 0.25, 0.3))
    first_type = np.where(
        severity < 3,
        type_codes[rng.choice(type_codes.size, size=count, p=ksi_share / ksi_share.sum())],
        type_codes[rng.choice(type_codes.size, size=count, p=slight_share / slight_share.sum())],
    )
    n_vehicles = np.where((first_type == 0) & (rng.random(count) < 0.9), 1, rng.choice([1, 2, 2, 2, 3], size=count))
    speed = rng.choice([20, 30, 40, 50, 60, 70], size=count, p=[0.04, 0.50, 0.12, 0.08, 0.18, 0.08])
    rural = (speed >= 50) & (rng.random(count) < 0.8)
    light = np.where((hour >= 7) & (hour <= 18), 1, rng.choice([4, 5, 6], size=count))
    road_class = rng.choice([1, 3, 4, 5, 6], size=count)
    road_number = rng.integers(12, 1400, count)
    road_type = rng.choice([6, 6, 6, 3, 1, 7], size=count)
    junction = rng.choice([0, 3, 6, 1], size=count)
    junction_control = np.where(junction == 0, -1, rng.choice([4, 2], size=count))
    weather = rng.choice([1, 1, 1, 2, 4, 7], size=count)
    surface = rng.choice([1, 1, 2], size=count)
    extra_severity_draw = rng.random((count, 8))
    other_vehicle_types = rng.choice([9, 9, 9, 9, 9, 9, 19, 21, 3, 11, 8], size=(count, 3))
    draws = rng.integers(0, 1 << 30, size=(count, 12))

    collisions, casualties, vehicles = [], [], []
    serial_by_year: dict[int, int] = {}
    for i in range(count):
        month = months[month_of[i]]
        year = month.year
        serial_by_year[year] = serial_by_year.get(year, 0) + 1
        ref_no = f"{DFT_FORCE_CODE}{serial_by_year[year]:07d}"
        index = f"{year}{ref_no}"
        when = date(year, month.month, int(day[i]))
        sev = int(severity[i])
        casualty_severity = [sev] + [
            (2 if extra_severity_draw[i, k] < 0.15 else 3) if sev < 3 else 3 for k in range(min(int(extra[i]), 8))]
        district = DISTRICTS[geo.district_index[lsoa[i]]]
        nv = int(n_vehicles[i])
        c_type = int(first_type[i])
        d = draws[i]
        collisions.append([
            index, year, ref_no, int(569000 + (lon[i] - 0.5) * 69300), int(190000 + (lat[i] - 51.7) * 111200),
            f"{lon[i]:.6f}", f"{lat[i]:.6f}", DFT_FORCE_CODE, sev, nv, len(casualty_severity),
            f"{when:%d/%m/%Y}", (when.isoweekday() % 7) + 1, f"{int(hour[i]):02d}:{int(minute[i]):02d}", -1,
            district.la_code, district.la_code, int(road_class[i]), int(road_number[i]), int(road_type[i]),
            int(speed[i]), int(junction[i]), int(junction_control[i]), -1, -1, 0, 0, int(light[i]), int(weather[i]),
            int(surface[i]), 0, 0, 2 if rural[i] else 1, 1, 2, geo.codes[lsoa[i]],
        ])
        vehicle_types = [CASUALTY_TYPES[c_type][2]] + [int(v) for v in other_vehicle_types[i, : nv - 1]]
        for v_ref, v_type in enumerate(vehicle_types, start=1):
            driver_age = 17 + int(d[v_ref]) % 68
            vehicles.append([
                index, year, ref_no, v_ref, v_type, 0, (4, 9, 18, 3)[d[0] % 4], 1 + d[1] % 8, 1 + d[2] % 8, 0,
                (0, 1, 8)[d[3] % 3], 0, 0, 0, 0, 1 + d[4] % 4, 1, (1, 2, 6)[d[5] % 3], (1, 1, 2)[d[v_ref + 4] % 3],
                driver_age, _age_band(driver_age), -1, 1 + d[6] % 2, 1 + d[7] % 14, "", -1, 1, "",
            ])
        for c_ref, c_severity in enumerate(casualty_severity, start=1):
            this_type = c_type if c_ref == 1 else 9
            casualty_class = 3 if this_type == 0 else (1 if c_ref == 1 else 2)
            age = 5 + int(d[8 + c_ref % 4]) % 85 if this_type == 0 else 16 + int(d[8 + c_ref % 4]) % 69
            vehicle_ref = 1 if this_type == 0 else min(c_ref, nv)
            casualties.append([
                index, year, ref_no, vehicle_ref, c_ref, casualty_class, (1, 1, 2)[d[9] % 3], age, _age_band(age),
                c_severity, 5 if this_type == 0 else 0, 9 if this_type == 0 else 0, 1 if casualty_class == 2 else 0,
                0, 2 if this_type == 0 else 0, this_type, 1, 1 + d[10] % 10, "",
            ])
    return collisions, casualties, vehicles


_ROAD_HOURS = np.array([0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.8, 4.5, 6.5, 4.5, 4.2, 4.8, 5.2, 5.3, 5.6, 7.2, 8.4, 8.6,
                        6.8, 4.8, 3.6, 2.9, 2.1, 1.2])
_ROAD_HOURS = _ROAD_HOURS / _ROAD_HOURS.sum()


def _write_rows(path: Path, header: list[str], rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


# --------------------------------------------------------------------------------------------------
# Fraud, measures
# --------------------------------------------------------------------------------------------------
FRAUD_HEADER = ["month", "force", "fraud_type", "reports", "reported_loss_gbp"]
# fraud type: (reports a month in 2017, yearly growth before COVID, factor from April 2020, mean loss GBP)
FRAUD_TYPES = {
    "Online shopping and auctions": (260, 0.06, 1.50, 750),
    "Cheque, plastic card and online bank accounts (not PSP)": (170, 0.05, 1.28, 1400),
    "Advance fee fraud": (95, 0.04, 1.25, 2600),
    "Investment fraud": (35, 0.08, 1.45, 32000),
    "Courier fraud": (18, 0.05, 0.80, 6000),
    "Romance fraud": (22, 0.06, 1.30, 11000),
    "Computer software service fraud": (40, 0.05, 1.30, 1900),
    "Other consumer non-investment fraud": (75, 0.03, 1.25, 1100),
    "Other fraud": (110, 0.03, 1.20, 2300),
}


def generate_fraud(rng: np.random.Generator) -> list[list]:
    """Action Fraud reports by month and type: rising, with a strong rise from spring 2020."""
    rows = []
    for m_index, month in enumerate(demo_months()):
        covid_ramp = 0.0 if month < date(2020, 3, 1) else (0.5 if month == date(2020, 3, 1) else 1.0)
        for fraud_type, (base, growth, covid_factor, mean_loss) in FRAUD_TYPES.items():
            level = base * (1 + growth) ** (m_index / 12) * (1 + (covid_factor - 1) * covid_ramp)
            reports = int(rng.poisson(level))
            loss = float(np.sum(rng.lognormal(math.log(mean_loss) - 0.5, 1.0, reports))) if reports else 0.0
            rows.append([f"{month:%Y-%m}", FORCE_NAME, fraud_type, reports, f"{loss:.2f}"])
    return rows


MEASURES_HEADER = ["measure", "period_start", "period_end", "value", "unit", "target", "force"]


def generate_measures(rng: np.random.Generator) -> list[list]:
    """Monthly force measures: call answering, officer numbers, speeding detections."""
    rows = []
    months = demo_months()
    for m_index, month in enumerate(months):
        end = date(month.year, month.month, _days_in_month(month))
        summer = month.month in (6, 7, 8)
        covid = _lockdown(month)
        answered = min(99.0, 91.0 - (3.5 if summer else 0.0) + 2.0 * covid + rng.normal(0, 1.2))
        wait_101 = max(40.0, 260 + (90 if summer else 0) - 80 * covid + rng.normal(0, 35))
        officers = 2850 + 260 * min(m_index, 36) / 36 + 330 * max(m_index - 36, 0) / 24 + rng.normal(0, 8)
        specials = 330 + 250 * m_index / 59 + rng.normal(0, 10)
        speeding = max(0.0, 6500 * (1 - 0.93 * covid) + rng.normal(0, 250))
        key = f"{month:%Y-%m}"
        if key == "2019-04":
            speeding = 6584.0  # PRODUCT.md: 6,584 in April 2019
        elif key == "2020-04":
            speeding = 465.0  # and 465 in April 2020
        period = [f"{month:%Y-%m-%d}", f"{end:%Y-%m-%d}"]
        rows.append(["999 calls answered within 10 seconds", *period, f"{answered:.1f}", "%", "90", FORCE_NAME])
        rows.append(["101 calls average answer time", *period, f"{wait_101:.0f}", "seconds", "", FORCE_NAME])
        rows.append(["Police officers", *period, f"{officers:.0f}", "FTE", "3300" if month.year >= 2020 else "", FORCE_NAME])
        rows.append(["Special constables", *period, f"{specials:.0f}", "headcount", "600", FORCE_NAME])
        rows.append(["Speeding detections", *period, f"{speeding:.0f}", "detections", "", FORCE_NAME])
    return rows


# --------------------------------------------------------------------------------------------------
# Force incident extract (force-specific layout + TOML mapping)
# --------------------------------------------------------------------------------------------------
EXTRACT_HEADER = [
    "CrimeRef", "RecordedDateTime", "HOOffenceCode", "OffenceDesc", "NeighbourhoodDistrict", "LSOA11",
    "DAFlag", "HateFlag", "ChildVictimFlag", "OutcomeDesc", "OutcomeDate", "VictimID",
]
EXTRACT_MAPPING_TOML = """# Column mapping for the synthetic demo extract (SYNTHETIC DEMO DATA, not a real force export).
[extract]
force = "Essex Police"
recorded_at_format = "%d/%m/%Y %H:%M"
outcome_date_format = "%d/%m/%Y"
true_values = ["Y", "Yes", "1", "TRUE"]

[columns]
incident_ref = "CrimeRef"
recorded_at = "RecordedDateTime"
offence_code = "HOOffenceCode"
offence_description = "OffenceDesc"
district = "NeighbourhoodDistrict"
lsoa_code = "LSOA11"
domestic_abuse = "DAFlag"
hate_crime = "HateFlag"
child_victim = "ChildVictimFlag"
outcome = "OutcomeDesc"
outcome_date = "OutcomeDate"
victim_key = "VictimID"
"""
# police.uk category -> [(Home Office offence code, description, share)]
OFFENCE_CODES: dict[str, list[tuple[str, str, float]]] = {
    "Violence and sexual offences": [
        ("105A", "Assault without injury", 0.33), ("8N", "Assault with injury", 0.22), ("8L", "Harassment", 0.16),
        ("8Q", "Stalking", 0.05), ("5D", "Assault with intent to cause serious harm", 0.02),
        ("105B", "Racially or religiously aggravated assault without injury", 0.03),
        ("8M", "Racially or religiously aggravated harassment", 0.02),
        ("8P", "Racially or religiously aggravated assault with injury", 0.01),
        ("20A", "Sexual assault on a female aged 13 and over", 0.04),
        ("17A", "Sexual assault on a male aged 13 and over", 0.006), ("19C", "Rape of a female aged 16 and over", 0.03),
        ("19D", "Rape of a female child under 16", 0.008), ("22B", "Sexual activity involving child under 16", 0.016)],
    "Public order": [("9A", "Public fear, alarm or distress", 0.70),
                     ("9B", "Racially or religiously aggravated public fear, alarm or distress", 0.06),
                     ("66", "Other offences against the State or public order", 0.20), ("62A", "Violent disorder", 0.04)],
    "Burglary": [("28E", "Burglary Residential", 0.55), ("28F", "Attempted Burglary Residential", 0.10),
                 ("30C", "Burglary Business and Community", 0.30), ("30D", "Attempted Burglary Business and Community", 0.05)],
    "Robbery": [("34B", "Robbery of personal property", 0.88), ("34A", "Robbery of business property", 0.12)],
    "Theft from the person": [("39", "Theft from the person", 1.0)],
    "Bicycle theft": [("44", "Theft or unauthorised taking of a pedal cycle", 1.0)],
    "Shoplifting": [("46", "Shoplifting", 1.0)],
    "Vehicle crime": [("45", "Theft from vehicle", 0.55), ("48", "Theft or unauthorised taking of motor vehicle", 0.35),
                      ("37.2", "Aggravated vehicle taking", 0.03), ("126", "Interfering with a motor vehicle", 0.07)],
    "Other theft": [("49", "Other theft", 0.78), ("40", "Theft in a dwelling other than from an automatic machine or meter", 0.12),
                    ("41", "Theft by an employee", 0.06), ("47", "Theft from automatic machine or meter", 0.04)],
    "Drugs": [("92E", "Possession of controlled drugs (Cannabis)", 0.55),
              ("92D", "Possession of controlled drugs (excl. Cannabis)", 0.15), ("92A", "Trafficking in controlled drugs", 0.30)],
    "Criminal damage and arson": [("58A", "Criminal damage to a dwelling", 0.33), ("58B", "Criminal damage to a building other than a dwelling", 0.10),
                                  ("58C", "Criminal damage to a vehicle", 0.35), ("58D", "Other criminal damage", 0.12),
                                  ("56A", "Arson endangering life", 0.02), ("56B", "Arson not endangering life", 0.08)],
    "Possession of weapons": [("10D", "Possession of article with blade or point", 0.70), ("10C", "Possession of other weapons", 0.15),
                              ("81", "Other firearms offences", 0.10), ("10A", "Possession of firearms with intent", 0.05)],
    "Other crime": [("33", "Going equipped for stealing, etc", 0.35),
                    ("38", "Profiting from or concealing knowledge of the proceeds of crime", 0.30),
                    ("59", "Threat or possession with intent to commit criminal damage", 0.25),
                    ("80", "Absconding from lawful custody", 0.10)],
}
HATE_CODES = {"105B", "8M", "8P", "9B"}
CHILD_CODES = {"19D", "22B"}
SEXUAL_CODES = {"20A", "17A", "19C", "19D", "22B"}
DOMESTIC_ABUSE_SHARE = {"Violence and sexual offences": 0.15, "Criminal damage and arson": 0.05, "Public order": 0.03}
EXTRACT_OUTCOMES = {
    # street-level last outcome -> extract outcome wording
    "Investigation complete; no suspect identified": "Investigation complete - no suspect identified",
    "Unable to prosecute suspect": "Evidential difficulties - victim does not support action",
    "Court result unavailable": "Charged/Summonsed", "Offender sent to prison": "Charged/Summonsed",
    "Offender given community sentence": "Charged/Summonsed", "Offender fined": "Charged/Summonsed",
    "Offender given suspended prison sentence": "Charged/Summonsed", "Defendant found not guilty": "Charged/Summonsed",
    "Offender given conditional discharge": "Charged/Summonsed", "Court case unable to proceed": "Charged/Summonsed",
    "Awaiting court outcome": "Charged/Summonsed", "Local resolution": "Community resolution",
    "Offender given a caution": "Caution", "Offender given a drugs possession warning": "Cannabis/Khat warning",
    "Action to be taken by another organisation": "Action undertaken by another body",
    "Status update unavailable": "Investigation complete - no suspect identified",
    "Formal action is not in the public interest": "Prosecution not in the public interest",
    "Further investigation is not in the public interest": "Prosecution not in the public interest",
}


# the extract starts in January 2018 (four years: enough earlier years for weekly comparisons, and a
# demo build that stays well under a minute)
EXTRACT_FIRST_MONTH = date(2018, 1, 1)
EXTRACT_SELECT = """
    '42/' || lpad(CAST(serial AS VARCHAR), 7, '0') || '/' || strftime(recorded_at, '%y') AS CrimeRef,
    strftime(recorded_at, '%d/%m/%Y %H:%M') AS RecordedDateTime,
    HOOffenceCode, OffenceDesc, NeighbourhoodDistrict, LSOA11, DAFlag, HateFlag, ChildVictimFlag, OutcomeDesc,
    strftime(outcome_at, '%d/%m/%Y') AS OutcomeDate,
    'V' || lpad(CAST(victim AS VARCHAR), 8, '0') AS VictimID
"""


def generate_extract(street: list[StreetMonth], geo: Geography, rng: np.random.Generator) -> pd.DataFrame:
    """One incident per in-force street-level crime, dated within its month, with Home Office offence
    codes and flags (domestic abuse ~15% of violence, holding up in spring 2020; hate; child victim).
    Returns a frame to be written with EXTRACT_SELECT (which formats dates and references)."""
    asb = CATEGORIES.index(ASB)
    violence = CATEGORIES.index("Violence and sexual offences")
    category_parts, lsoa_parts, outcome_parts, start_parts, covid_parts = [], [], [], [], []
    for item in street:
        if item.month < EXTRACT_FIRST_MONTH:
            continue
        wanted = (item.category != asb) & (item.lsoa >= 0) & geo.inside[np.maximum(item.lsoa, 0)]
        category_parts.append(item.category[wanted])
        lsoa_parts.append(item.lsoa[wanted])
        outcome_parts.append(item.frame["Last outcome category"].to_numpy(dtype=object)[wanted])
        start_parts.append(np.full(int(wanted.sum()), np.datetime64(item.month, "m")))
        covid_parts.append(np.full(int(wanted.sum()), _lockdown(item.month)))
    category = np.concatenate(category_parts)
    lsoa = np.concatenate(lsoa_parts)
    outcome_text = np.concatenate(outcome_parts)
    month_start = np.concatenate(start_parts)
    covid = np.concatenate(covid_parts)
    count = category.size

    # offence code within category
    code = np.empty(count, dtype=object)
    description = np.empty(count, dtype=object)
    for c_index, name in enumerate(CATEGORIES):
        if name == ASB:
            continue
        members = np.flatnonzero(category == c_index)
        options = OFFENCE_CODES[name]
        shares = np.array([share for _, _, share in options])
        picks = rng.choice(len(options), size=members.size, p=shares / shares.sum())
        code[members] = np.array([c for c, _, _ in options], dtype=object)[picks]
        description[members] = np.array([d for _, d, _ in options], dtype=object)[picks]

    # recorded date and time within the month
    days_in_month = np.array([_days_in_month(m) for m in month_start.astype("datetime64[D]").astype(object)])
    hour_weights = np.array([3, 2.5, 2, 1.5, 1, 0.8, 1, 1.5, 2.5, 3.5, 4, 4.5, 5, 5, 5, 5.5, 6, 6.5, 6.5, 6.5, 6, 5.5, 5, 4])
    minutes = (np.floor(rng.random(count) * days_in_month).astype(np.int64) * 1440
               + rng.choice(24, size=count, p=hour_weights / hour_weights.sum()) * 60 + rng.integers(0, 60, count))
    recorded_at = month_start + minutes.astype("timedelta64[m]")

    # flags: domestic abuse ~15% of violence (held up, +3%, while violence fell in lockdown)
    da_share = np.zeros(count)
    for name, share in DOMESTIC_ABUSE_SHARE.items():
        da_share[category == CATEGORIES.index(name)] = share
    violence_factor = 1 + (COVID_APRIL_FACTOR["Violence and sexual offences"] - 1) * covid
    da_share = np.where(category == violence, da_share * np.where(covid > 0, 1.03 / violence_factor, 1.0), da_share)
    is_child_code = np.isin(code, list(CHILD_CODES))
    domestic = (rng.random(count) < da_share) & ~is_child_code
    hate = np.isin(code, list(HATE_CODES)) | (
        np.isin(category, [violence, CATEGORIES.index("Public order")]) & (rng.random(count) < 0.015))
    child_draw = rng.random(count)
    child = is_child_code | (np.isin(code, list(SEXUAL_CODES)) & (child_draw < 0.15)) | (
        (category == violence) & (child_draw < 0.04))

    # outcome and its date
    finished = (outcome_text != UNDER_INVESTIGATION) & pd.notna(outcome_text)
    outcome = pd.Series(outcome_text, dtype=object).map(EXTRACT_OUTCOMES).to_numpy(dtype=object)
    outcome = np.where(finished, np.where(pd.isna(outcome), "Investigation complete - no suspect identified", outcome), None)
    lag = rng.geometric(1 / 35, count).astype("timedelta64[D]")
    outcome_at = np.where(finished, (recorded_at.astype("datetime64[D]") + lag), np.datetime64("NaT"))

    # victims: a domestic-abuse victim is a repeat victim about a third of the time
    victim = np.arange(1, count + 1, dtype=np.int64)
    repeat_draw = rng.random(count)
    pick_draw = rng.random(count)
    da_rows = np.flatnonzero(domestic)
    for position, j in enumerate(da_rows.tolist()):
        if position and repeat_draw[j] < 0.35:
            victim[j] = victim[da_rows[int(pick_draw[j] * position)]]

    flag = np.array(["N", "Y"], dtype=object)
    district_names = np.array([d.name for d in DISTRICTS], dtype=object)
    return pd.DataFrame({
        "serial": np.arange(1, count + 1),
        "recorded_at": recorded_at.astype("datetime64[us]"),
        "HOOffenceCode": code,
        "OffenceDesc": description,
        "NeighbourhoodDistrict": district_names[geo.district_index[lsoa]],
        "LSOA11": np.array(geo.codes, dtype=object)[lsoa],
        "DAFlag": flag[domestic.astype(int)],
        "HateFlag": flag[hate.astype(int)],
        "ChildVictimFlag": flag[child.astype(int)],
        "OutcomeDesc": outcome,
        "outcome_at": pd.to_datetime(outcome_at),
        "victim": victim,
    })


# --------------------------------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------------------------------
README_TEXT = """SYNTHETIC DEMO DATA — NOT REAL CRIME DATA

Every file in this folder was generated by `python -m etl demo --seed {seed}` (Crime Plan Monitor).
The numbers are random draws calibrated to published Essex figures (see docs/REAL_DATA.md and
../shared/PRODUCT.md); no row describes a real crime, collision, person or place. LSOA codes start
E0199 so they cannot be mistaken for real ones. The files use the real source formats so that the
demo goes through exactly the same loaders as real data.

- YYYY-MM/YYYY-MM-essex-{{street,outcomes,stop-and-search}}.csv  data.police.uk layout
- stats19/demo-dft-road-casualty-statistics-{{collision,casualty,vehicle}}-2017-2021.csv  DfT STATS19 layout
- fraud/demo-action-fraud-essex.csv                               Action Fraud tidy layout
- measures/demo-force-measures-essex.csv                          force measures tidy layout
- extract/demo-essex-incident-extract.csv + demo-essex-extract-mapping.toml   force extract (2018-2021) + mapping
- reference/demo-*.csv, demo-lsoa11-boundaries.geojson             ONS-format LSOA lookup, residents, boundaries

Rebuild the demo warehouse with `python -m etl demo --db PATH --seed {seed}`, not by loading these files
with `python -m etl load`: only `etl demo` labels the warehouse as demo data (meta.dataset = 'demo'),
which is what makes the dashboard show its "Demo data — synthetic" banner.
"""


def _loader_exists(name: str) -> bool:
    return (SOURCES_DIR / f"{name}.py").exists()


def write_archive(archive_dir: Path, seed: int, log=print) -> dict[str, list[Path]]:
    """Generate every demo source file under `archive_dir`. Returns the files by loader family."""
    with contextlib.closing(duckdb.connect()) as con:
        con.execute("SET enable_progress_bar = false")
        return _write_archive(con, archive_dir, seed, log)


def _write_archive(con: duckdb.DuckDBPyConnection, archive_dir: Path, seed: int, log) -> dict[str, list[Path]]:
    archive_dir.mkdir(parents=True, exist_ok=True)
    (archive_dir / ARCHIVE_MARKER).write_text(README_TEXT.format(seed=seed), encoding="utf-8")
    files: dict[str, list[Path]] = {"reference": [], "police_uk": [], "stats19": [], "fraud": [], "extract": [], "measures": []}

    geo = build_geography(np.random.default_rng([seed, 1]))
    files["reference"] = write_reference(geo, archive_dir / "reference")
    snaps = build_snap_points(geo, np.random.default_rng([seed, 2]))

    street = generate_street(geo, snaps, np.random.default_rng([seed, 3]))
    for item in street:
        path = _month_path(archive_dir, item.month, "street")
        _write_frame(con, item.frame, path)
        files["police_uk"].append(path)
    for month, frame in generate_outcomes(street, np.random.default_rng([seed, 4])).items():
        path = _month_path(archive_dir, month, "outcomes")
        _write_frame(con, frame, path)
        files["police_uk"].append(path)
    search_rng = np.random.default_rng([seed, 5])
    inside = geo.inside.astype(float)
    search_weights = _lsoa_weights(geo, np.random.default_rng([seed, 6]))["Drugs"] * inside
    search_weights /= search_weights.sum()
    for month in demo_months():
        path = _month_path(archive_dir, month, "stop-and-search")
        _write_frame(con, generate_stop_search(geo, snaps, month, search_weights, search_rng), path)
        files["police_uk"].append(path)
    log(f"demo: wrote data.police.uk files for {len(street)} months")

    collisions, casualties, vehicles = generate_stats19(geo, np.random.default_rng([seed, 7]))
    stats_dir = archive_dir / "stats19"
    files["stats19"] = [
        _write_rows(stats_dir / "demo-dft-road-casualty-statistics-collision-2017-2021.csv", COLLISION_HEADER, collisions),
        _write_rows(stats_dir / "demo-dft-road-casualty-statistics-casualty-2017-2021.csv", CASUALTY_HEADER, casualties),
        _write_rows(stats_dir / "demo-dft-road-casualty-statistics-vehicle-2017-2021.csv", VEHICLE_HEADER, vehicles),
    ]
    files["fraud"] = [_write_rows(archive_dir / "fraud" / "demo-action-fraud-essex.csv", FRAUD_HEADER,
                                  generate_fraud(np.random.default_rng([seed, 8])))]
    files["measures"] = [_write_rows(archive_dir / "measures" / "demo-force-measures-essex.csv", MEASURES_HEADER,
                                     generate_measures(np.random.default_rng([seed, 9])))]
    extract_dir = archive_dir / "extract"
    extract_dir.mkdir(parents=True, exist_ok=True)
    extract_path = extract_dir / "demo-essex-incident-extract.csv"
    _write_frame(con, generate_extract(street, geo, np.random.default_rng([seed, 10])), extract_path, EXTRACT_SELECT)
    files["extract"] = [extract_path]
    (extract_dir / "demo-essex-extract-mapping.toml").write_text(EXTRACT_MAPPING_TOML, encoding="utf-8")
    log("demo: wrote STATS19, fraud, measures and force extract files")
    return files


def mapping_path(archive_dir: Path) -> Path:
    return archive_dir / "extract" / "demo-essex-extract-mapping.toml"


def _clear_archive(archive_dir: Path) -> None:
    """Remove an earlier demo archive (only one we wrote: it carries our README marker)."""
    if not archive_dir.exists():
        return
    marker = archive_dir / ARCHIVE_MARKER
    if any(archive_dir.iterdir()) and not (marker.exists() and MARKER_TEXT in marker.read_text(encoding="utf-8")):
        raise ValueError(f"{archive_dir} exists and is not a demo archive; choose another --archive folder")
    shutil.rmtree(archive_dir)


def build_demo(db_path: str | os.PathLike, seed: int = 1, archive_dir: str | os.PathLike | None = None,
               forces: int = 1, log=None) -> Path:
    """Write the synthetic demo archive and load it into a fresh warehouse at `db_path` (replacing it).

    `forces`: only Essex (1) is generated. Returns the database path."""
    if forces != 1:
        raise ValueError("the demo generates one force (Essex); forces must be 1")
    from etl.load import load_sources

    log = log or (lambda message: print(message, file=sys.stderr))
    started = time.monotonic()
    db = Path(db_path)
    archive = Path(archive_dir) if archive_dir is not None else db.parent / "demo-archive"
    _clear_archive(archive)
    files = write_archive(archive, seed, log=log)

    sources: list[Path] = [*files["reference"], *files["police_uk"]]
    options: dict = {"meta": {"dataset": "demo", "demo_seed": str(seed)}}
    for family in LATER_LOADERS:
        if _loader_exists(family):
            sources.extend(files[family])
            if family == "extract":
                options["mapping"] = str(mapping_path(archive))
        else:
            log(f"demo: no loader etl/sources/{family}.py yet: its demo files are written but not loaded")

    db.parent.mkdir(parents=True, exist_ok=True)
    building = db.with_name(f"{db.name}.demo-build")
    for leftover in (building, building.with_name(building.name + ".lock"), building.with_name(building.name + ".wal")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
    try:
        summary = load_sources(sources, building, progress=False, **options)
        # swap the fresh database in under the live file's write lock
        with open(db.with_name(db.name + ".lock"), "a+") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                os.replace(building, db)
                with contextlib.suppress(FileNotFoundError):
                    db.with_name(db.name + ".wal").unlink()
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    finally:
        for leftover in (building, building.with_name(building.name + ".lock")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    log(f"demo: loaded {summary.rows_loaded:,} rows from {len(summary.files)} files into {db} "
        f"in {time.monotonic() - started:.0f} s (seed {seed}; SYNTHETIC demo data)")
    return db


def _cmd_demo(args: argparse.Namespace) -> int:
    db = resolve_db_path(args.db)
    if args.if_missing and db.exists():
        print(f"demo: {db} exists; nothing to do (--if-missing)")
        return 0
    build_demo(db, seed=args.seed, archive_dir=args.archive)
    print(f"Built the synthetic demo warehouse {db} (seed {args.seed}). The app labels it 'Demo data — synthetic'.")
    if not args.no_baselines:
        from etl.baselines_hook import start_baselines

        start_baselines(db)
    return 0


def register(subparsers) -> None:
    """Add `python -m etl demo`."""
    parser = subparsers.add_parser(
        "demo", help="build a synthetic demo warehouse (Essex, 2017-2021) through the real loaders",
        description="Generate a clearly labelled synthetic demo archive in the real source formats and load it. "
                    "Replaces the database at --db.",
    )
    parser.add_argument("--db", help="warehouse file to (re)build (default $CRIME_MONITOR_DB or data/warehouse.duckdb)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same data; default 1)")
    parser.add_argument("--archive", help="folder for the generated source files (default: demo-archive beside the db)")
    parser.add_argument("--if-missing", action="store_true", help="do nothing when the database file already exists")
    parser.add_argument("--no-baselines", action="store_true",
                        help="do not start fitting the expected-vs-observed baselines in the background")
    parser.set_defaults(handler=_cmd_demo)

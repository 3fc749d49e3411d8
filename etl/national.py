"""`python -m etl national`: a synthetic national-scale data.police.uk street-level archive.

Writes `DEST/YYYY-MM/YYYY-MM-<force_id>-street.csv` for the 43 territorial forces of England and Wales
(the data.police.uk ids of `etl.sources.common.FORCES` minus British Transport Police and Northern
Ireland), in the exact data.police.uk street format: the 12-column header, 64-hex Crime IDs (empty for
anti-social behaviour), `Reported by` = `Falls within` = the force's name, LSOA names "<District> 001A"
(so district derivation works), a crime-type and outcome mix like Essex's real files.

The data is SYNTHETIC (for benchmarks and scale tests only): districts are named "<Force> District NN"
(Essex uses its 14 real district names), LSOA codes are made up, coordinates are placed on a grid
inside England and Wales. Rows are generated and written by DuckDB (no Python loop per row): about
600,000 rows a month x 36 months = 22 million rows (~4.5 GB of CSV) takes a minute or two on 2 cores.
Deterministic: the same seed, forces, months and rows give byte-identical files.
"""

from __future__ import annotations

import argparse
import shutil
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from etl.sources.common import FORCES

# forces of England and Wales covered by data.police.uk street files (43)
NATIONAL_FORCE_IDS: list[str] = [f for f in FORCES if f not in {"btp", "northern-ireland"}]

# approximate share of recorded crime in England and Wales by force (relative weights, 2019-ish)
FORCE_WEIGHTS: dict[str, float] = {
    "metropolitan": 16.0, "west-midlands": 5.8, "greater-manchester": 6.5, "west-yorkshire": 5.6,
    "thames-valley": 2.9, "kent": 3.1, "hampshire": 3.0, "lancashire": 2.6, "south-yorkshire": 2.6,
    "essex": 3.0, "avon-and-somerset": 2.6, "merseyside": 2.4, "northumbria": 2.6, "sussex": 2.2,
    "devon-and-cornwall": 2.0, "west-mercia": 1.8, "south-wales": 1.9, "nottinghamshire": 1.6,
    "leicestershire": 1.5, "humberside": 1.6, "staffordshire": 1.6, "hertfordshire": 1.5, "derbyshire": 1.5,
    "cheshire": 1.4, "surrey": 1.2, "cleveland": 1.4, "durham": 1.1, "north-yorkshire": 0.9,
    "cambridgeshire": 1.2, "norfolk": 1.1, "lincolnshire": 0.9, "northamptonshire": 1.0,
    "bedfordshire": 0.9, "gwent": 0.9, "north-wales": 0.9, "suffolk": 0.9, "dorset": 0.9, "wiltshire": 0.7,
    "gloucestershire": 0.8, "cumbria": 0.6, "warwickshire": 0.7, "dyfed-powys": 0.5, "city-of-london": 0.2,
}
WELSH_FORCES = {"dyfed-powys", "gwent", "north-wales", "south-wales"}
ESSEX_DISTRICTS = [
    "Basildon", "Braintree", "Brentwood", "Castle Point", "Chelmsford", "Colchester", "Epping Forest",
    "Harlow", "Maldon", "Rochford", "Tendring", "Uttlesford", "Southend-on-Sea", "Thurrock",
]
# crime type mix (share of rows) close to Essex's real 2019-01 street file
CRIME_TYPE_MIX: dict[str, float] = {
    "Violence and sexual offences": 0.3307, "Anti-social behaviour": 0.1828, "Criminal damage and arson": 0.0834,
    "Vehicle crime": 0.0765, "Other theft": 0.0667, "Public order": 0.0607, "Shoplifting": 0.0604,
    "Burglary": 0.0567, "Drugs": 0.0282, "Other crime": 0.0196, "Possession of weapons": 0.0096,
    "Robbery": 0.0096, "Bicycle theft": 0.0079, "Theft from the person": 0.0071,
}
# last outcome mix among crimes (ASB has none)
OUTCOME_MIX: dict[str, float] = {
    "Unable to prosecute suspect": 0.40, "Investigation complete; no suspect identified": 0.39,
    "Court result unavailable": 0.058, "Local resolution": 0.039, "Action to be taken by another organisation": 0.026,
    "Status update unavailable": 0.021, "Offender given a drugs possession warning": 0.014,
    "Offender sent to prison": 0.011, "Offender given community sentence": 0.010, "Offender given a caution": 0.009,
    "Formal action is not in the public interest": 0.006, "Offender fined": 0.004, "Under investigation": 0.012,
}
STREETS = [
    "High Street", "Station Road", "Church Lane", "London Road", "Park/Open Space", "Parking Area",
    "Supermarket", "Shopping Area", "Mill Lane", "Victoria Road", "The Green", "School Lane", "Albert Road",
    "Nightclub", "Petrol Station", "Sports/Recreation Area", "Hospital", "Police Station", "Queens Road",
    "Manor Road", "Kings Road", "New Road", "Green Lane", "Chapel Street", "Bridge Street", "West Street",
]
LSOAS_PER_DISTRICT = 60
STREET_COLUMNS = (
    '"Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location", '
    '"LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context"'
)


@dataclass(frozen=True)
class ForcePlan:
    """How one force's synthetic rows are laid out."""

    force_id: str
    force_name: str
    rows_per_month: int
    districts: tuple[str, ...]
    lsoa_base: int  # first synthetic LSOA number
    country_prefix: str  # E01 (England) / W01 (Wales)
    centre_longitude: float
    centre_latitude: float


def _month_list(start: date, months: int) -> list[date]:
    index = start.year * 12 + start.month - 1
    return [date((index + k) // 12, (index + k) % 12 + 1, 1) for k in range(months)]


def plan_forces(forces: int, rows_per_month: int) -> list[ForcePlan]:
    """The first `forces` of the 43 (Essex always first), rows split by approximate force size."""
    if not 1 <= forces <= len(NATIONAL_FORCE_IDS):
        raise ValueError(f"--forces must be between 1 and {len(NATIONAL_FORCE_IDS)}")
    ordered = ["essex"] + [f for f in NATIONAL_FORCE_IDS if f != "essex"]
    chosen = ordered[:forces]
    total_weight = sum(FORCE_WEIGHTS[f] for f in chosen)
    plans = []
    lsoa_base = 1
    for position, force_id in enumerate(chosen):
        share = FORCE_WEIGHTS[force_id] / total_weight
        n_rows = max(1, round(rows_per_month * share))
        if force_id == "essex":
            districts = tuple(ESSEX_DISTRICTS)
        else:
            stem = FORCES[force_id].split(" Police")[0].split(" Constabulary")[0].replace("&", "and")
            n_districts = max(4, min(33, round(FORCE_WEIGHTS[force_id] * 4)))
            districts = tuple(f"{stem} District {k:02d}" for k in range(1, n_districts + 1))
        # a grid of centres inside England and Wales (synthetic placement)
        col, row = position % 7, position // 7
        plans.append(
            ForcePlan(
                force_id=force_id,
                force_name=FORCES[force_id],
                rows_per_month=n_rows,
                districts=districts,
                lsoa_base=lsoa_base,
                country_prefix="W01" if force_id in WELSH_FORCES else "E01",
                centre_longitude=-3.9 + col * 0.75,
                centre_latitude=50.8 + row * 0.6,
            )
        )
        lsoa_base += len(districts) * LSOAS_PER_DISTRICT
    return plans


def _cumulative(mix: dict[str, float], buckets: int = 10000) -> list[str]:
    """A lookup list of `buckets` labels in proportion to `mix` (index by a uniform hash)."""
    total = sum(mix.values())
    labels: list[str] = []
    for label, share in mix.items():
        labels.extend([label] * round(share / total * buckets))
    labels = (labels + [next(iter(mix))] * buckets)[:buckets]
    return labels


_MONTH_SQL = """
with

plans as (
    select * from national_plans
),

row_numbers as (
    select plans.*, r.i as row_index
    from plans, range(plans.rows_per_month) as r(i)
),

hashed as (
    select
        *,
        hash(?, month_text, force_id, row_index, 1) as h_type,
        hash(?, month_text, force_id, row_index, 2) as h_lsoa,
        hash(?, month_text, force_id, row_index, 3) as h_outcome,
        hash(?, month_text, force_id, row_index, 4) as h_place
    from row_numbers
),

labelled as (
    select
        *,
        (?::varchar[])[1 + (h_type % 10000)::bigint] as crime_type,
        (h_lsoa % (len(districts) * ?))::bigint as lsoa_index
    from hashed
),

final as (
    select
        force_id,
        row_index,
        case when crime_type = 'Anti-social behaviour' then null
             else sha256(concat(?, '|', month_text, '|', force_id, '|', row_index)) end as "Crime ID",
        month_text as "Month",
        force_name as "Reported by",
        force_name as "Falls within",
        round(centre_longitude + ((lsoa_index * 7919) % 997) / 997.0 * 0.6 - 0.3
              + ((h_place % 1000) / 1000.0 - 0.5) * 0.01, 6) as "Longitude",
        round(centre_latitude + ((lsoa_index * 104729) % 991) / 991.0 * 0.4 - 0.2
              + (((h_place // 1000) % 1000) / 1000.0 - 0.5) * 0.01, 6) as "Latitude",
        'On or near ' || (?::varchar[])[1 + ((h_place // 1000000) % ?)::bigint] as "Location",
        country_prefix || lpad((lsoa_base + lsoa_index)::varchar, 6, '0') as "LSOA code",
        districts[1 + (lsoa_index % len(districts))::bigint] || ' '
            || lpad((1 + (lsoa_index // len(districts)) // 4)::varchar, 3, '0')
            || chr((65 + (lsoa_index // len(districts)) % 4)::integer) as "LSOA name",
        crime_type as "Crime type",
        case when crime_type = 'Anti-social behaviour' then null
             else (?::varchar[])[1 + (h_outcome % 10000)::bigint] end as "Last outcome category",
        null::varchar as "Context"
    from labelled
)

select * from final
"""


def write_month(
    con: duckdb.DuckDBPyConnection, dest: Path, month: date, seed: int, plans: list[ForcePlan]
) -> int:
    """Generate and write one month folder (one street CSV per force). Returns rows written."""
    month_text = f"{month:%Y-%m}"
    con.execute("DROP TABLE IF EXISTS national_plans")
    con.execute(
        """CREATE TEMP TABLE national_plans (force_id VARCHAR, force_name VARCHAR, rows_per_month BIGINT,
           districts VARCHAR[], lsoa_base BIGINT, country_prefix VARCHAR, centre_longitude DOUBLE,
           centre_latitude DOUBLE, month_text VARCHAR)"""
    )
    con.executemany(
        "INSERT INTO national_plans VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (p.force_id, p.force_name, p.rows_per_month, list(p.districts), p.lsoa_base, p.country_prefix,
             p.centre_longitude, p.centre_latitude, month_text)
            for p in plans
        ],
    )
    con.execute("DROP TABLE IF EXISTS national_month")
    con.execute(
        f"CREATE TEMP TABLE national_month AS {_MONTH_SQL}",
        [seed, seed, seed, seed, _cumulative(CRIME_TYPE_MIX), LSOAS_PER_DISTRICT, str(seed),
         STREETS, len(STREETS), _cumulative(OUTCOME_MIX)],
    )
    folder = dest / month_text
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for plan in plans:
        target = folder / f"{month_text}-{plan.force_id}-street.csv"
        tmp = target.with_suffix(".csv.part")
        # force_id comes from the fixed FORCES whitelist; the path is ours (single quotes doubled)
        path_literal = str(tmp).replace("'", "''")
        con.execute(
            f"""COPY (SELECT {STREET_COLUMNS} FROM national_month
                      WHERE force_id = '{plan.force_id}' ORDER BY row_index)
                TO '{path_literal}' (FORMAT csv, HEADER true, DELIMITER ',')"""
        )
        tmp.replace(target)
        written += plan.rows_per_month
    con.execute("DROP TABLE national_month")
    return written


def generate_national(
    dest: str | Path,
    *,
    forces: int = 43,
    months: int = 36,
    rows_per_month: int = 600_000,
    start: date = date(2021, 1, 1),
    seed: int = 1,
    threads: int | None = None,
    progress: bool = False,
) -> dict:
    """Write the synthetic national archive under `dest`. Returns a summary dict
    (files, rows, bytes, seconds, months as YYYY-MM strings)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    plans = plan_forces(forces, rows_per_month)
    config = {"memory_limit": "2GB", "preserve_insertion_order": True}
    if threads:
        config["threads"] = threads
    con = duckdb.connect(config=config)
    began = time.perf_counter()
    rows = 0
    month_list = _month_list(start, months)
    try:
        for k, month in enumerate(month_list, start=1):
            rows += write_month(con, dest, month, seed, plans)
            if progress:
                print(f"  {month:%Y-%m}: {rows:,} rows so far ({time.perf_counter() - began:.1f} s)", flush=True)
    finally:
        con.close()
    files = sorted(dest.glob("*/*-street.csv"))
    return {
        "dest": str(dest),
        "forces": len(plans),
        "months": [f"{m:%Y-%m}" for m in month_list],
        "files": len(files),
        "rows": rows,
        "bytes": sum(f.stat().st_size for f in files),
        "seconds": time.perf_counter() - began,
    }


def _cmd_national(args: argparse.Namespace) -> int:
    start = date(int(args.start[:4]), int(args.start[5:7]), 1)
    dest = Path(args.dest)
    if args.clean and dest.exists():
        shutil.rmtree(dest)
    summary = generate_national(
        dest, forces=args.forces, months=args.months, rows_per_month=args.rows_per_month,
        start=start, seed=args.seed, progress=True,
    )
    print(
        f"Wrote {summary['files']:,} street files ({summary['rows']:,} rows, {summary['bytes'] / 1e9:.2f} GB) "
        f"for {summary['forces']} forces x {len(summary['months'])} months into {dest} "
        f"in {summary['seconds']:.1f} s. SYNTHETIC data for benchmarks; load it with "
        f"`python -m etl load {dest} --db ...`."
    )
    return 0


def register(subparsers) -> None:
    """Add the `national` sub-command to `python -m etl`."""
    cmd = subparsers.add_parser(
        "national", help="write a synthetic national-scale data.police.uk street archive (benchmarks)"
    )
    cmd.add_argument("--dest", required=True, help="folder to write YYYY-MM/ month folders into")
    cmd.add_argument("--forces", type=int, default=43, help="number of forces (1-43; Essex first)")
    cmd.add_argument("--months", type=int, default=36, help="number of months")
    cmd.add_argument("--rows-per-month", type=int, default=600_000, help="street rows per month, all forces together")
    cmd.add_argument("--start", default="2021-01", help="first month YYYY-MM")
    cmd.add_argument("--seed", type=int, default=1)
    cmd.add_argument("--clean", action="store_true", help="remove DEST first")
    cmd.set_defaults(handler=_cmd_national)

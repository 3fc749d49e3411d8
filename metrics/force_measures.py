"""Force measures (101/999 answer times, officer and special constable numbers, speeding detections, ...)
per priority, from the `measures` table and the editable mapping `metrics/measure_priorities.toml`.

Frames:
- `measures_for_priority(con, priority_id, force_id=None)`: measure, period_start, period_end, value,
  unit, target, meets_target (None without a target; "meets" means value >= target, or <= target for
  measures whose unit is a time — seconds, minutes, hours — where lower is better), force_id; every
  period of every measure mapped to the priority, oldest first.
- `latest_measures(con, priority_id=None, force_id=None)`: one row per (force, measure): the latest period's
  value and target, the previous period's value and the change, and the measure's priority (None when the
  measure is not in the mapping).
Values are as the force supplied them, in their `unit`; periods are inclusive dates.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd

from metrics.registry import PLAN_PRIORITY_IDS

MAPPING_PATH = Path(__file__).resolve().parent / "measure_priorities.toml"
PRIORITY_IDS = PLAN_PRIORITY_IDS  # the plan's priorities (metrics.registry)
LOWER_IS_BETTER_UNITS = ("seconds", "second", "secs", "s", "minutes", "minute", "mins", "hours", "hour")


def measure_priorities(path: str | Path | None = None) -> dict[str, str]:
    """measure name -> priority id, from the TOML mapping. Raises ValueError for an unknown priority id."""
    with open(Path(path) if path else MAPPING_PATH, "rb") as handle:
        document = tomllib.load(handle)
    mapping = document.get("measures", {})
    unknown = {m: p for m, p in mapping.items() if p not in PRIORITY_IDS}
    if unknown:
        raise ValueError(f"measure_priorities: unknown priority id(s) {unknown}; use one of {', '.join(PRIORITY_IDS)}")
    return dict(mapping)


# the import CTEs: the mapping as a SQL relation built from two bound lists (measure names, priority ids),
# and the measures of one force (or all: NULL bound twice)
_MAPPING_CTE = """
            measure_priority_map as (
                select unnest(?::varchar[]) as measure, unnest(?::varchar[]) as priority_id
            ),

            measure_rows as (
                select * from measures where (?::varchar is null or force_id = ?)
            ),
"""


def measures_for_priority(con, priority_id: str, force_id: str | None = None, mapping_path: str | Path | None = None) -> pd.DataFrame:
    """Every period of every force measure mapped to `priority_id` (see module docstring for columns)."""
    if priority_id not in PRIORITY_IDS:
        raise ValueError(f"unknown priority id {priority_id!r}")
    mapping = measure_priorities(mapping_path)
    return con.execute(
        f"""
        with
        {_MAPPING_CTE}

        mapped as (
            select measure_rows.*
            from measure_rows
            inner join measure_priority_map using (measure)
            where measure_priority_map.priority_id = ?
        ),

        final as (
            select
                measure, period_start, period_end, value, unit, target,
                case
                    when target is null then null
                    when list_contains(?, lower(trim(unit))) then value <= target
                    else value >= target
                end as meets_target,
                force_id
            from mapped
        )

        select * from final order by measure, force_id, period_start, period_end
        """,
        [list(mapping), list(mapping.values()), force_id, force_id, priority_id, list(LOWER_IS_BETTER_UNITS)],
    ).df()


def latest_measures(con, priority_id: str | None = None, force_id: str | None = None,
                    mapping_path: str | Path | None = None) -> pd.DataFrame:
    """The latest period of each (force, measure), with the previous period's value and the change."""
    mapping = measure_priorities(mapping_path)
    return con.execute(
        f"""
        with
        {_MAPPING_CTE}

        ranked as (
            select
                *,
                row_number() over (partition by force_id, measure order by period_end desc, period_start desc) as recency,
                lead(value) over (partition by force_id, measure order by period_end desc, period_start desc) as previous_value
            from measure_rows
        ),

        latest as (
            select ranked.*, measure_priority_map.priority_id
            from ranked
            left join measure_priority_map using (measure)
            where recency = 1
        ),

        final as (
            select
                priority_id, measure, force_id, period_start, period_end, value, unit, target,
                case
                    when target is null then null
                    when list_contains(?, lower(trim(unit))) then value <= target
                    else value >= target
                end as meets_target,
                previous_value,
                value - previous_value as change
            from latest
            where (?::varchar is null or priority_id = ?)
        )

        select * from final order by priority_id nulls last, measure, force_id
        """,
        [list(mapping), list(mapping.values()), force_id, force_id, list(LOWER_IS_BETTER_UNITS), priority_id, priority_id],
    ).df()

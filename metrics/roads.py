"""Road safety (DfT STATS19): collisions and casualties by severity, killed or seriously injured (KSI =
fatal + serious), by road-user type, speed limit, hour and day of week, weekly or monthly, and the
12 months to date against the previous 12.

Periods are inclusive month ranges (`start`, `end` first-of-month dates; None = everything loaded).
Filters: `force_id`; `districts` keep collisions whose LSOA lies in those districts (needs the ONS LSOA
lookup loaded; the STATS19 local authority is an ONS code, not a district name); `categories` are not
used. Casualties take their date and place from their collision.

Frames:
- `severity_counts`: severity (Fatal, Serious, Slight), collisions, casualties.
- `ksi_series`: period_start (month or Monday), fatal, serious, slight, ksi_casualties, casualties,
  ksi_collisions, collisions — every period in the range, empty ones 0.
- `casualties_by_road_user`: road_user_type (Pedestrian, Pedal cyclist, Motorcyclist, Car occupant, Other),
  fatal, serious, slight, ksi_casualties, casualties.
- `collisions_by_speed_limit`: speed_limit (mph; None = not recorded), collisions, ksi_collisions, casualties.
- `collisions_by_hour_day`: day_of_week, day_number (1 = Monday), hour (0-23), collisions, ksi_collisions.
- `road_period_change`: measure, previous_12_months, current_12_months, change, pct_change, rate_ratio,
  ci_lower, ci_upper (95% interval on the rate ratio per day: exact Poisson for collisions, quasi-Poisson for
  casualties, whose counts are clustered by collision), p_value, q_value, significant,
  months_with_data_previous, months_with_data_current, dispersion, days_previous, days_current.

KSI_SEVERITY_CAVEAT: the change in severity reporting (CRASH) to show beside every KSI trend.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from metrics.filters import Filters, add_months

ROAD_USER_TYPES = ("Pedestrian", "Pedal cyclist", "Motorcyclist", "Car occupant", "Other")
SEVERITIES = ("Fatal", "Serious", "Slight")
PERIODS = {"month": "month", "week": "week_start"}


def _collision_filter(filters: Filters, start: date | None, end: date | None) -> tuple[str, list]:
    """SQL condition on `collisions` (alias-free) and its parameters."""
    clauses = ["true"]
    params: list = []
    if filters.force_id:
        clauses.append("force_id = ?")
        params.append(filters.force_id)
    if filters.districts:
        clauses.append("lsoa_code in (select lsoa_code from lsoa where list_contains(?, district))")
        params.append(list(filters.districts))
    if start is not None:
        clauses.append("month >= ?")
        params.append(start)
    if end is not None:
        clauses.append("month <= ?")
        params.append(end)
    return " and ".join(clauses), params


def severity_counts(con, filters: Filters, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """Collisions (by collision severity) and casualties (by casualty severity) for Fatal, Serious, Slight."""
    where, params = _collision_filter(filters, start, end)
    return con.execute(
        f"""
        with

        chosen_collisions as (
            select collision_index, severity from collisions where {where}
        ),

        chosen_casualties as (
            select casualties.severity
            from casualties
            inner join chosen_collisions using (collision_index)
        ),

        severities as (
            select * from (values ('Fatal', 1), ('Serious', 2), ('Slight', 3)) as s(severity, severity_order)
        ),

        final as (
            select
                severities.severity,
                (select count(*) from chosen_collisions c where c.severity = severities.severity) as collisions,
                (select count(*) from chosen_casualties k where k.severity = severities.severity) as casualties,
                severity_order
            from severities
        )

        select severity, collisions, casualties from final order by severity_order
        """,
        params,
    ).df()


def ksi_series(con, filters: Filters, start: date | None = None, end: date | None = None, period: str = "month") -> pd.DataFrame:
    """Casualties and collisions by severity per month or per Monday-start week (empty periods 0)."""
    if period not in PERIODS:
        raise ValueError(f"period must be 'month' or 'week', not {period!r}")
    column = PERIODS[period]
    step = "interval 1 month" if period == "month" else "interval 7 day"
    where, params = _collision_filter(filters, start, end)
    return con.execute(
        f"""
        with

        chosen_collisions as (
            select collision_index, severity, {column} as period_start from collisions where {where}
        ),

        casualty_counts as (
            select
                chosen_collisions.period_start,
                count(*) filter (where casualties.severity = 'Fatal')                  as fatal,
                count(*) filter (where casualties.severity = 'Serious')                as serious,
                count(*) filter (where casualties.severity = 'Slight')                 as slight,
                count(*) filter (where casualties.severity in ('Fatal', 'Serious'))    as ksi_casualties,
                count(*)                                                               as casualties
            from casualties
            inner join chosen_collisions using (collision_index)
            group by 1
        ),

        collision_counts as (
            select
                period_start,
                count(*) filter (where severity in ('Fatal', 'Serious')) as ksi_collisions,
                count(*)                                                 as collisions
            from chosen_collisions
            group by 1
        ),

        periods as (
            select cast(unnest(generate_series(min(period_start), max(period_start), {step})) as date) as period_start
            from chosen_collisions
        ),

        final as (
            select
                periods.period_start,
                coalesce(fatal, 0)          as fatal,
                coalesce(serious, 0)        as serious,
                coalesce(slight, 0)         as slight,
                coalesce(ksi_casualties, 0) as ksi_casualties,
                coalesce(casualties, 0)     as casualties,
                coalesce(ksi_collisions, 0) as ksi_collisions,
                coalesce(collisions, 0)     as collisions
            from periods
            left join casualty_counts using (period_start)
            left join collision_counts using (period_start)
        )

        select * from final order by period_start
        """,
        params,
    ).df()


def casualties_by_road_user(con, filters: Filters, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """Casualties by road-user type and severity (every type listed, 0 where none)."""
    where, params = _collision_filter(filters, start, end)
    return con.execute(
        f"""
        with

        chosen_collisions as (
            select collision_index from collisions where {where}
        ),

        chosen_casualties as (
            select casualties.road_user_type, casualties.severity
            from casualties
            inner join chosen_collisions using (collision_index)
        ),

        road_users as (
            select * from (values ('Pedestrian', 1), ('Pedal cyclist', 2), ('Motorcyclist', 3), ('Car occupant', 4),
                                  ('Other', 5)) as r(road_user_type, user_order)
        ),

        counted as (
            select
                road_user_type,
                count(*) filter (where severity = 'Fatal')               as fatal,
                count(*) filter (where severity = 'Serious')             as serious,
                count(*) filter (where severity = 'Slight')              as slight,
                count(*) filter (where severity in ('Fatal', 'Serious')) as ksi_casualties,
                count(*)                                                 as casualties
            from chosen_casualties
            group by 1
        ),

        final as (
            select
                road_users.road_user_type,
                coalesce(fatal, 0) as fatal, coalesce(serious, 0) as serious, coalesce(slight, 0) as slight,
                coalesce(ksi_casualties, 0) as ksi_casualties, coalesce(casualties, 0) as casualties,
                user_order
            from road_users
            left join counted using (road_user_type)
        )

        select * exclude (user_order) from final order by user_order
        """,
        params,
    ).df()


def collisions_by_speed_limit(con, filters: Filters, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """Collisions, KSI collisions and casualties per speed limit (mph)."""
    where, params = _collision_filter(filters, start, end)
    return con.execute(
        f"""
        with

        chosen_collisions as (
            select collision_index, speed_limit, severity from collisions where {where}
        ),

        casualty_counts as (
            select collision_index, count(*) as casualties
            from casualties
            where collision_index in (select collision_index from chosen_collisions)
            group by 1
        ),

        final as (
            select
                speed_limit,
                count(*)                                                   as collisions,
                count(*) filter (where severity in ('Fatal', 'Serious'))   as ksi_collisions,
                coalesce(sum(casualty_counts.casualties), 0)::bigint       as casualties
            from chosen_collisions
            left join casualty_counts using (collision_index)
            group by speed_limit
        )

        select * from final order by speed_limit nulls last
        """,
        params,
    ).df()


def collisions_by_hour_day(con, filters: Filters, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """Collisions per day of week × hour of day (only combinations with collisions; hour unknown omitted)."""
    where, params = _collision_filter(filters, start, end)
    return con.execute(
        f"""
        with

        chosen_collisions as (
            select collision_date, hour, severity from collisions where {where} and hour is not null
        ),

        final as (
            select
                dayname(collision_date)                                   as day_of_week,
                isodow(collision_date)                                    as day_number,
                hour,
                count(*)                                                  as collisions,
                count(*) filter (where severity in ('Fatal', 'Serious'))  as ksi_collisions
            from chosen_collisions
            group by all
        )

        select * from final order by day_number, hour
        """,
        params,
    ).df()


KSI_SEVERITY_CAVEAT = (
    "Severity reporting changed: since 2016 many forces record injuries in CRASH (or another injury-based "
    "system), which classifies severity from the injuries the officer records rather than the officer's own "
    "judgement, and records more casualties as seriously injured than the older systems did. A rise in KSI "
    "across a force's switch can be a recording change, not more danger on the roads; the DfT publishes "
    "severity-adjusted KSI series (Reported road casualties Great Britain) for trends across the change."
)
CLUSTERING_NOTE = (
    "Casualty intervals allow for clustering: casualties come in collisions, so their counts vary more than a "
    "Poisson count (quasi-Poisson, dispersion = E[c²]/E[c] for c casualties per collision)."
)
ROAD_MEASURES = ["Collisions", "KSI collisions", "Casualties", "KSI casualties", "Fatal casualties"] + [
    f"KSI casualties: {user}" for user in ROAD_USER_TYPES
]


def _road_counts(con, force_id: str | None, previous_start: date, current_start: date, end_month: date) -> pd.DataFrame:
    """[measure, period ('previous' | 'current'), n, sum_squares]: each measure's count per period and the sum
    over collisions of (that measure's casualties in the collision)² — the dispersion's numerator."""
    where, params = _collision_filter(Filters(force_id=force_id), previous_start, end_month)
    return con.execute(
        f"""
        with

        chosen_collisions as (
            select collision_index, severity,
                   case when month >= ? then 'current' else 'previous' end as period
            from collisions where {where}
        ),

        chosen_casualties as (
            select chosen_collisions.period, chosen_collisions.collision_index, casualties.severity,
                   casualties.road_user_type
            from casualties
            inner join chosen_collisions using (collision_index)
        ),

        measure_rows as (
            select 'Collisions' as measure, period, collision_index from chosen_collisions
            union all
            select 'KSI collisions', period, collision_index from chosen_collisions
            where severity in ('Fatal', 'Serious')
            union all
            select 'Casualties', period, collision_index from chosen_casualties
            union all
            select 'KSI casualties', period, collision_index from chosen_casualties
            where severity in ('Fatal', 'Serious')
            union all
            select 'Fatal casualties', period, collision_index from chosen_casualties where severity = 'Fatal'
            union all
            select 'KSI casualties: ' || road_user_type, period, collision_index from chosen_casualties
            where severity in ('Fatal', 'Serious')
        ),

        per_collision as (
            select measure, period, collision_index, count(*) as in_collision from measure_rows group by all
        ),

        final as (
            select measure, period, sum(in_collision) as n, sum(in_collision * in_collision) as sum_squares
            from per_collision
            group by all
        )

        select * from final
        """,
        [current_start, *params],
    ).df()


def casualties_per_collision_dispersion(con, filters: Filters, start: date | None = None,
                                        end: date | None = None) -> float:
    """E[c²]/E[c] for c = casualties per collision (the collision file's number_of_casualties): how much more a
    casualty count varies than a Poisson count (1.0 when every collision has one casualty; NaN without data).
    Poisson intervals on casualty counts are √ of this too narrow."""
    where, params = _collision_filter(filters, start, end)
    total, squares = con.execute(
        f"""
        with
        chosen_collisions as (
            select number_of_casualties from collisions where {where} and number_of_casualties > 0
        ),
        final as (
            select sum(number_of_casualties) as casualties,
                   sum(number_of_casualties * number_of_casualties) as sum_squares
            from chosen_collisions
        )
        select * from final
        """,
        params,
    ).fetchall()[0]
    return float(squares) / float(total) if total else float("nan")


def casualty_dispersion(n: float, sum_squares: float) -> float:
    """Variance-to-mean ratio of a count made of clusters: E[c²]/E[c] = Σc² / Σc over collisions (c = the
    measure's casualties in each collision with any); 1 for collisions themselves or without data."""
    return max(1.0, float(sum_squares) / float(n)) if n else 1.0


def road_period_change(con, force_id: str | None, end_month: date, alpha: float = 0.05) -> pd.DataFrame:
    """The 12 months to `end_month` (inclusive) against the 12 months before: collisions, KSI collisions,
    casualties, KSI casualties, fatal casualties and KSI casualties per road-user type, with the rate ratio
    (per day) and its (1 - alpha) interval: exact Poisson for collisions, quasi-Poisson for casualties (the
    dispersion E[c²]/E[c] of casualties per collision, both periods pooled; `dispersion` column).
    `months_with_data_*` count months holding any collision (12 when the period is fully loaded)."""
    from metrics.compare import benjamini_hochberg, days_in_period, poisson_rate_ratio

    current_start = add_months(end_month, -11)
    previous_start = add_months(end_month, -23)
    previous_end = add_months(end_month, -12)
    counts = _road_counts(con, force_id, previous_start, current_start, end_month)
    where, params = _collision_filter(Filters(force_id=force_id), previous_start, end_month)
    coverage = con.execute(
        f"""
        select count(distinct month) filter (where month < ?), count(distinct month) filter (where month >= ?)
        from collisions where {where}
        """,
        [current_start, current_start, *params],
    ).fetchall()[0]
    days_previous, days_current = days_in_period(previous_start, previous_end), days_in_period(current_start, end_month)
    lookup = {(m, p): (int(n), int(sq)) for m, p, n, sq in zip(counts["measure"], counts["period"], counts["n"],
                                                               counts["sum_squares"])} if len(counts) else {}
    rows = []
    for measure in ROAD_MEASURES:
        previous, previous_sq = lookup.get((measure, "previous"), (0, 0))
        current, current_sq = lookup.get((measure, "current"), (0, 0))
        dispersion = casualty_dispersion(previous + current, previous_sq + current_sq)
        ratio = poisson_rate_ratio(current, days_current, previous, days_previous, alpha, dispersion)
        rows.append({
            "measure": measure, "previous_12_months": previous, "current_12_months": current,
            "change": current - previous,
            "pct_change": 100.0 * (ratio.rate_ratio - 1) if previous else float("nan"),
            "rate_ratio": ratio.rate_ratio, "ci_lower": ratio.ci_lower, "ci_upper": ratio.ci_upper,
            "p_value": ratio.p_value, "months_with_data_previous": int(coverage[0]),
            "months_with_data_current": int(coverage[1]), "dispersion": dispersion,
            "days_previous": days_previous, "days_current": days_current,
        })
    frame = pd.DataFrame(rows)
    # Benjamini–Hochberg across every row of this comparison (the rows overlap: KSI is part of casualties)
    frame["q_value"] = benjamini_hochberg(frame["p_value"].to_numpy(dtype="float64")) if len(frame) else []
    frame["significant"] = frame["q_value"] < alpha
    frame.attrs["current_period"] = (current_start, end_month)
    frame.attrs["previous_period"] = (previous_start, previous_end)
    frame.attrs["note"] = CLUSTERING_NOTE
    frame.attrs["ksi_caveat"] = KSI_SEVERITY_CAVEAT
    return frame

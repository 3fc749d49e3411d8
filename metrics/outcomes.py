"""Outcomes of crimes: the share of crimes in a period with each outcome group.

A crime's outcome is its latest row in the `outcomes` table (by month; crime_id match) when there is one,
else the street file's `last_outcome_category`. Outcome strings are mapped to groups by OUTCOME_GROUPS:
'charged/summonsed', 'out-of-court', 'no suspect identified', 'unable to prosecute', 'under investigation',
'other' (status unavailable, transferred, unknown strings) and 'not applicable' (ASB: no outcomes).
ASB rows are left out unless include_asb=True. Crimes are counted by month of the crime (start..end
inclusive), whatever month their outcome came.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import duckdb
import pandas as pd

from metrics.filters import Filters
from metrics.series import _by_columns, family_spec, range_clause

CHARGED = "charged/summonsed"
OUT_OF_COURT = "out-of-court"
NO_SUSPECT = "no suspect identified"
UNABLE = "unable to prosecute"
UNDER_INVESTIGATION = "under investigation"
OTHER = "other"
NOT_APPLICABLE = "not applicable"
GROUP_ORDER = [CHARGED, OUT_OF_COURT, NO_SUSPECT, UNABLE, UNDER_INVESTIGATION, OTHER, NOT_APPLICABLE]

# every outcome string data.police.uk uses (street `Last outcome category` and outcomes `Outcome type`)
OUTCOME_GROUPS: dict[str, str] = {
    # charged or summonsed, and every court result (a court result implies a charge or summons)
    "Suspect charged": CHARGED,
    "Offender charged": CHARGED,
    "Suspect charged as part of another case": CHARGED,
    "Suspect summonsed to court": CHARGED,
    "Awaiting court outcome": CHARGED,
    "Court result unavailable": CHARGED,
    "Defendant sent to Crown Court": CHARGED,
    "Defendant found not guilty": CHARGED,
    "Court case unable to proceed": CHARGED,
    "Offender sent to prison": CHARGED,
    "Offender given suspended prison sentence": CHARGED,
    "Offender given community sentence": CHARGED,
    "Offender fined": CHARGED,
    "Offender given conditional discharge": CHARGED,
    "Offender given absolute discharge": CHARGED,
    "Offender ordered to pay compensation": CHARGED,
    "Offender otherwise dealt with": CHARGED,
    "Offender deprived of property": CHARGED,
    "Offender given a drugs possession warning": OUT_OF_COURT,
    # out-of-court disposals
    "Offender given a caution": OUT_OF_COURT,
    "Offender given penalty notice": OUT_OF_COURT,
    "Offender given a penalty notice": OUT_OF_COURT,
    "Local resolution": OUT_OF_COURT,
    "Community resolution": OUT_OF_COURT,
    "Offender given a cannabis/khat warning": OUT_OF_COURT,
    "Suspect given a caution": OUT_OF_COURT,
    # no suspect
    "Investigation complete; no suspect identified": NO_SUSPECT,
    # unable to prosecute / not in the public interest
    "Unable to prosecute suspect": UNABLE,
    "Formal action is not in the public interest": UNABLE,
    "Further action is not in the public interest": UNABLE,
    "Further investigation is not in the public interest": UNABLE,
    # open
    "Under investigation": UNDER_INVESTIGATION,
    # other
    "Action to be taken by another organisation": OTHER,
    "Status update unavailable": OTHER,
}

ASB = "Anti-social behaviour"


def outcome_group(outcome: str | None, crime_type: str | None = None) -> str:
    """The group of one outcome string (Python twin of the SQL mapping; used by tests and pages)."""
    if crime_type == ASB:
        return NOT_APPLICABLE
    if outcome is None:
        return OTHER
    return OUTCOME_GROUPS.get(outcome.strip(), OTHER)


def _latest_outcomes_sql(by_select: str, where: str, in_range: str, include_asb: bool) -> str:
    asb_filter = "true" if include_asb else f"crimes.crime_type is distinct from '{ASB}'"
    return f"""
        with
        mapping as (
            select unnest(?) as outcome, unnest(?) as outcome_group
        ),
        latest_outcomes as (
            select crime_id, arg_max(outcome_type, month) as outcome_type
            from outcomes
            where crime_id is not null
            group by crime_id
        ),
        period_crimes as (
            select crimes.*
            from crimes
            where {where} and {in_range} and {asb_filter}
        ),
        with_outcome as (
            select
                period_crimes.*,
                coalesce(latest_outcomes.outcome_type, period_crimes.last_outcome_category) as final_outcome
            from period_crimes
            left join latest_outcomes
                on period_crimes.crime_id is not null and latest_outcomes.crime_id = period_crimes.crime_id
        ),
        grouped as (
            select
                {by_select}
                case
                    when with_outcome.crime_type = '{ASB}' then '{NOT_APPLICABLE}'
                    else coalesce(mapping.outcome_group, '{OTHER}')
                end as outcome_group
            from with_outcome
            left join mapping on mapping.outcome = trim(with_outcome.final_outcome)
        )
    """


def outcome_shares(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    filters: Filters | None = None,
    by: Sequence[str] | None = None,
    *,
    include_asb: bool = False,
) -> pd.DataFrame:
    """[*by, outcome_group, crimes, share] for crimes whose month is in start..end; share is within each
    `by` group (0..1). Every group of GROUP_ORDER that occurs is listed; order follows GROUP_ORDER."""
    spec = family_spec("crimes")
    pairs = _by_columns(spec, list(by or []))
    where, params = spec.where(filters)
    where = where.replace("force_id", "crimes.force_id")
    in_range, range_params = range_clause(spec, start, end)
    in_range = in_range.replace("month", "crimes.month")
    by_select = "".join(f"with_outcome.{column} as {name}, " for name, column in pairs)
    names = [name for name, _ in pairs]
    partition = f"partition by {', '.join(names)}" if names else ""
    sql = _latest_outcomes_sql(by_select, where, in_range, include_asb) + f"""
        ,
        counted as (
            select {''.join(n + ', ' for n in names)}outcome_group, count(*) as crimes
            from grouped
            group by all
        ),
        final as (
            select *, crimes / sum(crimes) over ({partition}) as share from counted
        )
        select * from final
    """
    mapping_keys = list(OUTCOME_GROUPS)
    frame = con.execute(sql, [mapping_keys, [OUTCOME_GROUPS[k] for k in mapping_keys], *params, *range_params]).df()
    frame["crimes"] = frame["crimes"].astype("int64")
    frame["share"] = frame["share"].astype("float64")
    order = {group: i for i, group in enumerate(GROUP_ORDER)}
    frame["_order"] = frame["outcome_group"].map(order)
    frame = frame.sort_values([*names, "_order"]).drop(columns="_order").reset_index(drop=True)
    return frame[[*names, "outcome_group", "crimes", "share"]]


def positive_outcome_rate(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    filters: Filters | None = None,
    by: Sequence[str] | None = None,
) -> pd.DataFrame:
    """[*by, crimes, charged_summonsed, positive_outcome_rate]: the share of crimes (ASB excluded) in
    start..end whose outcome is a charge or summons (including every court result)."""
    shares = outcome_shares(con, start, end, filters, by)
    names = list(by or [])
    if shares.empty:
        return pd.DataFrame({**{n: [] for n in names}, "crimes": [], "charged_summonsed": [], "positive_outcome_rate": []})
    shares["charged"] = shares["crimes"].where(shares["outcome_group"] == CHARGED, 0)
    if names:
        totals = shares.groupby(names, dropna=False).agg(crimes=("crimes", "sum"), charged_summonsed=("charged", "sum")).reset_index()
    else:
        totals = pd.DataFrame({"crimes": [shares["crimes"].sum()], "charged_summonsed": [shares["charged"].sum()]})
    totals["positive_outcome_rate"] = totals["charged_summonsed"] / totals["crimes"]
    return totals

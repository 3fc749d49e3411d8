"""Fraud (Action Fraud / NFIB) reports and reported losses by type and month, and the COVID rise.

Frames:
- `fraud_monthly`: month, reports, reported_loss_gbp (all types summed per month; loss in GBP, months with
  no published loss count as 0 in the sum and `loss_months` says how many months carried a figure).
- `fraud_totals`: one row over an inclusive month range: reports, reported_loss_gbp, loss_months.
- `fraud_by_type`: fraud_type, reports, reported_loss_gbp, share_of_reports_pct over an inclusive month range.
- `covid_rise`: per type plus "All fraud": reports and losses in the 12 months March 2020 - February 2021
  ("during") against the 12 months March 2019 - February 2020 ("before"), with % changes.
Districts do not apply (fraud is published by force area).
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from metrics.filters import Filters

COVID_START = date(2020, 3, 1)
BEFORE_START = date(2019, 3, 1)
DURING_END = date(2021, 2, 1)


# the import CTE of every query here: the fraud rows of the filters (a WHERE clause from Filters, values
# bound) in the inclusive months ? .. ?
_FRAUD_ROWS_CTE = """
        fraud_rows as (
            select * from fraud where {where} and month between ? and ?
        ),
"""


def fraud_monthly(con, filters: Filters, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """Reports and reported loss (GBP) per month, all fraud types, optionally within start..end (months)."""
    where, params = filters.where(district_column=None)
    return con.execute(
        f"""
        with

        fraud_rows as (
            select * from fraud
            where {where}
              and (?::date is null or month >= ?::date)
              and (?::date is null or month <= ?::date)
        ),

        final as (
            select
                month,
                sum(reports)::bigint                        as reports,
                coalesce(sum(reported_loss_gbp), 0)::double as reported_loss_gbp,
                count(reported_loss_gbp)::bigint            as loss_months
            from fraud_rows
            group by month
        )

        select * from final order by month
        """,
        [*params, start, start, end, end],
    ).df()


def fraud_totals(con, filters: Filters, start: date, end: date) -> pd.DataFrame:
    """One row: reports and reported loss (GBP) summed over the inclusive months start..end, and how many
    monthly rows carried a loss figure (`loss_months`; 0 means no loss was published)."""
    monthly = fraud_monthly(con, filters, start, end)
    return pd.DataFrame([{
        "reports": int(monthly["reports"].sum()),
        "reported_loss_gbp": float(monthly["reported_loss_gbp"].sum()),
        "loss_months": int(monthly["loss_months"].sum()),
    }])


def fraud_by_type(con, filters: Filters, start: date, end: date) -> pd.DataFrame:
    """Reports and reported loss (GBP) per fraud type over the inclusive months start..end."""
    where, params = filters.where(district_column=None)
    return con.execute(
        f"""
        with

        {_FRAUD_ROWS_CTE.format(where=where)}

        by_type as (
            select
                fraud_type,
                sum(reports)::bigint                        as reports,
                coalesce(sum(reported_loss_gbp), 0)::double as reported_loss_gbp
            from fraud_rows
            group by fraud_type
        ),

        final as (
            select
                *,
                round(100.0 * reports / nullif(sum(reports) over (), 0), 1) as share_of_reports_pct
            from by_type
        )

        select * from final order by reports desc, fraud_type
        """,
        [*params, start, end],
    ).df()


def covid_rise(con, filters: Filters) -> pd.DataFrame:
    """Fraud in the first COVID year (March 2020 - February 2021) against the 12 months before
    (March 2019 - February 2020), per type and for "All fraud". Changes are % of the before figure
    (None where the before figure is 0). Only complete data should be compared: `months_before` and
    `months_during` say how many months of data each side holds (12 when complete)."""
    where, params = filters.where(district_column=None)
    return con.execute(
        f"""
        with

        {_FRAUD_ROWS_CTE.format(where=where)}

        labelled as (
            select *, case when month >= ? then 'during' else 'before' end as period
            from fraud_rows
        ),

        by_type as (
            select
                coalesce(fraud_type, 'All fraud')                                                 as fraud_type,
                sum(reports) filter (where period = 'before')::bigint                             as reports_before,
                sum(reports) filter (where period = 'during')::bigint                             as reports_during,
                coalesce(sum(reported_loss_gbp) filter (where period = 'before'), 0)::double      as loss_before_gbp,
                coalesce(sum(reported_loss_gbp) filter (where period = 'during'), 0)::double      as loss_during_gbp,
                count(distinct month) filter (where period = 'before')::integer                   as months_before,
                count(distinct month) filter (where period = 'during')::integer                   as months_during,
                grouping(fraud_type)                                                              as is_total
            from labelled
            group by grouping sets ((fraud_type), ())
        ),

        final as (
            select
                fraud_type, reports_before, reports_during,
                100.0 * (reports_during - reports_before) / nullif(reports_before, 0) as reports_change_pct,
                loss_before_gbp, loss_during_gbp,
                100.0 * (loss_during_gbp - loss_before_gbp) / nullif(loss_before_gbp, 0) as loss_change_pct,
                months_before, months_during, is_total
            from by_type
        )

        select * exclude (is_total) from final order by is_total desc, reports_during desc nulls last, fraud_type
        """,
        [*params, BEFORE_START, DURING_END, COVID_START],
    ).df()

"""The plan's statistics over its measures: comparison periods, the Overview scorecard, each measure's
monthly series and change, the COVID-19 impact series, the force ranking and flagged-incident outcomes.

The priorities and measures themselves (which family and categories make a measure, its unit, source,
caveats, proxy status, the file and `python -m etl load` command that supply it) are data in
`metrics.registry`, re-exported here (`plan.MEASURES`, `plan.measure(...)`).

`scorecard(con, filters, comparison)` -> one row per measure (see SCORECARD_COLUMNS): latest month's
value, change between the comparison periods with its exact Poisson 95% interval (metrics.compare),
Benjamini–Hochberg q-values across every tested row of the scorecard, the expected-vs-observed flag of
the latest month (metrics.expected, fitted on the months before the comparison's current period), a
sparkline series (last 24 months) and the as-at month of the source.

`resolve_comparison(con, preset, ...)` turns a comparison preset into two month ranges that the loaded
data can support, with a notice when it had to fall back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pandas as pd

from metrics.filters import Filters, add_months, month_start, months_between
from metrics.registry import (  # noqa: F401  (the registry, re-exported: plan.MEASURES, plan.measure, ...)
    ASB,
    DISTRICT_FAMILIES,
    MEASURE_BY_ID,
    MEASURES,
    POLICE_UK_CRIME_TYPES,
    PRIORITIES,
    PRIORITY_BY_ID,
    Measure,
    Priority,
    measure,
    measure_filters,
    measures_for,
    priority,
)

if TYPE_CHECKING:
    from metrics.expected import SeriesRequest


def measure_available(con: duckdb.DuckDBPyConnection, item: Measure, filters: Filters | None = None) -> bool:
    """Whether the warehouse holds any rows for the measure's family under the force filter."""
    from metrics.series import data_range

    base = filters or Filters()
    first, _ = data_range(con, item.family, Filters(force_id=base.force_id))
    return first is not None


# ---------------------------------------------------------------------------------------------
# comparison periods
# ---------------------------------------------------------------------------------------------
PRESETS: dict[str, str] = {
    "latest12": "12 months to latest vs previous 12",
    "covid": "Pre-COVID vs COVID year",
    "custom": "Custom periods",
}


@dataclass(frozen=True)
class Comparison:
    """Two inclusive month ranges: `pre` (the baseline) and `post` (the current period)."""

    preset: str
    pre: tuple[date, date]
    post: tuple[date, date]
    notice: str | None = None

    @property
    def label(self) -> str:
        return f"{period_label(self.post)} vs {period_label(self.pre)}"

    @property
    def seasonality_warning(self) -> str | None:
        """A warning when the two periods cover different calendar months (metrics.compare.seasonality_warning)."""
        from metrics.compare import seasonality_warning

        return seasonality_warning(self.pre, self.post)


def period_label(period: tuple[date, date]) -> str:
    """'Apr 2019–Mar 2020' (or 'Apr 2019' for one month)."""
    first, last = period
    if first == last:
        return f"{first:%b %Y}"
    return f"{first:%b %Y}–{last:%b %Y}"


def _equal_halves(first: date, last: date) -> tuple[tuple[date, date], tuple[date, date], int]:
    """The longest two adjacent equal periods ending at `last` within first..last."""
    available = months_between(first, last)
    n = max(available // 2, 1)
    post = (add_months(last, -(n - 1)), last)
    pre = (add_months(post[0], -n), add_months(post[0], -1))
    return pre, post, n


def _short_data_fallback(first: date, last: date, preset: str, fallback_note: str) -> Comparison:
    """When the preset's periods are not loaded: the latest months against the same months a year earlier
    (up to 12) whenever 13 or more months are loaded; otherwise the two longest adjacent equal periods, which
    cover different calendar months and so carry a seasonality warning in the notice."""
    available = months_between(first, last)
    if available >= 13:
        n = min(12, available - 12)
        post = (add_months(last, -(n - 1)), last)
        pre = (add_months(post[0], -12), add_months(post[1], -12))
        unit = "month" if n == 1 else f"{n} months"
        return Comparison(preset, pre, post,
                          notice=f"{fallback_note}: comparing the latest {unit} ({period_label(post)}) with the same "
                                 f"{unit} a year earlier ({period_label(pre)}) instead.")
    from metrics.compare import seasonality_warning

    pre, post, n = _equal_halves(first, last)
    unit = "month" if n == 1 else f"{n} months"
    return Comparison(preset, pre, post,
                      notice=f"{fallback_note}: comparing the latest {unit} ({period_label(post)}) with the "
                             f"{unit} before ({period_label(pre)}) instead. {seasonality_warning(pre, post) or ''}".strip())


def resolve_comparison(
    first: date | None,
    last: date | None,
    preset: str = "latest12",
    custom_pre: tuple[date, date] | None = None,
    custom_post: tuple[date, date] | None = None,
) -> Comparison | None:
    """The comparison `preset` within the loaded months first..last (None when nothing is loaded).

    latest12: the 12 months to `last` against the 12 before (metrics.calendar.latest_12_vs_previous_12).
    covid: March 2019–February 2020 against March 2020–February 2021 (metrics.calendar.pre_covid_vs_covid_year).
    custom: custom_pre and custom_post, clipped to what is loaded.
    When the data are too short it falls back, with a notice, to the latest months against the same months a
    year earlier when 13 or more months are loaded, else to the two longest equal periods ending at `last`
    (different calendar months: the notice and `Comparison.seasonality_warning` say so).
    """
    from metrics import calendar

    if first is None or last is None:
        return None
    first, last = month_start(first), month_start(last)
    if months_between(first, last) < 2:
        return Comparison(preset, (first, first), (last, last),
                          notice=f"Only one month ({last:%b %Y}) is loaded: there is nothing to compare it with.")
    if preset not in PRESETS:
        preset = "latest12"

    def covered(period: tuple[date, date]) -> bool:
        return first <= period[0] <= period[1] <= last

    if preset == "custom" and custom_pre and custom_post:
        pre = (month_start(custom_pre[0]), month_start(custom_pre[1]))
        post = (month_start(custom_post[0]), month_start(custom_post[1]))
        if pre[0] <= pre[1] and post[0] <= post[1] and covered(pre) and covered(post):
            return Comparison("custom", pre, post)  # its seasonality_warning says if the months differ
        fallback_note = (f"The custom periods ({period_label(post)} vs {period_label(pre)}) are not both within the "
                         f"loaded months {period_label((first, last))}")
    elif preset == "covid":
        pre, post = calendar.pre_covid_vs_covid_year()
        if covered(pre) and covered(post):
            return Comparison("covid", pre, post)
        fallback_note = (f"The pre-COVID vs COVID-year comparison needs {period_label(pre)} and {period_label(post)}, "
                         f"but the data loaded cover {period_label((first, last))}")
    else:
        pre, post = calendar.latest_12_vs_previous_12(last)
        if covered(pre):
            return Comparison("latest12", pre, post)
        fallback_note = (f"The 12-months-vs-previous-12 comparison needs 24 months from {pre[0]:%b %Y}, "
                         f"but the data loaded cover {period_label((first, last))}")
    return _short_data_fallback(first, last, preset, fallback_note)


# ---------------------------------------------------------------------------------------------
# scorecard
# ---------------------------------------------------------------------------------------------
SCORECARD_COLUMNS = [
    "priority_number", "priority_title", "measure_id", "label", "unit", "is_proxy", "available",
    "latest_month", "latest_value", "pre_count", "post_count", "pre_months", "post_months", "pct_change",
    "pre_days", "post_days",
    "rate_ratio", "ci_lower", "ci_upper", "p_value", "q_value", "significant", "expected_latest",
    "expected_lower", "expected_upper", "expected_flag", "expected_method", "sparkline", "as_at", "source",
    "caveats", "needs_file", "load_command", "note", "fit_from", "fit_until", "fit_excluded", "expected_note",
    "expected_basis",
]
SPARKLINE_MONTHS = 24


def measure_series(
    con: duckdb.DuckDBPyConnection,
    item: Measure,
    filters: Filters | None = None,
    start: date | None = None,
    end: date | None = None,
) -> pd.DataFrame:
    """[month, count]: the measure's monthly values (flag measures keep only flagged rows), months without
    rows as 0; empty when the family holds nothing for the force."""
    from metrics.series import monthly_series

    scoped = measure_filters(item, filters)
    if item.flag:
        frame = monthly_series(con, item.family, [item.flag], scoped, start, end)
        if frame.empty:
            return pd.DataFrame({"month": pd.Series(dtype="object"), "count": pd.Series(dtype="int64")})
        months = frame[["month"]].drop_duplicates()
        flagged = frame[frame[item.flag].fillna(False).astype(bool)][["month", "count"]]
        out = months.merge(flagged, on="month", how="left").fillna({"count": 0})
        out["count"] = out["count"].astype("int64")
        return out.sort_values("month").reset_index(drop=True)
    frame = monthly_series(con, item.family, None, scoped, start, end)
    return frame[["month", "count"]].reset_index(drop=True)


def measure_change(
    con: duckdb.DuckDBPyConnection,
    measure_id: str,
    filters: Filters | None,
    comparison: Comparison,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Whether a measure improved: one row with its counts in comparison.pre and comparison.post, the change
    in its rate per month, the exact Poisson 95% interval of the rate ratio and the p-value (a single
    comparison, so q_value = p_value) — the statistics the scorecard computes for the same measure. Empty
    (attrs["note"] says why) when the measure's source does not cover both periods. Columns: measure_id
    and metrics.compare's RESULT_COLUMNS."""
    from metrics.compare import period_change_from_counts
    from metrics.series import data_range

    item = measure(measure_id)
    first, last = data_range(con, item.family, Filters(force_id=(filters or Filters()).force_id))
    if first is None or not (first <= comparison.pre[0] and comparison.post[1] <= last):
        covered = "nothing" if first is None else period_label((first, last))
        empty = period_change_from_counts(pd.DataFrame(
            {"measure_id": [], "pre_count": [], "post_count": [], "pre_months": [], "post_months": []}))
        empty.attrs["note"] = f"{item.source} covers {covered}: not both periods of {comparison.label}."
        return empty
    series = measure_series(con, item, filters, comparison.pre[0], comparison.post[1])
    months = pd.to_datetime(series["month"]).dt.date
    row = {"measure_id": item.id}
    for name, (start, end) in (("pre", comparison.pre), ("post", comparison.post)):
        row[f"{name}_count"] = int(series.loc[(months >= start) & (months <= end), "count"].sum())
        row[f"{name}_months"] = months_between(start, end)
        row[f"{name}_days"] = (add_months(end, 1) - month_start(start)).days  # exposure in days, as the scorecard
    frame = period_change_from_counts(pd.DataFrame([row]), alpha)
    frame.attrs["note"] = (f"{item.label}: rate per month {comparison.label}; exact Poisson 95% interval; "
                           "a single comparison (q = p).")
    return frame


EXPECTED_COLUMNS = ["expected_latest", "expected_lower", "expected_upper", "expected_flag", "expected_method",
                    "fit_from", "fit_until", "fit_excluded", "expected_note", "expected_basis"]
EMPTY_EXPECTED = {"expected_latest": np.nan, "expected_lower": np.nan, "expected_upper": np.nan, "expected_flag": None,
                  "expected_method": None, "fit_from": None, "fit_until": None, "fit_excluded": "", "expected_note": "",
                  "expected_basis": ""}


def _latest_request(series: pd.DataFrame, comparison: Comparison, include_disrupted: bool = False
                    ) -> SeriesRequest | None:
    """The metrics.expected.SeriesRequest behind a measure's expected-vs-observed row of its last month: fitted
    on the months before the comparison's current period (None for an empty series)."""
    from metrics.expected import SeriesRequest

    if series.empty:
        return None
    fit_until = add_months(comparison.post[0], -1)
    values = pd.Series(series["count"].to_numpy(dtype="float64"), index=pd.to_datetime(series["month"]))
    until = month_start(pd.Timestamp(series["month"].max()).date())
    return SeriesRequest(values, fit_until, until=until, include_disrupted=include_disrupted)


def _latest_row(frame: pd.DataFrame) -> dict:
    """EXPECTED_COLUMNS (as a dict) of the last month of a metrics.expected frame."""
    row = {**EMPTY_EXPECTED, "fit_from": frame.attrs.get("fit_from"), "fit_until": frame.attrs.get("fit_until"),
           "fit_excluded": frame.attrs.get("fit_excluded") or "", "expected_note": frame.attrs.get("note") or "",
           "expected_basis": frame.attrs.get("basis") or "", "expected_method": frame.attrs.get("model")}
    last = frame.iloc[-1] if len(frame) else None
    if last is None or bool(last["in_fit"]) or pd.isna(last["expected"]):
        return row
    row.update(expected_latest=float(last["expected"]), expected_lower=float(last["lower"]),
               expected_upper=float(last["upper"]), expected_flag=last["flag"])
    return row


def _expected_for_latest(series: pd.DataFrame, comparison: Comparison, con: duckdb.DuckDBPyConnection | None = None,
                         include_disrupted: bool = False) -> dict:
    """The expected-vs-observed row of the last month (EXPECTED_COLUMNS as a dict): model fitted on the months
    before the comparison's current period, disrupted months left out (metrics.expected), read from the
    stored baselines when `con` is given. No model under 24 clean months: NaN values, flag None, the note
    saying why."""
    from metrics.baselines import expected_for_many
    from metrics.expected import expected_from_many

    request = _latest_request(series, comparison, include_disrupted)
    if request is None:
        return dict(EMPTY_EXPECTED)
    frames = expected_for_many(con, [request]) if con is not None else expected_from_many([request])
    return _latest_row(frames[0])


def measure_expected(
    con: duckdb.DuckDBPyConnection,
    measure_id: str,
    filters: Filters | None,
    comparison: Comparison,
    *,
    include_disrupted: bool = False,
) -> pd.DataFrame:
    """metrics.expected's frame for one measure under the filters, fitted on the months before the
    comparison's current period (disrupted months left out unless asked), from the stored baselines when
    they match: what the scorecard flag, the views' trend bands and the briefing pack show."""
    from metrics.baselines import expected_for
    from metrics.expected import expected_from_series
    from metrics.series import data_range

    item = measure(measure_id)
    first, last = data_range(con, item.family, Filters(force_id=(filters or Filters()).force_id))
    fit_until = add_months(comparison.post[0], -1)
    if first is None:
        return expected_from_series(pd.Series(dtype="float64"), fit_until)
    series = measure_series(con, item, filters, first, last)
    values = pd.Series(series["count"].to_numpy(dtype="float64"), index=pd.to_datetime(series["month"]))
    return expected_for(con, values, fit_until, until=last, include_disrupted=include_disrupted)


def expected_flags(
    con: duckdb.DuckDBPyConnection,
    measure_ids: tuple[str, ...],
    filters: Filters | None,
    comparison: Comparison,
    include_disrupted: bool = False,
) -> dict[str, dict]:
    """{measure_id: expected_flag(...)} for several measures: every series built first (SQL), then the models
    the stored baselines do not hold fitted together (in parallel in the fit workers), then each row as
    expected_flag gives it."""
    from metrics.baselines import expected_for_many
    from metrics.series import data_range

    requests = {}
    for measure_id in measure_ids:
        item = measure(measure_id)
        first, last = data_range(con, item.family, Filters(force_id=(filters or Filters()).force_id))
        series = measure_series(con, item, filters, first, last) if first is not None else pd.DataFrame()
        requests[measure_id] = _latest_request(series, comparison, include_disrupted)
    asked = [(measure_id, request) for measure_id, request in requests.items() if request is not None]
    frames = expected_for_many(con, [request for _, request in asked])
    rows = {measure_id: dict(EMPTY_EXPECTED) for measure_id in measure_ids}
    rows.update({measure_id: _latest_row(frame) for (measure_id, _), frame in zip(asked, frames)})
    return rows


def expected_flag(
    con: duckdb.DuckDBPyConnection,
    measure_id: str,
    filters: Filters | None,
    comparison: Comparison,
    include_disrupted: bool = False,
) -> dict:
    """The expected-vs-observed values of one measure's latest month (EXPECTED_COLUMNS as a dict), from a
    model fitted on the months before the comparison's current period (stored baseline when there is one).
    Separate from `scorecard` so a page can show the numbers first and the flags when they come."""
    return expected_flags(con, (measure_id,), filters, comparison, include_disrupted)[measure_id]


def add_expected(card: pd.DataFrame, flags: dict[str, dict]) -> pd.DataFrame:
    """The scorecard with the expected columns filled from {measure_id: expected_flag(...)}."""
    out = card.copy()
    for column in EXPECTED_COLUMNS:
        out[column] = [flags.get(m, {}).get(column) for m in out["measure_id"]]
    for column in ("expected_latest", "expected_lower", "expected_upper"):
        out[column] = out[column].astype("float64")
    for column in ("fit_excluded", "expected_note", "expected_basis"):
        out[column] = out[column].fillna("")
    return out


def _add_period_change(frame: pd.DataFrame, alpha: float) -> pd.Series:
    """Fill the scorecard's change columns (rate ratio per day, exact interval, p, BH q across every tested
    measure, significant) in place; returns the mask of tested rows."""
    from metrics.compare import benjamini_hochberg, period_change_from_counts

    tested = frame["pre_count"].notna() & frame["post_count"].notna()
    if tested.any():
        columns = ["measure_id", "pre_count", "post_count", "pre_months", "post_months", "pre_days", "post_days"]
        stats_frame = period_change_from_counts(
            frame.loc[tested, columns].astype({"pre_count": "int64", "post_count": "int64"}), alpha)
        stats_frame.index = frame.index[tested]
        for column in ("pct_change", "rate_ratio", "ci_lower", "ci_upper", "p_value"):
            frame[column] = frame[column].astype("float64")
            frame.loc[tested, column] = stats_frame[column].to_numpy()
    frame["q_value"] = benjamini_hochberg(frame["p_value"].astype("float64").to_numpy())
    frame["significant"] = frame["q_value"].astype("float64") < alpha
    return tested


def scorecard(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None,
    comparison: Comparison,
    alpha: float = 0.05,
    measures: tuple[Measure, ...] | None = None,
    with_expected: bool = True,
    include_disrupted: bool = False,
) -> pd.DataFrame:
    """One row per scorecard measure (SCORECARD_COLUMNS). Change = rate per day in comparison.post
    against comparison.pre (exposure in days), exact Poisson 95% interval with a consistent p-value;
    q_value = Benjamini–Hochberg across every tested row; significant = q_value < alpha. Unavailable measures
    carry needs_file and load_command instead. Expected: the latest month against its baseline
    (EXPECTED_COLUMNS); with_expected=False leaves them empty (fill them with expected_flag + add_expected)."""
    from metrics.compare import days_in_period
    from metrics.series import data_range

    rows: list[dict] = []
    for item in measures or MEASURES:
        if not item.in_scorecard:
            continue
        prio = PRIORITY_BY_ID[item.priority_id]
        row: dict = {
            "priority_number": prio.number, "priority_title": prio.title, "measure_id": item.id,
            "label": item.label, "unit": item.unit, "is_proxy": item.is_proxy, "source": item.source,
            "caveats": item.caveats, "needs_file": item.needs_file, "load_command": item.load_command,
            "sparkline": [], "note": "", **EMPTY_EXPECTED,
        }
        first, last = data_range(con, item.family, Filters(force_id=(filters or Filters()).force_id))
        if first is None:
            row.update(available=False, note=f"Not loaded: needs {item.needs_file}.")
            rows.append(row)
            continue
        series = measure_series(con, item, filters, first, last)
        row.update(available=True, as_at=last, latest_month=last)
        row["latest_value"] = float(series["count"].iloc[-1]) if len(series) else np.nan
        row["sparkline"] = [float(v) for v in series["count"].tail(SPARKLINE_MONTHS)]
        months = pd.to_datetime(series["month"]).dt.date
        pre_mask = (months >= comparison.pre[0]) & (months <= comparison.pre[1])
        post_mask = (months >= comparison.post[0]) & (months <= comparison.post[1])
        pre_covered = pre_mask.sum() == months_between(*comparison.pre)
        post_covered = post_mask.sum() == months_between(*comparison.post)
        if pre_covered and post_covered:
            row.update(
                pre_count=int(series.loc[pre_mask, "count"].sum()),
                post_count=int(series.loc[post_mask, "count"].sum()),
                pre_months=months_between(*comparison.pre),
                post_months=months_between(*comparison.post),
                pre_days=days_in_period(*comparison.pre),
                post_days=days_in_period(*comparison.post),
            )
        else:
            row["note"] = (f"{item.source} covers {period_label((first, last))}: not both comparison periods.")
        if filters and filters.districts and item.family not in DISTRICT_FAMILIES:
            row["note"] = (row["note"] + " " if row["note"] else "") + "District filter not applied (the source has no police.uk districts)."
        if with_expected:
            row.update(_expected_for_latest(series, comparison, con, include_disrupted))
        rows.append(row)

    frame = pd.DataFrame(rows)
    for column in SCORECARD_COLUMNS:
        if column not in frame.columns:
            frame[column] = np.nan if column not in ("sparkline",) else [[] for _ in range(len(frame))]
    tested = _add_period_change(frame, alpha)
    frame["priority_number"] = frame["priority_number"].astype("Int64")
    frame = frame[SCORECARD_COLUMNS]
    frame.attrs = {
        "comparison": comparison.label,
        "tested": int(tested.sum()),
        "seasonality_warning": comparison.seasonality_warning,
        "note": (f"Change: rate per day {comparison.label}; exact Poisson 95% intervals; significance after "
                 f"Benjamini–Hochberg control across the {int(tested.sum())} tested measures (q < {alpha})."
                 + (f" {comparison.seasonality_warning}" if comparison.seasonality_warning else "")),
    }
    return frame


# ---------------------------------------------------------------------------------------------
# expected against observed per crime type or measure (COVID-19 impact)
# ---------------------------------------------------------------------------------------------
COVID_FIT_UNTIL = date(2020, 2, 1)


def impact_keys(con: duckdb.DuckDBPyConnection, filters: Filters | None) -> list[tuple[str, str]]:
    """(key, label) of every series the COVID view compares with its expected values: each police.uk
    crime type loaded for the force (or the filters' chosen types), then each plan measure from another
    source that is loaded. Keys are 'crime_type:<name>' or 'measure:<id>'."""
    from metrics.series import categories as crime_types

    base = filters or Filters()
    chosen = base.categories or tuple(crime_types(con, "crimes", Filters(force_id=base.force_id)))
    keys = [(f"crime_type:{name}", name) for name in chosen]
    for item in MEASURES:
        if item.family != "crimes" and item.in_scorecard and not item.is_proxy and measure_available(con, item, base):
            keys.append((f"measure:{item.id}", item.label))
    return keys


def _measure_request(con: duckdb.DuckDBPyConnection, key: str, filters: Filters | None, fit_until: date,
                     include_disrupted: bool) -> SeriesRequest:
    """The metrics.expected.SeriesRequest of a 'measure:<id>' impact key under the filters (the crime types'
    come from _crime_type_requests, all in one query)."""
    from metrics.expected import SeriesRequest

    kind, _, name = key.partition(":")
    if kind != "measure":
        raise ValueError(f"unknown impact key {key!r}: use 'crime_type:<name>' or 'measure:<id>'")
    series = measure_series(con, measure(name), filters or Filters())
    if series.empty:
        return SeriesRequest(pd.Series(dtype="float64"), fit_until)
    values = pd.Series(series["count"].to_numpy(dtype="float64"), index=pd.to_datetime(series["month"]))
    return SeriesRequest(values, fit_until, include_disrupted=include_disrupted)


def expected_series_many(
    con: duckdb.DuckDBPyConnection,
    keys: tuple[str, ...],
    filters: Filters | None,
    fit_until: date = COVID_FIT_UNTIL,
    include_disrupted: bool = False,
) -> dict[str, pd.DataFrame]:
    """{key: expected_series(...)} for several impact keys: every series built first (SQL), then the models the
    stored baselines do not hold fitted together (in parallel in the fit workers), then each frame."""
    from metrics.baselines import expected_for_many

    by_type = _crime_type_requests(con, keys, filters, fit_until, include_disrupted)
    requests = [by_type[key] if key in by_type else _measure_request(con, key, filters, fit_until, include_disrupted)
                for key in keys]
    return dict(zip(keys, expected_for_many(con, requests)))


def _crime_type_requests(con: duckdb.DuckDBPyConnection, keys: tuple[str, ...], filters: Filters | None,
                         fit_until: date, include_disrupted: bool) -> dict[str, SeriesRequest]:
    """{key: request} for the 'crime_type:' keys, every crime type's monthly series read in one query: the
    requests metrics.expected.observed_request makes one type at a time (each from its own first to its own last
    month)."""
    from metrics.expected import SeriesRequest
    from metrics.series import monthly_series_each_category

    names = tuple(dict.fromkeys(key.partition(":")[2] for key in keys if key.startswith("crime_type:")))
    if not names:
        return {}
    base = filters or Filters()
    counts = monthly_series_each_category(con, "crimes", Filters(base.force_id, base.districts, names))
    requests = {f"crime_type:{name}": SeriesRequest(pd.Series(dtype="float64"), fit_until) for name in names}
    for name, frame in counts.groupby("category", sort=False):
        series = pd.Series(frame["count"].to_numpy(dtype="float64"), index=pd.to_datetime(frame["month"]))
        requests[f"crime_type:{name}"] = SeriesRequest(series, fit_until, until=frame["month"].iloc[-1],
                                                      fit_from=frame["month"].iloc[0],
                                                      include_disrupted=include_disrupted)
    return requests


def expected_series(
    con: duckdb.DuckDBPyConnection,
    key: str,
    filters: Filters | None,
    fit_until: date = COVID_FIT_UNTIL,
    include_disrupted: bool = False,
) -> pd.DataFrame:
    """metrics.expected's frame (month, observed, expected, lower, upper, in_fit, flag, cumulative_difference,
    cumulative_lower, cumulative_upper; attrs method, model, note, basis, fit_from, fit_until, fit_excluded)
    for one impact key (see impact_keys), projected from the month after `fit_until` under the filters'
    force and districts, from the stored baselines when they match."""
    return expected_series_many(con, (key,), filters, fit_until, include_disrupted)[key]


SUMMARY_COLUMNS = ["series", "months", "observed", "expected", "difference", "difference_lower",
                   "difference_upper", "difference_text", "pct_difference", "months_above", "months_below",
                   "months_within", "model", "fit_from", "fit_until", "fit_excluded", "note"]


def _summary_row(label: str, frame: pd.DataFrame, start: date | None, end: date | None) -> dict:
    """expected_summary's row for one frame (see there)."""
    from metrics.expected import difference_text

    attrs = frame.attrs
    row = {"series": label, "months": 0, "observed": np.nan, "expected": np.nan, "difference": np.nan,
           "difference_lower": np.nan, "difference_upper": np.nan, "difference_text": "", "pct_difference": np.nan,
           "months_above": 0, "months_below": 0, "months_within": 0, "model": attrs.get("model") or "",
           "fit_from": attrs.get("fit_from"), "fit_until": attrs.get("fit_until"),
           "fit_excluded": attrs.get("fit_excluded") or "", "note": ""}
    if not len(frame) or attrs.get("method") is None:
        row["note"] = attrs.get("basis") or attrs.get("note") or "no model"
        return row
    frame = frame.copy(deep=False)  # its attrs are read above: without them, taking each column copies nothing
    frame.attrs = {}
    assessed = frame["cumulative_difference"].notna().to_numpy()
    months = frame["month"].to_numpy()[assessed]
    if not all(type(month) is date for month in months):
        months = pd.to_datetime(months).date
    first = start or (min(months) if len(months) else None)
    within = np.array([(start or date.min) <= m <= (end or date.max) for m in months], dtype=bool)
    if not within.any():
        row["note"] = "no observed months after the fit period in the months summarised"
        return row
    chosen = {name: frame[name].to_numpy()[assessed][within]
              for name in ("observed", "expected", "flag", "cumulative_lower", "cumulative_upper")}
    observed, expected = float(chosen["observed"].sum()), float(chosen["expected"].sum())
    row.update(months=int(within.sum()), observed=observed, expected=expected, difference=observed - expected,
               pct_difference=(observed / expected - 1) * 100 if expected > 0 else np.nan,
               months_above=int((chosen["flag"] == "above").sum()), months_below=int((chosen["flag"] == "below").sum()),
               months_within=int((chosen["flag"] == "within").sum()))
    if first == attrs.get("projection_start"):  # running totals from the projection start: the interval applies
        row.update(difference_lower=float(chosen["cumulative_lower"][-1]),
                   difference_upper=float(chosen["cumulative_upper"][-1]))
    else:
        row["note"] = (f"95% interval of the difference only for sums from {attrs.get('projection_start'):%b %Y}, "
                       "the first month projected")
    row["difference_text"] = difference_text(row["difference"], row["difference_lower"], row["difference_upper"])
    return row


def expected_summary(frames: dict[str, pd.DataFrame], start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """One row per series (SUMMARY_COLUMNS): observed and expected totals over the projected months from
    `start` to `end` inclusive (default: all of them), the difference with its 95% interval (from the
    model, when the sum starts at the first projected month) and in words ("about 160,000 fewer than
    expected (107,000–218,000)"), % difference, months above / below / within the 95% interval, the model
    and its fit window. Series without a model or projected months say why in `note`."""
    rows = [_summary_row(label, frame, start, end) for label, frame in frames.items()]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


# ---------------------------------------------------------------------------------------------
# force comparison ("most similar group" in the incumbent deck)
# ---------------------------------------------------------------------------------------------
def force_ranking(
    con: duckdb.DuckDBPyConnection,
    categories: tuple[str, ...],
    period: tuple[date, date],
) -> tuple[pd.DataFrame, dict] | None:
    """Every loaded force's rate per 1,000 residents and rank (metrics.rates.force_rates), with what was
    ranked: street-level rows in `period` when at least two forces have them and residents; otherwise the
    aggregate counts table (e.g. the Home Office table by force area) over its latest 12 months. None when
    fewer than two forces can be ranked. The dict says what, period, source and as_at."""
    from metrics.rates import force_rates

    street = force_rates(con, "crimes", period[0], period[1], categories)
    if int(street["rate_per_1000"].notna().sum()) >= 2:
        what = "crimes" if ASB not in categories else ("ASB incidents" if len(categories) == 1 else "crimes and ASB")
        return street, {"what": what, "period": period_label(period), "source": "data.police.uk street-level crime; "
                        "2011 Census", "as_at": period[1]}
    last_end = con.execute(
        "select max(period_end) from counts where force_id is not null"
    ).fetchall()[0][0]
    if last_end is None:
        return None
    end = month_start(last_end)
    start = add_months(end, -11)
    counted_categories = tuple(c for c in categories if c != ASB)
    frame = force_rates(con, "counts", start, end, counted_categories)
    if int(frame["rate_per_1000"].notna().sum()) < 2:
        frame = force_rates(con, "counts", start, end, ())
        counted_categories = ()
    if int(frame["rate_per_1000"].notna().sum()) < 2:
        return None
    what = "recorded crimes" + ("" if not counted_categories or counted_categories == POLICE_UK_CRIME_TYPES else " (selected types)")
    return frame, {"what": what, "period": period_label((start, end)),
                   "source": "Home Office police recorded crime by force area; 2011 Census", "as_at": last_end}


INCIDENT_FLAGS = ("domestic_abuse", "hate_crime", "child_victim")


def incident_outcomes(
    con: duckdb.DuckDBPyConnection, flag: str, filters: Filters, start: date | None = None, end: date | None = None,
) -> pd.DataFrame:
    """Force-extract incidents with `flag` (domestic_abuse | hate_crime | child_victim) recorded in the
    inclusive months start..end, by their outcome as recorded ('No outcome recorded' when empty):
    outcome, incidents, share (0..1 of the flagged incidents in the period), most incidents first."""
    if flag not in INCIDENT_FLAGS:
        raise ValueError(f"flag must be one of {', '.join(INCIDENT_FLAGS)}, not {flag!r}")
    where, params = filters.where(category_column="crime_type")
    if start is not None:
        where += " and month >= ?"
        params.append(month_start(start))
    if end is not None:
        where += " and month <= ?"
        params.append(month_start(end))
    frame = con.execute(
        f"""
        with

        flagged as (
            select coalesce(nullif(trim(outcome), ''), 'No outcome recorded') as outcome
            from incidents where {flag} and {where}
        ),

        counted as (
            select outcome, count(*) as incidents from flagged group by 1
        ),

        final as (
            select outcome, incidents, incidents / sum(incidents) over () as share from counted
        )

        select * from final order by incidents desc, outcome
        """,
        params,
    ).df()
    frame["incidents"] = frame["incidents"].astype("int64")
    return frame

__all__ = [
    "ASB", "COVID_FIT_UNTIL", "Comparison", "add_expected", "expected_flag", "expected_flags", "expected_series",
    "expected_series_many", "expected_summary",
    "measure_change", "measure_expected", "force_ranking", "impact_keys", "MEASURES", "Measure", "POLICE_UK_CRIME_TYPES", "PRESETS", "PRIORITIES", "Priority",
    "measure", "measure_available", "measure_filters", "measure_series", "measures_for", "period_label",
    "priority", "resolve_comparison", "scorecard", "incident_outcomes",
]


# ---------------------------------------------------------------------------------------------
# `python -m metrics scorecard`: the Overview's scorecard as a table, CSV or JSON
# ---------------------------------------------------------------------------------------------
SCORECARD_CLI_COLUMNS = [
    "measure_id", "label", "latest_month", "latest_value", "pre_count", "post_count", "pct_change", "rate_ratio",
    "ci_lower", "ci_upper", "p_value", "q_value", "significant", "expected", "expected_lower", "expected_upper",
    "expected_flag", "fit_from", "fit_until", "fit_excluded", "expected_note",
]


def scorecard_for_cli(con: duckdb.DuckDBPyConnection, filters: Filters, preset: str = "latest12",
                      custom_pre: tuple[date, date] | None = None, custom_post: tuple[date, date] | None = None,
                      include_disrupted: bool = False) -> pd.DataFrame:
    """The Overview's `scorecard` call for the force (comparison resolved on its crime data, as the views
    do), with `expected` = the latest month's expected value and an empty expected_flag where there is no
    baseline; available measures only, SCORECARD_CLI_COLUMNS."""
    from metrics.series import data_range

    first, last = data_range(con, "crimes", Filters(force_id=filters.force_id))
    if first is None:
        for item in MEASURES:
            first, last = data_range(con, item.family, Filters(force_id=filters.force_id))
            if first is not None:
                break
    comparison = resolve_comparison(first, last, preset, custom_pre, custom_post)
    if comparison is None:
        raise ValueError("nothing is loaded for this force: no scorecard")
    card = scorecard(con, filters, comparison, include_disrupted=include_disrupted)
    card = card[card["available"].astype(bool)].rename(columns={"expected_latest": "expected"})
    card["expected_flag"] = card["expected_flag"].where(card["expected_flag"].notna(), "")
    out = card[SCORECARD_CLI_COLUMNS].reset_index(drop=True)
    out.attrs = {**card.attrs, "comparison_notice": comparison.notice or ""}
    if comparison.notice:
        out.attrs["note"] = f"{comparison.notice} {out.attrs['note']}"
    return out


def _cmd_scorecard(args) -> int:
    from metrics.__main__ import emit
    from metrics.db import connect
    from metrics.series import forces

    if args.compare == "custom" and (args.pre is None or args.post is None):
        raise ValueError("--compare custom needs --pre YYYY-MM:YYYY-MM and --post YYYY-MM:YYYY-MM")
    con = connect(args.db)
    try:
        force_id = args.force
        if force_id is None:
            loaded = [str(f) for f in forces(con)["force_id"]]
            if len(loaded) != 1:
                raise ValueError(f"choose a force with --force (loaded: {', '.join(loaded) or 'none'})")
            force_id = loaded[0]
        filters = Filters(force_id=force_id, districts=tuple(args.district or ()))
        frame = scorecard_for_cli(con, filters, args.compare, args.pre, args.post, args.include_disrupted)
    finally:
        con.close()
    emit(frame, args.format)
    return 0


def register(subparsers) -> None:
    from metrics.__main__ import parse_period

    parser = subparsers.add_parser("scorecard", help="the Overview scorecard: one row per measure")
    parser.add_argument("--db", help="warehouse file (default $CRIME_MONITOR_DB or data/warehouse.duckdb)")
    parser.add_argument("--compare", default="latest12", choices=list(PRESETS), help="comparison (default latest12)")
    parser.add_argument("--pre", type=parse_period, help="custom baseline period YYYY-MM:YYYY-MM")
    parser.add_argument("--post", type=parse_period, help="custom current period YYYY-MM:YYYY-MM")
    parser.add_argument("--force", help="data.police.uk force id (default: the only force loaded)")
    parser.add_argument("--district", action="append", help="only this district (repeatable)")
    parser.add_argument("--include-disrupted", action="store_true",
                        help="fit baselines on disrupted months too (default: leave them out)")
    parser.add_argument("--format", default="table", choices=["table", "csv", "json"])
    parser.set_defaults(handler=_cmd_scorecard)

"""The dashboard's queries as the benchmark runs them: each page's metric calls on the warehouse
(DuckDB), and the same question answered by plain pandas over the raw CSVs (the baseline).

Every query returns a canonical answer — a sorted list of (key..., value) rows — so the DuckDB and
pandas answers can be compared exactly. Periods: the last 12 loaded months ("post", also the period of
the hotspot and outcome pages) against the 12 months before ("pre").
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pandas as pd

FOCUS_FORCE = "essex"
TOP_LSOAS = 20


@dataclass(frozen=True)
class Periods:
    """Inclusive first-of-month ranges the page queries use."""

    first: date
    last: date
    pre: tuple[date, date]
    post: tuple[date, date]
    fit_until: date


def add_months(value: date, months: int) -> date:
    index = value.year * 12 + value.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def periods_for(first: date, last: date) -> Periods:
    """Post = last 12 months (or the second half of a shorter range), pre = the months before it."""
    total = (last.year - first.year) * 12 + last.month - first.month + 1
    span = min(12, max(1, total // 2))
    post = (add_months(last, -(span - 1)), last)
    pre = (add_months(post[0], -span), add_months(post[0], -1))
    return Periods(first=first, last=last, pre=pre, post=post, fit_until=add_months(post[0], -1))


def _rows(frame: pd.DataFrame, keys: list[str], value: str) -> list[tuple]:
    """Canonical answer: (key..., int value) for every non-zero value, sorted."""
    out = []
    for record in frame[[*keys, value]].itertuples(index=False):
        *key, count = record
        if count is None or pd.isna(count) or int(count) == 0:
            continue
        out.append((*[_key_text(k) for k in key], int(count)))
    return sorted(out, key=lambda r: tuple("" if v is None else str(v) for v in r))


def _key_text(value) -> str | None:
    if value is None or (not isinstance(value, (list, tuple)) and pd.isna(value)):
        return None
    if isinstance(value, date):  # date, datetime and pd.Timestamp: the calendar day
        return str(pd.Timestamp(value).date())
    return str(value)


def _ts(value: date) -> pd.Timestamp:
    return pd.Timestamp(value)


def _month_key(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["month"] = pd.to_datetime(frame["month"]).dt.date
    return frame


@dataclass(frozen=True)
class BenchQuery:
    """One page query: the DuckDB call (the metric the page uses) and the pandas equivalent."""

    name: str
    page: str
    module: str  # the metrics module it needs
    duckdb: Callable  # (con, periods) -> canonical rows
    pandas: Callable | None  # (frame, periods) -> canonical rows; None = timing only


# ---- DuckDB side: the metric functions the pages call -------------------------------------------------
def _series_by(by: str, force_id: str | None):
    def run(con, p: Periods):
        from metrics.filters import Filters
        from metrics.series import monthly_series

        frame = monthly_series(con, "crimes", by=[by], filters=Filters(force_id=force_id), start=p.first, end=p.last)
        return _rows(_month_key(frame), ["month", by], "count")

    return run


def _period_change(by: str, force_id: str | None):
    def run(con, p: Periods):
        from metrics.compare import period_change
        from metrics.filters import Filters

        frame = period_change(con, "crimes", by=[by], pre=p.pre, post=p.post, filters=Filters(force_id=force_id))
        long = pd.concat(
            [frame[[by, "pre_count"]].rename(columns={"pre_count": "n"}).assign(period="pre"),
             frame[[by, "post_count"]].rename(columns={"post_count": "n"}).assign(period="post")]
        )
        return _rows(long, ["period", by], "n")

    return run


@contextlib.contextmanager
def _model_cache(enabled: bool):
    """With enabled=False every call fits its models afresh (the process's fit memory emptied before and after):
    the first-visit cost."""
    from metrics import expected

    if not enabled:
        expected._memory_cache.clear()
    try:
        yield
    finally:
        if not enabled:
            expected._memory_cache.clear()


def _expected_with(cached: bool):
    def run(con, p: Periods):
        from metrics.expected import expected_vs_observed
        from metrics.filters import Filters

        with _model_cache(cached):
            frame = expected_vs_observed(con, "crimes", filters=Filters(force_id=FOCUS_FORCE), fit_until=p.fit_until)
        return _rows(_month_key(frame.dropna(subset=["observed"])), ["month"], "observed")

    return run


def _top_lsoas(con, p: Periods):
    from metrics.filters import Filters
    from metrics.hotspots import top_lsoas

    frame = top_lsoas(con, p.post[0], p.post[1], Filters(force_id=FOCUS_FORCE), limit=TOP_LSOAS)
    return _rows(frame, ["lsoa_code"], "count")


def _point_density(con, p: Periods):
    from metrics.filters import Filters
    from metrics.hotspots import point_density

    frame = point_density(con, p.post[0], p.post[1], Filters(force_id=FOCUS_FORCE))
    return [(len(frame), int(frame[frame.columns[-1]].sum()))]


def _outcome_shares(con, p: Periods):
    from metrics.filters import Filters
    from metrics.outcomes import outcome_shares

    frame = outcome_shares(con, p.post[0], p.post[1], Filters(force_id=FOCUS_FORCE))
    return _rows(frame, ["outcome_group"], "crimes")


def _district_rates(con, p: Periods):
    from metrics.filters import Filters
    from metrics.rates import district_rates

    frame = district_rates(con, "crimes", p.post[0], p.post[1], Filters(force_id=FOCUS_FORCE))
    return [(len(frame),)]


def _force_rates(con, p: Periods):
    from metrics.rates import force_rates

    frame = force_rates(con, "crimes", p.post[0], p.post[1])
    return [(len(frame),)]


# ---- pandas side: the same questions over the frame read from the CSVs --------------------------------
def _pd_series_by(by: str, force_id: str | None):
    def run(df: pd.DataFrame, p: Periods):
        part = df[df["force_id"] == force_id] if force_id else df
        part = part[(part["month"] >= _ts(p.first)) & (part["month"] <= _ts(p.last))]
        counted = part.groupby(["month", by], dropna=False, observed=True).size().rename("count").reset_index()
        return _rows(counted, ["month", by], "count")

    return run


def _pd_period_change(by: str, force_id: str | None):
    def run(df: pd.DataFrame, p: Periods):
        part = df[df["force_id"] == force_id] if force_id else df
        frames = []
        for label, (first, last) in (("pre", p.pre), ("post", p.post)):
            window = part[(part["month"] >= _ts(first)) & (part["month"] <= _ts(last))]
            frames.append(window.groupby(by, dropna=False, observed=True).size().rename("n").reset_index().assign(period=label))
        return _rows(pd.concat(frames), ["period", by], "n")

    return run


def _pd_expected(df: pd.DataFrame, p: Periods, cached: bool = False):
    """The monthly series by pandas, then the same model fit as the page (metrics.expected's statistics
    on a series; only the aggregation differs), so both sides do the same work."""
    from metrics.expected import expected_from_series

    part = df[df["force_id"] == FOCUS_FORCE]
    counted = part.groupby("month").size()
    series = pd.Series(counted.to_numpy(dtype="float64"), index=pd.to_datetime(counted.index))
    with _model_cache(cached):
        frame = expected_from_series(series, p.fit_until, until=p.last, fit_from=p.first)
    return _rows(_month_key(frame.dropna(subset=["observed"])), ["month"], "observed")


def _pd_expected_with(cached: bool):
    def run(df: pd.DataFrame, p: Periods):
        return _pd_expected(df, p, cached)

    return run


def _pd_top_lsoas(df: pd.DataFrame, p: Periods):
    part = df[(df["force_id"] == FOCUS_FORCE) & (df["month"] >= _ts(p.post[0])) & (df["month"] <= _ts(p.post[1]))]
    counted = part.groupby("lsoa_code", observed=True).size().rename("count").reset_index()
    counted = counted.sort_values(["count", "lsoa_code"], ascending=[False, True]).head(TOP_LSOAS)
    return _rows(counted, ["lsoa_code"], "count")


def _pd_outcome_shares(df: pd.DataFrame, p: Periods):
    from metrics.outcomes import outcome_group

    part = df[(df["force_id"] == FOCUS_FORCE) & (df["month"] >= _ts(p.post[0])) & (df["month"] <= _ts(p.post[1]))
              & (df["crime_type"] != "Anti-social behaviour")]
    counted = part.groupby("last_outcome_category", dropna=False, observed=True).size().rename("count").reset_index()
    counted["outcome_group"] = [outcome_group(None if pd.isna(o) else o) for o in counted["last_outcome_category"]]
    grouped = counted.groupby("outcome_group").agg(count=("count", "sum")).reset_index()
    return _rows(grouped, ["outcome_group"], "count")


QUERIES: list[BenchQuery] = [
    BenchQuery("monthly_series by crime_type (essex)", "Trends", "metrics.series",
               _series_by("crime_type", FOCUS_FORCE), _pd_series_by("crime_type", FOCUS_FORCE)),
    BenchQuery("monthly_series by district (essex)", "Trends", "metrics.series",
               _series_by("district", FOCUS_FORCE), _pd_series_by("district", FOCUS_FORCE)),
    BenchQuery("monthly_series by force_id (national)", "Trends", "metrics.series",
               _series_by("force_id", None), _pd_series_by("force_id", None)),
    BenchQuery("period_change by crime_type (essex)", "Compare", "metrics.compare",
               _period_change("crime_type", FOCUS_FORCE), _pd_period_change("crime_type", FOCUS_FORCE)),
    BenchQuery("period_change by force_id (national)", "Compare", "metrics.compare",
               _period_change("force_id", None), _pd_period_change("force_id", None)),
    BenchQuery("expected_vs_observed (essex, incl. model fit)", "Expected", "metrics.expected",
               _expected_with(False), _pd_expected_with(False)),
    BenchQuery("expected_vs_observed (essex, cached model)", "Expected", "metrics.expected",
               _expected_with(True), _pd_expected_with(True)),
    BenchQuery("top_lsoas (essex, last 12 months)", "Hotspots", "metrics.hotspots", _top_lsoas, _pd_top_lsoas),
    BenchQuery("point_density (essex, last 12 months)", "Hotspots", "metrics.hotspots", _point_density, None),
    BenchQuery("outcome_shares (essex, last 12 months)", "Outcomes", "metrics.outcomes",
               _outcome_shares, _pd_outcome_shares),
    BenchQuery("district_rates (essex, last 12 months)", "Rates", "metrics.rates", _district_rates, None),
    BenchQuery("force_rates (national, last 12 months)", "Rates", "metrics.rates", _force_rates, None),
]


def available(query: BenchQuery) -> bool:
    """Whether the metric module the query needs exists in this checkout."""
    try:
        importlib.import_module(query.module)
    except ModuleNotFoundError:
        return False
    return True

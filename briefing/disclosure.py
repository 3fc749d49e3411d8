"""Disclosure control: small counts of sensitive crimes in small areas never leave the server, and cannot be
worked out by differencing any number of exports or views (overlapping periods, areas or crime types).

The rule (the Panel reads it in docs/SECURITY.md; `DisclosureRule.describe` is the short form on every export):

1. **Scope.** Counts at LSOA level whose records include a sensitive category: sexual offences (so the
   data.police.uk category "Violence and sexual offences"), domestic abuse and child victims. "All crime" and any
   selection holding one of these is in scope. Counts above LSOA level (district, force) are published exactly.
2. **Fixed calendar blocks.** Such counts are published only for whole calendar quarters (`block_months`, fixed
   for a deployment) whose months are all loaded: never for a month, a rolling period or several blocks added
   up. A view of any period shows the latest whole quarter inside it, and says so.
3. **Bands.** In each block, an LSOA's count of a sensitive category is shown as "<5" when it is 0 to 4 (zero
   included, so "<5" never proves an offence happened) and otherwise rounded to the nearest 5 ("5" is 5–7).
4. **One withheld LSOA per district.** In every district, block and sensitive category one LSOA is shown as "[c]":
   the one whose code has the smallest SHA-256 hash with the category, district and block, so the choice does not
   depend on any count and is the same in every view.
5. **Other categories alongside.** In a selection that mixes sensitive and other categories, the other
   categories' count is exact and the sensitive part enters as its band: a number when every sensitive part is 5
   or more, else the range "a–b"; "[c]" when a sensitive part is withheld.
6. **Order.** Tables are ordered, and top-N lists chosen, by the published value and then the LSOA name, never
   by a hidden count. Rates per 1,000 are computed from the published value ("[c]" where it is not a number).

Why no differencing recovers a small count: take any LSOA shown "<5" in a block and move its records of that
category, month by month, to its district's withheld LSOA. Every district and force total (any months), every
other category's count, every band (the LSOA stays in 0–4; the withheld LSOA stays "[c]") and every order (rule 6)
is unchanged, so everything published is the same with that count at 0 as at its true value: nothing published,
alone or combined, pins it or even proves it is above zero. Month and rolling-period counts are never published
(rule 2), so no difference of periods exists to take. The property test in tests/test_briefing_disclosure.py
attacks random worlds with an integer programme and checks exactly this.

Frames that did not come from `published_lsoa_counts` are protected by `protect_frame`, which withholds every
sensitive LSOA-level count it finds ("[c]"); `protect_figure` does the same for Plotly figures, or rewrites their
values from a released frame; `protect_for_screen` applies either to what a role's browser receives.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from metrics.filters import Filters, add_months, month_start

DEFAULT_THRESHOLD = 4
DEFAULT_BLOCK_MONTHS = 3
SECONDARY_MARKER = "[c]"
RELEASE_ATTR = "disclosure_release"
QUERY_ATTR = "lsoa_query"               # set by metrics.hotspots: what the frame counts (period, categories)
GEOGRAPHY_COLUMNS = ("lsoa_code", "lsoa_name", "lsoa")
CATEGORY_COLUMNS = ("crime_type", "category", "subcategory", "offence_description", "measure")
FLAG_COLUMNS = ("domestic_abuse", "child_victim")
# values that are not derived from the counts (kept visible in withheld rows)
SAFE_NUMERIC_COLUMNS = ("usual_residents", "residents", "household_residents", "communal_residents", "population",
                        "area_hectares", "rank", "pre_months", "post_months", "months", "year",
                        "centroid_longitude", "centroid_latitude", "longitude", "latitude")
TOTAL_LABELS = ("total", "all", "all lsoas", "force total", "district total")
SENSITIVE_CATEGORIES: frozenset[str] = frozenset({
    "violence and sexual offences", "sexual offences", "rape", "other sexual offences", "domestic abuse",
    "domestic abuse-related", "child victims", "child sexual abuse", "child sexual exploitation",
    "child abuse", "children and vulnerable people",
})
SENSITIVE_WORDS = ("sexual", "rape", "domestic", "child")
RELEASE_COLUMNS = ("lsoa_code", "lsoa_name", "district", "count", "count_value", "residents", "rate_per_1000",
                   "withheld")


def _int_from_env(name: str, default: int, allowed: Sequence[int] | None = None) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from None
    if value < 1 or (allowed and value not in allowed):
        raise ValueError(f"{name} must be {'one of ' + ', '.join(map(str, allowed)) if allowed else 'at least 1'},"
                         f" not {value}")
    return value


def _threshold_from_env() -> int:
    return _int_from_env("CRIME_MONITOR_DISCLOSURE_THRESHOLD", DEFAULT_THRESHOLD)


def _block_from_env() -> int:
    return _int_from_env("CRIME_MONITOR_DISCLOSURE_BLOCK_MONTHS", DEFAULT_BLOCK_MONTHS, (1, 3, 6, 12))


@dataclass(frozen=True)
class Band:
    """A published count: `shown` ("<5" or the rounded number), the true count's range low..high (high None:
    unbounded) and the number charts use (`value`, NaN when `shown` is not a number)."""

    shown: Any
    low: int
    high: int | None
    value: float


@dataclass(frozen=True)
class DisclosureRule:
    """Counts 0..threshold shown as '<threshold+1', larger ones rounded to base threshold+1; calendar blocks of
    `block_months` (3: quarters). Both fixed for a deployment: changing them opens differencing between old and
    new exports."""

    threshold: int = field(default_factory=_threshold_from_env)
    block_months: int = field(default_factory=_block_from_env)
    sensitive_categories: frozenset[str] = SENSITIVE_CATEGORIES
    sensitive_words: tuple[str, ...] = SENSITIVE_WORDS

    def __post_init__(self) -> None:
        if int(self.threshold) < 1:
            raise ValueError(f"disclosure threshold must be at least 1, not {self.threshold}")
        if self.block_months not in (1, 3, 6, 12):
            raise ValueError(f"disclosure block_months must be 1, 3, 6 or 12, not {self.block_months}")

    @property
    def base(self) -> int:
        """The rounding base: 5 for the default threshold 4."""
        return self.threshold + 1

    @property
    def marker(self) -> str:
        """What a small count shows: '<5' for the default threshold 4."""
        return f"<{self.base}"

    def is_sensitive(self, category: Any) -> bool:
        """True for a sensitive category name (case-insensitive; names containing 'sexual', 'rape',
        'domestic' or 'child' count too)."""
        if category is None or (isinstance(category, float) and np.isnan(category)):
            return False
        name = str(category).strip().lower()
        return name in self.sensitive_categories or any(word in name for word in self.sensitive_words)

    def band(self, count: int) -> Band:
        """The published form of one LSOA's block count of one sensitive category (rule 3)."""
        count = int(count)
        if count < 0:
            raise ValueError(f"a count cannot be negative: {count}")
        base, half = self.base, self.base // 2
        if count < base:
            return Band(self.marker, 0, base - 1, math.nan)
        rounded = (count + half) // base * base
        return Band(rounded, max(base, rounded - half), rounded + base - 1 - half, float(rounded))

    def block_label(self) -> str:
        return {1: "calendar month", 3: "calendar quarter", 6: "calendar half-year", 12: "calendar year"}[
            self.block_months]

    def describe(self) -> str:
        return (f"LSOA counts that include sexual offences, domestic abuse or child victims are published by "
                f"{self.block_label()} only: 0 to {self.threshold} as \"{self.marker}\", larger counts rounded to the "
                f"nearest {self.base}, and one LSOA per district withheld as \"{SECONDARY_MARKER}\", so that no small "
                "count can be worked out from other figures.")


@dataclass
class ProtectedTable:
    """A frame after disclosure control: markers in place of withheld values (object columns)."""

    frame: pd.DataFrame
    suppressed: pd.DataFrame          # bool, same shape: True where a value is withheld or banded
    primary: int = 0                  # cells shown as "<5"
    secondary: int = 0                # cells shown as "[c]"
    applies: bool = False             # the table is LSOA-level with sensitive rows
    note: str = ""


# --- blocks and the withheld LSOA --------------------------------------------------------------------------

def block_for_period(start: date, end: date, rule: DisclosureRule, loaded_months: Sequence[date] | None = None
                     ) -> tuple[date, date] | None:
    """The latest whole calendar block (first and last month) inside start..end whose months are all in
    `loaded_months` (when given); None if there is none."""
    start, end = month_start(start), month_start(end)
    loaded = {month_start(m) for m in loaded_months} if loaded_months is not None else None
    step = rule.block_months
    first = date(end.year, (end.month - 1) // step * step + 1, 1)
    while first >= start:
        last = add_months(first, step - 1)
        months = [add_months(first, i) for i in range(step)]
        if last <= end and (loaded is None or all(m in loaded for m in months)):
            return first, last
        first = add_months(first, -step)
    return None


def withheld_lsoa(category: str, district: str, block_start: date, lsoa_codes: Sequence[str]) -> str:
    """The district's withheld LSOA for this category and block (rule 4): smallest SHA-256 of
    'category|district|YYYY-MM|code'. Depends on names and codes only, never on counts."""
    def digest(code: str) -> str:
        text = f"{str(category).strip().lower()}|{district}|{block_start:%Y-%m}|{code}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    return min(lsoa_codes, key=lambda code: (digest(str(code)), str(code)))


def release_block(cells: pd.DataFrame, category: str, block_start: date, rule: DisclosureRule) -> pd.DataFrame:
    """Rules 3 and 4 for one sensitive category in one block. `cells`: every LSOA of the districts concerned
    (lsoa_code, district, count). Returns lsoa_code with shown, low, high, value, withheld."""
    bands = [rule.band(c) for c in cells["count"]]
    shown = [b.shown for b in bands]
    low = np.array([float(b.low) for b in bands])
    high = np.array([float(b.high) if b.high is not None else math.inf for b in bands])
    value = np.array([b.value for b in bands])
    withheld = np.zeros(len(bands), dtype=bool)
    codes = cells["lsoa_code"].astype(str).to_numpy()
    districts = cells["district"].fillna("").astype(str).to_numpy()
    for district in sorted(set(districts)):
        members = np.flatnonzero(districts == district)
        chosen = withheld_lsoa(category, district, block_start, codes[members].tolist())
        index = members[codes[members] == chosen][0]
        shown[index], low[index], high[index], value[index], withheld[index] = (SECONDARY_MARKER, 0.0, math.inf,
                                                                                math.nan, True)
    return pd.DataFrame({"lsoa_code": codes, "shown": pd.Series(shown, dtype=object), "low": low, "high": high,
                         "value": value, "withheld": withheld})


def combine_parts(other: np.ndarray, parts: Sequence[pd.DataFrame], pure: bool) -> pd.DataFrame:
    """Rule 5: an LSOA's published count from its exact other-category count and the released sensitive parts
    (one `release_block` frame per sensitive category, rows aligned). Returns count (shown), count_value."""
    withheld = np.logical_or.reduce([p["withheld"].to_numpy() for p in parts])
    values = np.vstack([p["value"].to_numpy(dtype="float64") for p in parts])
    highs = np.vstack([p["high"].to_numpy(dtype="float64") for p in parts])
    small = np.isnan(values)
    numbers = np.where(small, 0.0, values).sum(axis=0) + np.asarray(other, dtype="float64")
    spread = np.where(small, highs, 0.0).sum(axis=0)
    single = parts[0]["shown"].tolist()
    shown: list[Any] = []
    out_values = np.full(len(numbers), math.nan)
    for i in range(len(numbers)):
        if withheld[i]:
            shown.append(SECONDARY_MARKER)
        elif pure and len(parts) == 1:
            shown.append(single[i])
            out_values[i] = values[0, i]
        elif not small[:, i].any():
            shown.append(int(numbers[i]))
            out_values[i] = numbers[i]
        else:
            shown.append(f"{int(numbers[i])}–{int(numbers[i] + spread[i])}")
            out_values[i] = numbers[i] + spread[i] / 2
    return pd.DataFrame({"count": pd.Series(shown, dtype=object), "count_value": out_values})


# --- the published LSOA table --------------------------------------------------------------------------------

def _loaded_months(con: duckdb.DuckDBPyConnection, force_id: str | None) -> list[date]:
    rows = con.execute(
        "select distinct month from crimes where (cast(? as varchar) is null or force_id = ?) order by 1",
        [force_id, force_id],
    ).fetchall()
    return [r[0] for r in rows]


def _selected_categories(con: duckdb.DuckDBPyConnection, filters: Filters) -> list[str]:
    """The crime types the filters select (every type loaded for the force when none is chosen)."""
    if filters.categories:
        return list(filters.categories)
    rows = con.execute(
        "select distinct crime_type from crimes where (cast(? as varchar) is null or force_id = ?) order by 1",
        [filters.force_id, filters.force_id],
    ).fetchall()
    return [r[0] for r in rows if r[0] is not None]


def _block_cells(con: duckdb.DuckDBPyConnection, force_id: str | None, block: tuple[date, date],
                 categories: list[str], sensitive: list[str]) -> pd.DataFrame:
    """Every LSOA of the force's districts (the ONS lookup, else the LSOAs its crimes name) with its block count
    of each sensitive category (`sensitive_<i>`) and of the other selected categories (`other_count`)."""
    sql = """
        with
        lookup as (
            select lsoa_code, lsoa_name, district, usual_residents as residents
            from lsoa
            where (cast(? as varchar) is null or force_id = ?) and district is not null
        ),
        named as (
            select crimes.lsoa_code, any_value(crimes.lsoa_name) as lsoa_name, any_value(crimes.district) as district,
                   cast(null as integer) as residents
            from crimes
            where (cast(? as varchar) is null or crimes.force_id = ?) and crimes.lsoa_code is not null
              and crimes.district is not null
            group by crimes.lsoa_code
        ),
        universe as (
            select * from lookup
            union all
            select * from named where not exists (select 1 from lookup)
        ),
        block_rows as (
            select crimes.lsoa_code, crimes.crime_type
            from crimes
            where (cast(? as varchar) is null or crimes.force_id = ?) and crimes.month between ? and ?
              and list_contains(?, crimes.crime_type)
        ),
        counted as (
            select lsoa_code, list_position(?, crime_type) as sensitive_index, count(*) as count
            from block_rows
            group by all
        ),
        final as (
            select universe.lsoa_code, universe.lsoa_name, universe.district, universe.residents,
                   coalesce(counted.sensitive_index, 0) as sensitive_index, coalesce(counted.count, 0) as count
            from universe left join counted using (lsoa_code)
        )
        select * from final order by district, lsoa_code
    """
    long = con.execute(sql, [force_id, force_id, force_id, force_id, force_id, force_id, block[0], block[1],
                             categories, sensitive]).df()
    cells = long.groupby(["lsoa_code"], sort=True).agg(
        lsoa_name=("lsoa_name", "first"), district=("district", "first"), residents=("residents", "first"),
    ).reset_index()
    counts = long.pivot_table(index="lsoa_code", columns="sensitive_index", values="count", aggfunc="sum",
                              fill_value=0)
    cells["other_count"] = cells["lsoa_code"].map(counts[0] if 0 in counts else {}).fillna(0).astype("int64")
    for i in range(1, len(sensitive) + 1):
        cells[f"sensitive_{i}"] = cells["lsoa_code"].map(counts[i] if i in counts else {}).fillna(0).astype("int64")
    return cells


def _empty_release(note: str, attrs: dict[str, Any]) -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in RELEASE_COLUMNS})
    frame.attrs = {**attrs, "disclosure_note": note}
    return frame


def release_period(frame: pd.DataFrame) -> tuple[date, date] | None:
    """The first and last month a `published_lsoa_counts` frame counts (None when it has no rows)."""
    period = frame.attrs.get("period")
    return (date.fromisoformat(period[0]), date.fromisoformat(period[1])) if period else None


def _finish_release(frame: pd.DataFrame, filters: Filters, limit: int | None) -> pd.DataFrame:
    """Rates from the published value, the districts asked for, order by published value then name (rule 6)."""
    numeric = frame["count"].map(lambda v: isinstance(v, (int, np.integer)))
    rates = frame["count_value"] / frame["residents"].astype("float64") * 1000
    frame["rate_per_1000"] = pd.Series([r if ok else SECONDARY_MARKER for r, ok in zip(rates, numeric)], dtype=object)
    if filters.districts:
        frame = frame[frame["district"].isin(filters.districts)]
    frame = frame.assign(_missing=frame["count_value"].isna()).sort_values(
        ["withheld", "_missing", "count_value", "lsoa_name", "lsoa_code"], ascending=[True, True, False, True, True])
    if limit is not None:
        frame = frame[~frame["withheld"]].head(int(limit))
    return frame.drop(columns="_missing").reset_index(drop=True)[list(RELEASE_COLUMNS)]


def published_lsoa_counts(con: duckdb.DuckDBPyConnection, start: date, end: date, filters: Filters | None = None,
                          *, rule: DisclosureRule | None = None, limit: int | None = None) -> pd.DataFrame:
    """The LSOA table (crimes and ASB) that may leave the server for the period start..end under the module's
    rule: lsoa_code, lsoa_name, district, count (published: a number, "<5", "a–b" or "[c]"), count_value
    (number for charts and order; NaN where none), residents (2011 Census), rate_per_1000 (per 1,000 residents
    for the block, from the published value; "[c]" where none), withheld (the district's withheld LSOA).
    `limit`: the top `limit` LSOAs by published value (withheld LSOAs left out). attrs: `period` (the months
    counted: the requested period when no sensitive category is selected, else the latest whole block inside
    it; ISO dates, as `release_period` reads them), `requested_period`, `disclosure_note`, `disclosure_release`
    = True; attrs hold only JSON values, so the frame can go straight to st.dataframe. No whole loaded block:
    no rows (and `period` None)."""
    from metrics.hotspots import lsoa_counts

    rule = rule or DisclosureRule()
    filters = filters or Filters()
    categories = _selected_categories(con, filters)
    sensitive = [c for c in categories if rule.is_sensitive(c)]
    attrs: dict[str, Any] = {RELEASE_ATTR: True, "categories": list(categories),
                             "requested_period": [month_start(start).isoformat(), month_start(end).isoformat()]}
    if not sensitive:
        exact = lsoa_counts(con, start, end, filters)
        frame = exact.assign(count=exact["count"].astype(object), count_value=exact["count"].astype("float64"),
                             withheld=False)
        out = _finish_release(frame, Filters(), limit)
        out.attrs = {**attrs, "period": attrs["requested_period"], "disclosure_note": "no sensitive category"}
        return out
    block = block_for_period(start, end, rule, _loaded_months(con, filters.force_id))
    if block is None:
        return _empty_release(
            f"LSOA counts that include sensitive categories are published by {rule.block_label()} only, and no whole "
            f"{rule.block_label()} with every month loaded lies in {start:%b %Y}–{end:%b %Y}.",
            {**attrs, "period": None})
    cells = _block_cells(con, filters.force_id, block, categories, sensitive)
    parts = [release_block(cells.assign(count=cells[f"sensitive_{i}"]), category, block[0], rule)
             for i, category in enumerate(sensitive, start=1)]
    combined = combine_parts(cells["other_count"].to_numpy(), parts, pure=len(sensitive) == len(categories))
    frame = cells[["lsoa_code", "lsoa_name", "district", "residents"]].assign(
        count=combined["count"], count_value=combined["count_value"],
        withheld=np.logical_or.reduce([p["withheld"].to_numpy() for p in parts]))
    out = _finish_release(frame, filters, limit)
    out.attrs = {**attrs, "period": [block[0].isoformat(), block[1].isoformat()],
                 "disclosure_note": f"{block[0]:%b %Y}–{block[1]:%b %Y} ({rule.block_label()}). {rule.describe()}"}
    return out


# --- any other frame or figure ---------------------------------------------------------------------------------

def _is_total_label(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip().lower() in TOTAL_LABELS


def default_count_columns(frame: pd.DataFrame) -> list[str]:
    """Numeric columns that hold counts: 'count', '*_count', and the usual count names."""
    names = {"count", "crimes", "incidents", "offences", "victims", "reports", "observed", "asb_incidents"}
    out = []
    for column in frame.columns:
        name = str(column)
        if (name in names or name.endswith("_count") or name.endswith("_crimes") or name.endswith("_incidents")) \
                and pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column]):
            out.append(column)
    return out


def _selection(frame: pd.DataFrame | None, filters: Any) -> tuple[str, ...] | None:
    """The categories a frame counts: what the metric recorded in its attrs, else the filters' (None: unknown)."""
    query = (frame.attrs.get(QUERY_ATTR) if frame is not None else None) or {}
    if "categories" in query:
        return tuple(query["categories"])
    if filters is None:
        return None
    return tuple(getattr(filters, "categories", None) or ())


def selection_is_sensitive(categories: Sequence[str] | None, rule: DisclosureRule) -> bool:
    """Unknown (None) or every category (empty) includes sensitive records; else any sensitive name."""
    return not categories or any(rule.is_sensitive(c) for c in categories)


def sensitive_rows(
    frame: pd.DataFrame,
    rule: DisclosureRule,
    *,
    filters: Any = None,
    sensitive: bool | None = None,
    category_column: str | None = None,
) -> pd.Series:
    """Which rows count sensitive records: `sensitive` when given; else by the row's category (a category column)
    or flag (domestic_abuse/child_victim true); else by the frame's selection (`_selection`)."""
    if sensitive is not None:
        return pd.Series(bool(sensitive), index=frame.index)
    columns = [category_column] if category_column else [c for c in CATEGORY_COLUMNS if c in frame.columns]
    flags = [c for c in FLAG_COLUMNS if c in frame.columns]
    if not columns and not flags:
        return pd.Series(selection_is_sensitive(_selection(frame, filters), rule), index=frame.index)
    rows = pd.Series(False, index=frame.index)
    for column in columns:
        rows |= frame[column].map(rule.is_sensitive).astype(bool)
    for column in flags:
        rows |= frame[column].map(lambda v: str(v).strip().lower() in ("true", "1", "y", "yes")).astype(bool)
    return rows


def _released_table(work: pd.DataFrame, attrs: dict[str, Any]) -> ProtectedTable:
    """A frame from `published_lsoa_counts`: already protected; report its markers."""
    suppressed = pd.DataFrame(False, index=work.index, columns=work.columns)
    for column in ("count", "rate_per_1000"):
        if column in work.columns:
            suppressed[column] = work[column].map(lambda v: isinstance(v, str))
    counts = work["count"] if "count" in work.columns else pd.Series(dtype=object)
    primary = int(counts.map(lambda v: isinstance(v, str) and v.startswith("<")).sum())
    secondary = int((counts == SECONDARY_MARKER).sum())
    note = attrs.get("disclosure_note", "")
    work.attrs = dict(attrs)
    return ProtectedTable(work, suppressed, primary, secondary, True, note)


def protect_frame(
    frame: pd.DataFrame,
    *,
    rule: DisclosureRule | None = None,
    filters: Any = None,
    sensitive: bool | None = None,
    count_columns: Sequence[str] | None = None,
    category_column: str | None = None,
    geography_column: str | None = None,
) -> ProtectedTable:
    """Disclosure control for a table about to leave the server. The input is not modified.

    A frame from `published_lsoa_counts` comes back as it is. In any other LSOA-level frame (a column from
    GEOGRAPHY_COLUMNS, or `geography_column`), every count (`count_columns`, default `default_count_columns`)
    of a sensitive row (`sensitive_rows`) is withheld as "[c]", with the values derived from it in that row
    (rates, changes; not SAFE_NUMERIC_COLUMNS); rows whose LSOA is empty or 'Total'/'All' are totals above
    LSOA level and stay. Frames above LSOA level come back unchanged."""
    rule = rule or DisclosureRule()
    work = frame.reset_index(drop=True).copy()
    if frame.attrs.get(RELEASE_ATTR) and not default_count_columns(work):   # a release with no raw counts added
        return _released_table(work, dict(frame.attrs))
    suppressed = pd.DataFrame(False, index=work.index, columns=work.columns)
    geography = geography_column or next((c for c in GEOGRAPHY_COLUMNS if c in work.columns), None)
    counts = list(count_columns) if count_columns is not None else default_count_columns(work)
    if geography is None or not counts or work.empty:
        return ProtectedTable(work, suppressed, note="not LSOA-level: no disclosure control needed")
    rows = (sensitive_rows(work, rule, filters=filters, sensitive=sensitive, category_column=category_column)
            & ~work[geography].map(_is_total_label).astype(bool)).to_numpy()
    if not rows.any():
        return ProtectedTable(work, suppressed, note="no sensitive category: no disclosure control needed")
    numeric_other = [c for c in work.columns if c not in counts and pd.api.types.is_numeric_dtype(work[c])
                     and not pd.api.types.is_bool_dtype(work[c]) and c not in SAFE_NUMERIC_COLUMNS]
    primary = 0
    for column in counts:
        values = pd.to_numeric(work[column], errors="coerce").to_numpy(dtype="float64")
        primary += int(np.sum(rows & (values >= 1) & (values <= rule.threshold)))
        withheld = rows & ~np.isnan(values)
        work[column] = work[column].astype(object)
        work.loc[withheld, column] = SECONDARY_MARKER
        suppressed.loc[withheld, column] = True
    secondary = int(suppressed[counts].to_numpy().sum()) - primary
    for column in numeric_other:
        present = rows & work[column].notna().to_numpy()
        work[column] = work[column].astype(object)
        work.loc[present, column] = SECONDARY_MARKER
        suppressed.loc[present, column] = True
    note = (f"LSOA counts that include sensitive categories are withheld here (\"{SECONDARY_MARKER}\"): they are "
            f"published by {rule.block_label()} only, in the published LSOA table. {rule.describe()}")
    work.attrs = {**frame.attrs, "disclosure_note": note}
    return ProtectedTable(work, suppressed, primary, secondary, True, note)


_LSOA_CODE = re.compile(r"^[EW]01\d{6}$")
_LSOA_NAME = re.compile(r"^.+ \d{3}[A-Z]$")
POINT_TRACES = ("scattergeo", "scattermap", "scattermapbox", "densitymap", "densitymapbox")


def _looks_like_lsoas(labels: Sequence[Any]) -> bool:
    texts = [str(v) for v in labels if v is not None]
    return bool(texts) and all(_LSOA_CODE.match(t) or _LSOA_NAME.match(t) for t in texts)


def _release_lookup(release: pd.DataFrame | None) -> dict[str, tuple[Any, float, str]]:
    """label (code and name) -> (shown, value, name) from a released frame."""
    if release is None:
        return {}
    out = {}
    for row in release.itertuples(index=False):
        entry = (row.count, row.count_value, str(row.lsoa_name if isinstance(row.lsoa_name, str) else row.lsoa_code))
        out[str(row.lsoa_code)] = entry
        if isinstance(row.lsoa_name, str):
            out[row.lsoa_name] = entry
    return out


def _protect_trace(trace: Any, lookup: dict[str, tuple[Any, float, str]], order: list[str]) -> int:
    """Rewrite one LSOA-level bar or choropleth trace from the release lookup (an LSOA not in it is withheld):
    values, text and hover from the release, bars re-ordered by the release (else by label) so that neither the
    arrays' order nor the axis range carries the hidden counts. Returns the LSOAs not shown as a number."""
    horizontal = trace.type == "bar" and trace.orientation == "h"
    labels = [str(v) for v in (trace.locations if trace.type == "choropleth" else (trace.y if horizontal else trace.x))]
    names = [str(v) for v in trace.text] if trace.type == "choropleth" and trace.text is not None \
        and not isinstance(trace.text, str) else labels
    colours = trace.marker.color if trace.type == "bar" else None
    colours = list(colours) if colours is not None and not isinstance(colours, str) else None
    rank = {label: i for i, label in enumerate(order)}
    positions = sorted(range(len(labels)), key=lambda i: (rank.get(labels[i], len(rank)), labels[i])) \
        if trace.type == "bar" else list(range(len(labels)))
    published = [lookup.get(labels[i], (SECONDARY_MARKER, math.nan, names[i])) for i in positions]
    values = [None if isinstance(value, float) and math.isnan(value) else value for _, value, _ in published]
    shown = [f"{v:,}" if isinstance(v, (int, np.integer)) else str(v) for v, _, _ in published]
    hover = [f"{name}: {text}" for (_, _, name), text in zip(published, shown)]
    if trace.type == "choropleth":
        trace.update(z=values, text=hover, hovertemplate="%{text}<extra></extra>", zauto=True, zmin=None, zmax=None)
    else:
        ordered = [labels[i] for i in positions]
        if horizontal:   # horizontal bars draw the first category at the bottom: largest at the top
            ordered, values, shown, hover = ordered[::-1], values[::-1], shown[::-1], hover[::-1]
            positions = positions[::-1]
        trace.update(**({"y": ordered, "x": values} if horizontal else {"x": ordered, "y": values}), text=shown,
                     hovertext=hover, hovertemplate="%{hovertext}<extra></extra>")
        if colours is not None and len(colours) == len(labels):
            trace.marker.color = [colours[i] for i in positions]
    trace.update(customdata=None)
    return sum(1 for v, _, _ in published if not isinstance(v, (int, np.integer)))


def protect_figure(fig: Any, *, rule: DisclosureRule | None = None, filters: Any = None,
                   sensitive: bool | None = None, release: pd.DataFrame | None = None) -> tuple[Any, int]:
    """A copy of a Plotly figure safe to leave the server. When it is sensitive (`sensitive`, else `filters`
    selecting a sensitive category, every category, or unknown): LSOA-level bars and choropleths take their values
    and hover text from `release` (a `published_lsoa_counts` frame; bars in its order) and LSOAs not in it are
    withheld ("[c]", no length or colour); point maps are emptied (their points are not LSOA blocks). Returns
    (figure, LSOAs and points withheld or banded). A figure that is not sensitive comes back as it is (the same
    object, not a copy: copying a map's boundaries on every page run costs tens of ms)."""
    import plotly.graph_objects as go

    rule = rule or DisclosureRule()
    is_sensitive = sensitive if sensitive is not None else selection_is_sensitive(_selection(None, filters), rule)
    if not is_sensitive:
        return fig, 0
    copy_ = go.Figure(fig)
    lookup = _release_lookup(release)
    order = [] if release is None else [str(v) for v in release["lsoa_name"].fillna(release["lsoa_code"])]
    withheld = 0
    for trace in copy_.data:
        if trace.type in POINT_TRACES:
            withheld += len(trace.lon) if getattr(trace, "lon", None) is not None else 0
            trace.update(lon=[], lat=[], text=None, hovertext=None, customdata=None, marker=dict(color=[], size=[]))
            continue
        if trace.type == "bar":
            labels = trace.y if trace.orientation == "h" else trace.x
        elif trace.type == "choropleth":
            labels = trace.locations
        else:
            continue
        if labels is not None and _looks_like_lsoas(labels):
            withheld += _protect_trace(trace, lookup, order)
            if trace.type == "bar":   # the category order is the arrays' order; the value axis fits the new values
                horizontal = trace.orientation == "h"
                numbers = any(v is not None for v in (trace.x if horizontal else trace.y))
                copy_.update_layout({"yaxis" if horizontal else "xaxis": dict(categoryorder="trace"),
                                     "xaxis" if horizontal else "yaxis": dict(
                                         range=None if numbers else [0, 1], autorange=numbers,
                                         showticklabels=numbers)})
    if withheld:
        note = release.attrs.get("disclosure_note", rule.describe()) if release is not None else rule.describe()
        # on lines of at most 120 characters, right-aligned at the plot's right edge: one long line ran off the
        # figure's left edge on a full-width map
        wrapped = "<br>".join(textwrap.wrap(note, 120)) or note
        copy_.add_annotation(text=wrapped, xref="paper", yref="paper", x=1, y=1, xanchor="right", yanchor="bottom",
                             showarrow=False, font=dict(size=10, color="#555"), align="right")
    return copy_, withheld


def protect_for_screen(frame_or_figure: Any, role: Any, filters: Any = None, *, release: pd.DataFrame | None = None,
                       rule: DisclosureRule | None = None) -> Any:
    """What may be sent to the browser of a user with this role (a role name or `access.roles.Capabilities`):
    for a role with disclosure control on screen (the Panel) the frame after `protect_frame` or the figure after
    `protect_figure` (values from `release` where given); for other roles the object unchanged."""
    from access.roles import Capabilities, capabilities_for

    capabilities = role if isinstance(role, Capabilities) else capabilities_for(str(role))
    if not capabilities.disclosure_on_screen:
        return frame_or_figure
    if isinstance(frame_or_figure, pd.DataFrame):
        return protect_frame(frame_or_figure, rule=rule, filters=filters).frame
    if hasattr(frame_or_figure, "data") and hasattr(frame_or_figure, "layout"):
        return protect_figure(frame_or_figure, rule=rule, filters=filters, release=release)[0]
    raise TypeError(f"protect_for_screen takes a DataFrame or a Plotly figure, not {type(frame_or_figure).__name__}")

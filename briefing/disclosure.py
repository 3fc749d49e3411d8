"""Disclosure control for every export (CSV, XLSX, PPTX tables).

The rule (documented for the Panel and applied before anything is written):

1. **Scope.** Counts at LSOA level (the frame has an `lsoa_code`/`lsoa_name` column) in sensitive
   categories: sexual offences (including the data.police.uk category "Violence and sexual offences",
   which contains them), domestic abuse and child victims. A row is sensitive when its category column
   names one of these, when a `domestic_abuse`/`child_victim` flag column is true, or when the whole table
   is about one (the caller's filters select a sensitive category, or `sensitive=True`). Counts above LSOA
   level (district, force) are not suppressed.
2. **Primary suppression.** A count from 1 to the threshold (default 4; `$CRIME_MONITOR_DISCLOSURE_THRESHOLD`
   or `DisclosureRule(threshold=...)`) is shown as "<5" (i.e. "<threshold+1"). Zero is shown: it reveals
   no victim.
3. **Secondary suppression.** A suppressed cell must not be recoverable by subtracting the visible cells
   from a total that is (or could be) shown on the same sheet or slide. Cells are grouped as a total would
   add them up: for each count column, the LSOAs sharing every other dimension (the same category and
   month: the force total; and the same district: the district total), and, for long tables over time,
   the months of one LSOA. In every group that has a suppressed cell, further cells are suppressed,
   smallest non-zero count first, until the group has at least two suppressed cells whose combined count
   exceeds the threshold. The extra cells are shown as "[c]" (confidential, the ONS marker). When a group
   cannot reach that (too few cells), all its cells are suppressed and any total row of that group in the
   same table is shown as "[c]" too.
4. **Derived values.** In a row with a suppressed count, values computed from it (rates per 1,000,
   changes, ratios, intervals, shares) are shown as "[c]": a rate times the (published) population would
   give the count back. Population and area columns stay visible.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from etl.sources.common import district_from_lsoa_name

DEFAULT_THRESHOLD = 4
_DISTRICT_KEY = "__district_key"
SECONDARY_MARKER = "[c]"
GEOGRAPHY_COLUMNS = ("lsoa_code", "lsoa_name", "lsoa")
# columns that describe an LSOA rather than split it (never grouping keys)
GEOGRAPHY_ATTRIBUTES = ("lsoa_name", "lsoa_code", "lsoa", "msoa_code", "msoa_name", "local_authority_code",
                        "local_authority_name", "region_code", "region_name", "police_force_name",
                        "centroid_longitude", "centroid_latitude", "longitude", "latitude")
CATEGORY_COLUMNS = ("crime_type", "category", "subcategory", "offence_description", "measure")
FLAG_COLUMNS = ("domestic_abuse", "child_victim")
# values that are not derived from the counts (kept visible in suppressed rows)
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


def _threshold_from_env() -> int:
    raw = os.environ.get("CRIME_MONITOR_DISCLOSURE_THRESHOLD")
    if not raw:
        return DEFAULT_THRESHOLD
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"CRIME_MONITOR_DISCLOSURE_THRESHOLD must be a whole number, not {raw!r}") from None
    if value < 1:
        raise ValueError(f"CRIME_MONITOR_DISCLOSURE_THRESHOLD must be at least 1, not {value}")
    return value


@dataclass(frozen=True)
class DisclosureRule:
    """Counts 1..threshold in sensitive categories at LSOA level are suppressed."""

    threshold: int = field(default_factory=_threshold_from_env)
    sensitive_categories: frozenset[str] = SENSITIVE_CATEGORIES
    sensitive_words: tuple[str, ...] = SENSITIVE_WORDS

    def __post_init__(self) -> None:
        if int(self.threshold) < 1:
            raise ValueError(f"disclosure threshold must be at least 1, not {self.threshold}")

    @property
    def marker(self) -> str:
        """What a suppressed small count shows: '<5' for the default threshold 4."""
        return f"<{self.threshold + 1}"

    def is_sensitive(self, category: Any) -> bool:
        """True for a sensitive category name (case-insensitive; names containing 'sexual', 'rape',
        'domestic' or 'child' count too)."""
        if category is None or (isinstance(category, float) and np.isnan(category)):
            return False
        name = str(category).strip().lower()
        return name in self.sensitive_categories or any(word in name for word in self.sensitive_words)

    def describe(self) -> str:
        return (
            f"LSOA-level counts of 1 to {self.threshold} in sensitive categories (sexual offences, domestic "
            f"abuse, child victims) are shown as \"{self.marker}\"; further cells marked \"{SECONDARY_MARKER}\" "
            "are withheld so that no small count can be worked out by subtraction from a total."
        )


@dataclass
class ProtectedTable:
    """A frame after disclosure control: markers in place of withheld values (object columns)."""

    frame: pd.DataFrame
    suppressed: pd.DataFrame          # bool, same shape: True where a value is withheld
    primary: int = 0
    secondary: int = 0
    applies: bool = False             # the table is LSOA-level with sensitive rows
    note: str = ""


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


def _filters_sensitive(filters: Any, rule: DisclosureRule) -> bool:
    categories = getattr(filters, "categories", None) or ()
    return any(rule.is_sensitive(c) for c in categories)


def sensitive_rows(
    frame: pd.DataFrame,
    rule: DisclosureRule,
    *,
    filters: Any = None,
    sensitive: bool | None = None,
    category_column: str | None = None,
) -> pd.Series:
    """Which rows are in a sensitive category (see the module rule 1)."""
    if sensitive is not None:
        return pd.Series(bool(sensitive), index=frame.index)
    flags = pd.Series(_filters_sensitive(filters, rule), index=frame.index)
    columns = [category_column] if category_column else [c for c in CATEGORY_COLUMNS if c in frame.columns]
    for column in columns:
        flags |= frame[column].map(rule.is_sensitive).astype(bool)
    for column in FLAG_COLUMNS:
        if column in frame.columns:
            flags |= frame[column].map(lambda v: str(v).strip().lower() in ("true", "1", "y", "yes")).astype(bool)
    return flags


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
    """Apply the module's rule to a table about to be exported. The input is not modified.

    count_columns: the count columns (default `default_count_columns`). geography_column: the LSOA column
    (default: the first of lsoa_code, lsoa_name, lsoa present); a frame without one is not LSOA-level and
    comes back unchanged. Rows whose LSOA is empty or 'Total'/'All' are total rows.
    """
    rule = rule or DisclosureRule()
    work = frame.reset_index(drop=True).copy()
    suppressed = pd.DataFrame(False, index=work.index, columns=work.columns)
    geography = geography_column or next((c for c in GEOGRAPHY_COLUMNS if c in work.columns), None)
    counts = list(count_columns) if count_columns is not None else default_count_columns(work)
    if geography is None or not counts or work.empty:
        return ProtectedTable(work, suppressed, note="not LSOA-level: no disclosure control needed")
    is_sensitive = sensitive_rows(work, rule, filters=filters, sensitive=sensitive, category_column=category_column)
    if not is_sensitive.any():
        return ProtectedTable(work, suppressed, note="no sensitive category: no disclosure control needed")

    # the district of each LSOA (its column, else derived from the LSOA name): district totals group by it
    district_key = work["district"].astype("string") if "district" in work.columns else None
    if "lsoa_name" in work.columns:
        derived = work["lsoa_name"].map(lambda n: district_from_lsoa_name(n) if isinstance(n, str) else None)
        derived = derived.astype("string")
        district_key = derived if district_key is None else district_key.fillna(derived)
    if district_key is not None:
        work[_DISTRICT_KEY] = district_key
    is_total = work[geography].map(_is_total_label).astype(bool)
    values = {c: pd.to_numeric(work[c], errors="coerce").to_numpy(dtype="float64") for c in counts}
    primary = {c: (is_sensitive & ~is_total).to_numpy() & (values[c] >= 1) & (values[c] <= rule.threshold) for c in counts}
    hidden = {c: primary[c].copy() for c in counts}
    hidden_total = {c: np.zeros(len(work), dtype=bool) for c in counts}

    # grouping keys: dimensions other than the LSOA and its attributes, and other than counts/derived values
    numeric_other = [c for c in work.columns if c not in counts and pd.api.types.is_numeric_dtype(work[c])
                     and not pd.api.types.is_bool_dtype(work[c])]
    dims = [c for c in work.columns if c not in counts and c not in numeric_other and c not in GEOGRAPHY_ATTRIBUTES
            and c not in (geography, "district", _DISTRICT_KEY)]
    groupings: list[list[str]] = [dims]                  # force total of each category/month
    if _DISTRICT_KEY in work.columns:
        groupings.append(dims + [_DISTRICT_KEY])         # district totals
    for dim in dims:                                     # e.g. the months of one LSOA
        groupings.append([geography] + [d for d in dims if d != dim])

    def group_indices(keys: list[str], rows: np.ndarray) -> Iterable[np.ndarray]:
        if not keys:
            yield np.flatnonzero(rows)
            return
        sub = work.loc[rows, keys].astype("string").fillna("\x00")
        for _, index in sub.groupby(keys, sort=False).groups.items():
            yield np.asarray(index)

    cell_rows = (is_sensitive & ~is_total).to_numpy()
    changed = True
    rounds = 0
    while changed and rounds < 50:
        changed = False
        rounds += 1
        for column in counts:
            v = values[column]
            for keys in groupings:
                for members in group_indices(keys, cell_rows):
                    members = members[~np.isnan(v[members])]
                    hidden_here = members[hidden[column][members]]
                    if len(hidden_here) == 0:
                        continue
                    if len(hidden_here) >= 2 and v[hidden_here].sum() > rule.threshold:
                        continue
                    visible = members[~hidden[column][members]]
                    order = sorted(visible, key=lambda i: (v[i] <= 0, v[i]))
                    for candidate in order:
                        hidden[column][candidate] = True
                        changed = True
                        hidden_here = members[hidden[column][members]]
                        if len(hidden_here) >= 2 and v[hidden_here].sum() > rule.threshold:
                            break
                    hidden_here = members[hidden[column][members]]
                    if not (len(hidden_here) >= 2 and v[hidden_here].sum() > rule.threshold):
                        # cannot protect by cells alone: withhold this group's totals in the table
                        if geography in keys or not is_total.any():
                            continue
                        tot = is_total.to_numpy().copy()
                        for key in keys:
                            value = work.at[members[0], key]
                            column_values = work[key]
                            tot &= (column_values.isna() if pd.isna(value) else column_values == value).to_numpy()
                        if not hidden_total[column][tot].all():
                            hidden_total[column] |= tot
                            changed = True

    out = work.drop(columns=[_DISTRICT_KEY], errors="ignore")
    primary_total = 0
    secondary_total = 0
    withheld_rows = np.zeros(len(work), dtype=bool)
    for column in counts:
        out[column] = out[column].astype(object)
        for i in np.flatnonzero(hidden[column] | hidden_total[column]):
            if primary[column][i]:
                out.at[i, column] = rule.marker
                primary_total += 1
            else:
                out.at[i, column] = SECONDARY_MARKER
                secondary_total += 1
            suppressed.at[i, column] = True
            withheld_rows[i] = True
    suppressed = suppressed.drop(columns=[_DISTRICT_KEY], errors="ignore")
    derived = [c for c in numeric_other if c not in SAFE_NUMERIC_COLUMNS]
    for column in derived:
        out[column] = out[column].astype(object)
        for i in np.flatnonzero(withheld_rows):
            if not pd.isna(work.at[i, column]):
                out.at[i, column] = SECONDARY_MARKER
                suppressed.at[i, column] = True
    note = rule.describe() if primary_total or secondary_total else "no small counts in sensitive categories"
    out.attrs = {**frame.attrs, "disclosure_note": note}
    return ProtectedTable(out, suppressed, primary_total, secondary_total, True, note)


_LSOA_CODE = re.compile(r"^[EW]01\d{6}$")
_LSOA_NAME = re.compile(r"^.+ \d{3}[A-Z]$")


def _looks_like_lsoas(labels: Sequence[Any]) -> bool:
    texts = [str(v) for v in labels if v is not None]
    return bool(texts) and all(_LSOA_CODE.match(t) or _LSOA_NAME.match(t) for t in texts)


def protect_figure(fig: Any, *, rule: DisclosureRule | None = None, filters: Any = None,
                   sensitive: bool | None = None) -> tuple[Any, int]:
    """A copy of a Plotly figure with the module's rule applied to LSOA-level traces (bars whose category
    axis, or choropleths whose locations, are LSOA codes or names) when the chart is sensitive (`sensitive`,
    or `filters` selecting a sensitive category): withheld bars lose their length and show "<5"/"[c]",
    withheld areas are left uncoloured. Returns (figure, cells withheld). Other figures come back unchanged."""
    import plotly.graph_objects as go

    rule = rule or DisclosureRule()
    copy_ = go.Figure(fig)
    is_sensitive = sensitive if sensitive is not None else _filters_sensitive(filters, rule)
    if not is_sensitive:
        return copy_, 0
    withheld = 0
    for trace in copy_.data:
        if trace.type == "bar":
            horizontal = trace.orientation == "h"
            labels, values = (trace.y, trace.x) if horizontal else (trace.x, trace.y)
        elif trace.type == "choropleth":
            labels, values = trace.locations, trace.z
        else:
            continue
        if labels is None or values is None or not _looks_like_lsoas(labels):
            continue
        frame = pd.DataFrame({"lsoa_code": list(labels), "count": pd.to_numeric(pd.Series(list(values)), errors="coerce")})
        result = protect_frame(frame, rule=rule, sensitive=True)
        hidden = result.suppressed["count"].to_numpy()
        if not hidden.any():
            continue
        withheld += int(hidden.sum())
        new_values = [None if h else v for v, h in zip(frame["count"].tolist(), hidden)]
        if trace.type == "bar":
            shown = [result.frame.at[i, "count"] if hidden[i] else trace.text[i] if trace.text is not None
                     and not isinstance(trace.text, str) else f"{frame.at[i, 'count']:,.0f}" for i in range(len(frame))]
            if horizontal:
                trace.x = new_values
            else:
                trace.y = new_values
            trace.text = shown
            trace.hovertext = None
        else:
            trace.z = new_values
            trace.text = [result.frame.at[i, "count"] if hidden[i] else t for i, t in
                          enumerate(trace.text if trace.text is not None and not isinstance(trace.text, str)
                                    else [None] * len(frame))]
    if withheld:
        copy_.add_annotation(text=rule.describe(), xref="paper", yref="paper", x=1, y=1, xanchor="right",
                             yanchor="bottom", showarrow=False, font=dict(size=10, color="#555"))
    return copy_, withheld

"""Streamlit-side helpers shared by app.py and every page: the read-only DuckDB connection, cached
metric calls, the shared filter bar kept in the URL, the demo banner, tables with CSV downloads,
charts, and "not loaded" notices. No SQL and no statistics here (those live in metrics/).

A page reads like a layout:

    import ui
    from metrics import series
    ctx = ui.context()                                   # filters, comparison, force, as-at, ...
    frame = ui.metric(series.monthly_series, "crimes", filters=ctx.filters)
    ui.chart(charts.trend_chart(frame, ...), key="trend")
    ui.table(frame, "monthly-crimes")
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

from charts.theme import PLOTLY_CONFIG
from metrics.db import connect, database_version, resolve_db_path
from metrics.filters import Filters, add_months, month_start
from metrics.plan import PRESETS, Comparison, Measure, period_label

# ---------------------------------------------------------------------------------------------
# connection and cached metric calls
# ---------------------------------------------------------------------------------------------
_thread_local = threading.local()


def db_path() -> Path:
    """The warehouse the app reads ($CRIME_MONITOR_DB or data/warehouse.duckdb)."""
    return resolve_db_path(None)


def db_version() -> str:
    """Changes whenever a load swaps in a new warehouse file (the cache key of every query)."""
    return database_version(db_path())


def _close(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.close()
    except Exception:  # already closed
        pass


@st.cache_resource(max_entries=2, show_spinner=False, on_release=_close)
def _connection(path: str, version: str) -> duckdb.DuckDBPyConnection:
    """One read-only connection per warehouse file version (a load swaps in a new file: new version)."""
    return connect(path)


def cursor() -> duckdb.DuckDBPyConnection:
    """A cursor on the shared read-only connection for this thread (DuckDB connections are not
    thread-safe; cursors are)."""
    path, version = str(db_path()), db_version()
    con = _connection(path, version)
    key = (path, version, id(con))
    cursors: dict = getattr(_thread_local, "cursors", {})
    cur = cursors.get(key)
    if cur is None:
        cur = con.cursor()
        _thread_local.cursors = {key: cur}
    return cur


@st.cache_data(show_spinner=False, max_entries=2000)
def _cached_call(path: str, version: str, module: str, name: str, args: tuple, kwargs: tuple) -> Any:
    function = getattr(importlib.import_module(module), name)
    return function(cursor(), *args, **dict(kwargs))


def metric(function: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call a metrics function `function(con, *args, **kwargs)` through the cache, keyed on the
    warehouse version, the function and its arguments (which must be hashable values: Filters,
    Comparison, dates, tuples, strings)."""
    return _cached_call(str(db_path()), db_version(), function.__module__, function.__qualname__, args,
                        tuple(sorted(kwargs.items())))


# ---------------------------------------------------------------------------------------------
# the views (app.py builds st.navigation from this; tests run every one)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class View:
    """One page. url_path is the file's stem: on a fresh server's very first run Streamlit resolves the
    URL against the pages/ folder by file name, so the two must agree (see context())."""

    path: str          # page file, relative to the project root
    title: str
    icon: str
    url_path: str
    section: str


VIEWS: tuple[View, ...] = (
    View("pages/overview.py", "Overview", ":material/dashboard:", "overview", "Overview"),
    View("pages/local_policing.py", "1 · Local policing", ":material/local_police:", "local_policing", "Plan priorities"),
    View("pages/asb.py", "2 · Anti-social behaviour", ":material/campaign:", "asb", "Plan priorities"),
    View("pages/domestic_abuse.py", "3 · Domestic abuse", ":material/home:", "domestic_abuse", "Plan priorities"),
    View("pages/serious_violence.py", "4 · Serious violence", ":material/warning:", "serious_violence", "Plan priorities"),
    View("pages/gangs.py", "5 · Gangs and organised crime", ":material/groups:", "gangs", "Plan priorities"),
    View("pages/children.py", "6 · Children and vulnerable people", ":material/child_care:", "children", "Plan priorities"),
    View("pages/roads.py", "7 · Roads", ":material/directions_car:", "roads", "Plan priorities"),
    View("pages/fraud.py", "Fraud", ":material/credit_card:", "fraud", "More views"),
    View("pages/covid.py", "COVID-19 impact", ":material/coronavirus:", "covid", "More views"),
    View("pages/weekly.py", "Weekly figures", ":material/calendar_month:", "weekly", "More views"),
    View("pages/data.py", "Data", ":material/database:", "data", "More views"),
)
PROJECT_ROOT = Path(__file__).resolve().parent


def available_views() -> list[View]:
    """The views whose page file exists (all twelve once every page is written)."""
    return [v for v in VIEWS if (PROJECT_ROOT / v.path).exists()]


# ---------------------------------------------------------------------------------------------
# page context: what the shared filter bar decided for this run
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PageContext:
    """The shared state every page reads.

    filters: force, districts and crime types chosen in the filter bar.
    comparison: the comparison periods (None when nothing is loaded); first_month/last_month: the loaded
    crime months for the force; dataset: meta.dataset ('demo' for the synthetic warehouse).
    """

    filters: Filters
    comparison: Comparison | None
    force_id: str | None
    force_name: str
    forces: tuple[str, ...]
    first_month: date | None
    last_month: date | None
    is_demo: bool
    version: str
    notices: tuple[str, ...] = field(default_factory=tuple)

    @property
    def force_filters(self) -> Filters:
        """Only the force (all districts, all categories)."""
        return Filters(force_id=self.force_id)

    @property
    def area_filters(self) -> Filters:
        """Force and districts, without the crime-type choice (for measures with their own categories)."""
        return Filters(force_id=self.force_id, districts=self.filters.districts)

    @property
    def area_label(self) -> str:
        if self.filters.districts:
            names = list(self.filters.districts)
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            return f"{self.force_name}: {shown}"
        return self.force_name


CONTEXT_KEY = "_page_context"


def context() -> PageContext:
    """The PageContext app.py computed for this run (pages call this first)."""
    ctx = st.session_state.get(CONTEXT_KEY)
    if ctx is None:
        # The very first run of a fresh server treats a `pages/` folder as an old-style multipage app
        # (Streamlit runs the page file alone, without app.py) until app.py has called st.navigation once.
        # Switch that off and run again through app.py.
        from streamlit.runtime.pages_manager import PagesManager

        if PagesManager.uses_pages_directory:
            PagesManager.uses_pages_directory = False
            st.rerun()
        # another session may have switched it off while this one's page-alone run was starting
        # (several users opening links right after a restart): rerun once through app.py too
        if not st.session_state.get("_context_rerun"):
            st.session_state["_context_rerun"] = True
            st.rerun()
        raise RuntimeError("ui.context() called before ui.shell(): run the dashboard through app.py")
    return ctx


# ---------------------------------------------------------------------------------------------
# URL state
# ---------------------------------------------------------------------------------------------
URL_KEYS = ("force", "district", "crime_type", "compare", "pre", "post")
WIDGET = {name: f"flt_{name}" for name in ("force", "district", "crime_type", "compare", "pre", "post")}
_WRITTEN = "_url_written"
_INITIALISED = "_url_initialised"


def _url_snapshot(keys: Sequence[str]) -> dict[str, tuple[str, ...]]:
    return {key: tuple(st.query_params.get_all(key)) for key in keys if st.query_params.get_all(key)}


def _write_url(values: dict[str, str | Sequence[str] | None], keys: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Set our keys in the URL (lists become repeated keys); None / empty removes a key."""
    written = {}
    for key in keys:
        value = values.get(key)
        if value is None or value == "" or (isinstance(value, (list, tuple)) and not value):
            if key in st.query_params:
                del st.query_params[key]
            continue
        if isinstance(value, (list, tuple)):
            value_list = [str(v) for v in value]
            if st.query_params.get_all(key) != value_list:
                st.query_params[key] = value_list
            written[key] = tuple(value_list)
        else:
            if st.query_params.get(key) != str(value):
                st.query_params[key] = str(value)
            written[key] = (str(value),)
    return written


def _month_text(value: date) -> str:
    return f"{value:%Y-%m}"


def _parse_period(text: str | None) -> tuple[date, date] | None:
    """'2019-03..2020-02' -> (date(2019,3,1), date(2020,2,1)); None when malformed."""
    if not text or ".." not in text:
        return None
    try:
        first, last = (date.fromisoformat(part.strip() + "-01") for part in text.split("..", 1))
    except ValueError:
        return None
    return (first, last) if first <= last else None


def _months(first: date, last: date) -> list[date]:
    out, current = [], month_start(first)
    while current <= last:
        out.append(current)
        current = add_months(current, 1)
    return out


# ---------------------------------------------------------------------------------------------
# the shell: banner, filter bar, context
# ---------------------------------------------------------------------------------------------
def _default_force(force_ids: Sequence[str], with_crimes: Sequence[str]) -> str | None:
    for candidate in ("essex",):
        if candidate in force_ids:
            return candidate
    if with_crimes:
        return with_crimes[0]
    return force_ids[0] if force_ids else None


def shell() -> PageContext | None:
    """Render the demo banner and the shared filter bar (sidebar), sync it with the URL and store the
    PageContext for the page. Returns None (after explaining why) when there is no warehouse."""
    from metrics import inventory, series
    from metrics.plan import resolve_comparison

    path = db_path()
    if not path.exists():
        st.error(
            f"No warehouse at `{path}`. Load data with `python -m etl load <files>` or build the synthetic demo "
            "with `python -m etl demo`, then reload this page."
        )
        st.session_state.pop(CONTEXT_KEY, None)
        return None
    demo = metric(inventory.is_demo)
    if demo:
        st.warning("**Demo data — synthetic.** Every number on this page comes from a generated warehouse, "
                   "not from police records.", icon=":material/warning:")

    forces_frame = metric(series.forces)
    force_ids = [str(f) for f in forces_frame["force_id"]]
    force_names = dict(zip(forces_frame["force_id"], forces_frame["force_name"]))
    with_crimes = [str(f) for f in forces_frame.loc[forces_frame["crimes"], "force_id"]] if len(forces_frame) else []

    notices: list[str] = []
    url_now = _url_snapshot(URL_KEYS)
    first_run = not st.session_state.get(_INITIALISED)
    apply_url = first_run or (url_now and url_now != st.session_state.get(_WRITTEN))

    # --- force -----------------------------------------------------------------------------------
    default_force = _default_force(force_ids, with_crimes)
    if apply_url:
        wanted = st.query_params.get("force")
        if wanted and wanted not in force_ids:
            notices.append(f"The link asks for force “{wanted}”, which is not loaded: showing "
                           f"{force_names.get(default_force, 'all forces')} instead.")
            wanted = None
        st.session_state[WIDGET["force"]] = wanted or default_force
    if st.session_state.get(WIDGET["force"]) not in force_ids:
        st.session_state[WIDGET["force"]] = default_force

    sidebar = st.sidebar
    sidebar.markdown("### Filters")
    if force_ids:
        force_id = sidebar.selectbox("Force", force_ids, key=WIDGET["force"],
                                     format_func=lambda f: force_names.get(f, f),
                                     help="Forces with data loaded in the warehouse.")
    else:
        force_id = None
        sidebar.caption("No force data loaded yet.")
    force_name = force_names.get(force_id, "All forces") if force_id else "All forces"

    # --- districts and crime types -----------------------------------------------------------------
    district_options = metric(series.districts, "crimes", force_id) if force_id else []
    type_options = metric(series.categories, "crimes", Filters(force_id=force_id)) if force_id else []
    for name, options, label in (("district", district_options, "district"), ("crime_type", type_options, "crime type")):
        key = WIDGET[name]
        if apply_url:
            wanted = list(st.query_params.get_all(name))
            unknown = [w for w in wanted if w not in options]
            if unknown:
                notices.append(f"Ignored {label}(s) in the link that are not in the data for {force_name}: "
                               + ", ".join(f"“{u}”" for u in unknown) + ".")
            st.session_state[key] = [w for w in wanted if w in options]
        elif key in st.session_state:
            st.session_state[key] = [w for w in st.session_state[key] if w in options]
    districts = sidebar.multiselect("Districts", district_options, key=WIDGET["district"],
                                    placeholder="All districts", help="Empty = the whole force area.")
    crime_types = sidebar.multiselect("Crime types", type_options, key=WIDGET["crime_type"],
                                      placeholder="All crime types and ASB",
                                      help="Applies to views that show any crime type; a plan measure keeps "
                                           "its own categories.")

    # --- comparison ------------------------------------------------------------------------------
    first, last = metric(series.data_range, "crimes", Filters(force_id=force_id)) if force_id else (None, None)
    if first is None and force_id:
        # a force with no street data (e.g. only fraud or STATS19): compare over its other families
        for family_name in ("incidents", "casualties", "fraud", "stop_search", "counts"):
            first, last = metric(series.data_range, family_name, Filters(force_id=force_id))
            if first is not None:
                break
    preset_ids = list(PRESETS)
    if apply_url:
        wanted = st.query_params.get("compare")
        if wanted and wanted not in PRESETS:
            notices.append(f"Unknown comparison “{wanted}” in the link: using “{PRESETS['latest12']}”.")
            wanted = None
        st.session_state[WIDGET["compare"]] = wanted or "latest12"
    preset = sidebar.radio("Compare", preset_ids, key=WIDGET["compare"], format_func=lambda p: PRESETS[p])
    custom_pre = custom_post = None
    if first is not None and last is not None:
        months = _months(first, last)
        labels = {m: f"{m:%b %Y}" for m in months}
        if apply_url:
            for name in ("pre", "post"):
                text = st.query_params.get(name)
                parsed = _parse_period(text)
                if text and (parsed is None or parsed[0] not in labels or parsed[1] not in labels):
                    if preset == "custom":
                        notices.append(f"The {name} period “{text}” in the link is not a range of loaded months "
                                       f"(YYYY-MM..YYYY-MM within {period_label((first, last))}): using the default.")
                    parsed = None
                if parsed:
                    st.session_state[WIDGET[name]] = parsed
        if preset == "custom":
            default_post = (months[max(len(months) // 2, 1) if len(months) > 1 else 0], months[-1])
            default_pre = (months[0], months[max(len(months) // 2 - 1, 0)])
            for name, default in (("pre", default_pre), ("post", default_post)):
                value = st.session_state.get(WIDGET[name])
                if not (isinstance(value, tuple) and len(value) == 2 and value[0] in labels and value[1] in labels):
                    st.session_state[WIDGET[name]] = default
            if len(months) > 1:
                custom_post = sidebar.select_slider("Current period", options=months, key=WIDGET["post"],
                                                    format_func=lambda m: labels[m])
                custom_pre = sidebar.select_slider("Baseline period", options=months, key=WIDGET["pre"],
                                                   format_func=lambda m: labels[m])
    comparison = resolve_comparison(first, last, preset, custom_pre, custom_post)
    if comparison is not None:
        sidebar.caption(f"**Current:** {period_label(comparison.post)}  \n**Baseline:** {period_label(comparison.pre)}")
        if comparison.notice:
            notices.append(comparison.notice)

    # --- write the URL -----------------------------------------------------------------------------
    url_values: dict[str, Any] = {
        "force": force_id if force_id and force_id != default_force else None,
        "district": list(districts),
        "crime_type": list(crime_types),
        "compare": preset if preset != "latest12" else None,
        "pre": f"{_month_text(custom_pre[0])}..{_month_text(custom_pre[1])}" if preset == "custom" and custom_pre else None,
        "post": f"{_month_text(custom_post[0])}..{_month_text(custom_post[1])}" if preset == "custom" and custom_post else None,
    }
    st.session_state[_WRITTEN] = _write_url(url_values, URL_KEYS)
    st.session_state[_INITIALISED] = True

    ctx = PageContext(
        filters=Filters(force_id=force_id, districts=tuple(districts), categories=tuple(crime_types)),
        comparison=comparison,
        force_id=force_id,
        force_name=force_name,
        forces=tuple(force_ids),
        first_month=first,
        last_month=last,
        is_demo=bool(demo),
        version=db_version(),
        notices=tuple(notices),
    )
    st.session_state[CONTEXT_KEY] = ctx
    return ctx


def show_notices(ctx: PageContext) -> None:
    """The filter bar's notices (invalid link parameters, comparison fall-backs), visibly."""
    for notice in ctx.notices:
        st.info(notice, icon=":material/info:")


# ---------------------------------------------------------------------------------------------
# page-level URL-backed widgets (for filters only one page has)
# ---------------------------------------------------------------------------------------------
def url_choice(label: str, options: Sequence[Any], key: str, default: Any = None, *,
               widget: str = "segmented", format_func: Callable[[Any], str] = str, help: str | None = None,
               container: Any = None) -> Any:
    """A single-choice widget (widget = 'segmented' | 'radio' | 'selectbox') whose value is kept in the
    URL under `key`. An invalid value in the link falls back to `default` with a visible notice."""
    options = list(options)
    default = options[0] if default is None and options else default
    wkey = f"page_{key}"
    text_options = {str(o): o for o in options}
    url_value = st.query_params.get(key)
    last_written = st.session_state.get(f"_written_{key}")
    if wkey not in st.session_state or (url_value is not None and url_value != last_written):
        if url_value is not None and url_value not in text_options:
            st.info(f"“{url_value}” is not a valid {label.lower()} (link parameter `{key}`): showing "
                    f"“{format_func(default)}”.", icon=":material/info:")
        st.session_state[wkey] = text_options.get(url_value, default) if url_value is not None else default
    holder = container or st
    if widget == "radio":
        value = holder.radio(label, options, key=wkey, format_func=format_func, horizontal=True, help=help)
    elif widget == "selectbox":
        value = holder.selectbox(label, options, key=wkey, format_func=format_func, help=help)
    else:
        value = holder.segmented_control(label, options, key=wkey, format_func=format_func, help=help,
                                         selection_mode="single")
        if value is None:
            value = default
    if value == default:
        if key in st.query_params:
            del st.query_params[key]
        st.session_state[f"_written_{key}"] = None
    else:
        st.query_params[key] = str(value)
        st.session_state[f"_written_{key}"] = str(value)
    return value


# ---------------------------------------------------------------------------------------------
# layout helpers
# ---------------------------------------------------------------------------------------------
def page_header(title: str, ctx: PageContext, intro: str | None = None) -> None:
    """Title, the area and periods in view, and the filter-bar notices."""
    st.title(title)
    bits = [ctx.area_label]
    if ctx.filters.categories:
        bits.append(", ".join(ctx.filters.categories))
    if ctx.comparison is not None:
        bits.append(f"comparing {ctx.comparison.label}")
    if ctx.last_month is not None:
        bits.append(f"data to {ctx.last_month:%B %Y}")
    st.caption(" · ".join(bits))
    if intro:
        st.markdown(intro)
    show_notices(ctx)
    pack_downloads(ctx)




def chart(figure: Any, key: str) -> None:
    """Place a Plotly figure at full width (its title, axes and caption are part of the figure)."""
    st.plotly_chart(figure, key=key, width="stretch", config=PLOTLY_CONFIG, theme=None)  # offline topojson
    chart_downloads(figure, key)


def export_provenance() -> dict:
    """What produced an export from this page: filters, comparison, load fingerprint, version, time."""
    from briefing.provenance import provenance_for

    ctx = st.session_state.get(CONTEXT_KEY)
    extra = {}
    if ctx is not None and ctx.comparison is not None:
        extra = {"period": list(ctx.comparison.post), "comparison": list(ctx.comparison.pre)}
    return provenance_for(cursor(), ctx.filters if ctx is not None else None, **extra)


def chart_downloads(figure: Any, key: str) -> None:
    """Download buttons for a chart: PNG (slide size), SVG, PDF (briefing.chart_downloads: rendered only
    when clicked; disclosure control for LSOA-level charts of sensitive categories)."""
    from briefing.images import chart_downloads as downloads

    ctx = st.session_state.get(CONTEXT_KEY)
    items = downloads(figure, key, provenance=export_provenance(), lazy=True,
                      filters=ctx.filters if ctx is not None else None)
    with st.popover("Download chart", icon=":material/download:", key=f"popover_download_{key}"):
        for item in items:
            st.download_button(item.label, data=item.data, file_name=item.file_name, mime=item.mime,
                               key=f"download_{key}_{item.file_name.rsplit('.', 1)[-1]}", on_click="ignore")


def table_downloads(frame: pd.DataFrame, name: str, columns: Sequence[Any], *, caption: str | None = None) -> None:
    """CSV and XLSX downloads of a table (briefing.table_downloads: disclosure control; the XLSX has title,
    units, source, as-at date and a provenance sheet)."""
    from briefing.tables import table_downloads as downloads

    ctx = st.session_state.get(CONTEXT_KEY)
    title = name.replace("-", " ").replace("_", " ").capitalize()
    items = downloads(frame, title, "as in the column names", "Crime Plan Monitor warehouse (see the Provenance sheet)",
                      ctx.last_month if ctx is not None else None, ctx.filters if ctx is not None else None,
                      provenance=export_provenance(), basename=name)
    for column, item in zip(columns, items):
        with column:
            st.download_button(f"Download {item.label.split(' ')[0]}", data=item.data, file_name=item.file_name,
                               mime=item.mime, key=f"download_{name}_{item.file_name.rsplit('.', 1)[-1]}",
                               on_click="ignore", icon=":material/download:")


def pack_downloads(ctx: PageContext) -> None:
    """The one-click briefing pack (PPTX, or the same as one PDF) for the current force, districts and
    comparison (briefing.pack_downloads: built only when clicked)."""
    if ctx.comparison is None:
        return
    from briefing.pack import pack_downloads as downloads

    with st.popover("Briefing pack", icon=":material/slideshow:", key="popover_briefing_pack"):
        st.caption(f"Every plan priority for {ctx.area_label}, {ctx.comparison.label}: takes up to a minute.")
        for item in downloads(db_path(), ctx.comparison, ctx.area_filters, pdf=True):
            st.download_button(item.label, data=item.data, file_name=item.file_name, mime=item.mime,
                               key=f"download_pack_{item.file_name.rsplit('.', 1)[-1]}", on_click="ignore")


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as UTF-8 CSV (lists joined with ';' so every cell is plain text)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].map(lambda v: isinstance(v, (list, tuple))).any():
            out[column] = out[column].map(lambda v: ";".join(str(x) for x in v) if isinstance(v, (list, tuple)) else v)
    return out.to_csv(index=False).encode("utf-8")


def download(frame: pd.DataFrame, name: str, label: str = "Download CSV", key: str | None = None) -> None:
    """CSV and XLSX download buttons for the frame (files `<name>.csv`, `<name>.xlsx`; briefing.table_downloads:
    disclosure control, provenance). `label` and `key` are kept for callers; the buttons say CSV and XLSX."""
    table_downloads(frame, name, [st.container(), st.container()])


def table(frame: pd.DataFrame, name: str, *, column_config: dict | None = None, caption: str | None = None,
          height: int | str = "auto", download_frame: pd.DataFrame | None = None, with_download: bool = True) -> None:
    """A table with a CSV download under it. `download_frame` (default: the frame shown) is what the CSV holds.
    with_download=False only for a provisional table that is re-drawn, with its download, in the same run."""
    if frame.attrs:
        frame = frame.copy()
        frame.attrs = {}  # Arrow cannot serialise e.g. dates in attrs; the table does not need them
    if height == "auto" and len(frame) <= 40:
        height = 35 * (len(frame) + 1) + 3  # show every row (no inner scrolling) for short tables
    st.dataframe(frame, hide_index=True, width="stretch", column_config=column_config, height=height)
    if not with_download:
        if caption:
            st.caption(caption)
        return
    cols = st.columns([1, 1, 2])
    table_downloads(download_frame if download_frame is not None else frame, name, cols[:2], caption=caption)
    if caption:
        with cols[2]:
            st.caption(caption)


def not_loaded(item: Measure, proxies: Sequence[Measure] = (), command: str | None = None) -> None:
    """Say exactly which file would supply a measure and how to load it, and name the public proxies shown."""
    text = (f"**{item.label} — not loaded.** This measure needs {item.needs_file}. Load it with:")
    st.warning(text, icon=":material/folder_open:")
    st.code(command or item.load_command, language="bash", wrap_lines=True)
    if proxies:
        st.caption("Shown instead, labelled as proxies: " + "; ".join(p.label for p in proxies) + ".")


def metric_value(value: float | int | None, unit: str = "", decimals: int = 0) -> str:
    """'12,345' (or '—' when missing)."""
    if value is None or pd.isna(value):
        return "—"
    return f"{value:,.{decimals}f}" + (f" {unit}" if unit else "")


__all__ = [
    "PageContext", "chart", "context", "csv_bytes", "cursor", "db_path", "db_version", "download", "metric",
    "metric_value", "not_loaded", "page_header", "shell", "show_notices", "table", "url_choice",
]

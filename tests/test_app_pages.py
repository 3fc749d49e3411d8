"""AppTest: every view of the dashboard runs through app.py on the real Essex data and on the demo warehouse, with
no exception and no empty ("None"/"nan") cell, and what the shell promises holds: navigation from the one list
of views, the demo banner, filters kept in the URL with a notice for every invalid value (quoted literally, never
rendered as markdown), the comparison notice only where the comparison applies, the crime-type filter claimed only
where it applies, change chips that say what they are, and no export file built on a page run. Key numbers are
checked against the raw data.police.uk files, plain SQL and scipy."""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest
from scipy import stats
from streamlit.testing.v1 import AppTest

import ui
import views
from tests.conftest import PROJECT_ROOT, static_tables

ASB = "Anti-social behaviour"
VIEW_IDS = [v.id for v in views.VIEWS]
BAD_CELLS = {"None", "nan", "NaN", "<NA>", "NaT", "null"}
# keep the demo runs fast: a short baseline, so no expected model is fitted (under 24 months of history)
DEMO_FAST = {"compare": "Custom periods", "pre": ["Jan 2017", "Jun 2017"], "post": ["Jul 2017", "Dec 2017"]}
# link values that try to become a live link and an image in the app's notices (issue 15.6)
LINK_ATTACK = {"force": "[Session expired - sign in again](https://evil.example/login)",
               "district": "![x](https://evil.example/pixel.png)"}


def run_view(db: Path, view_id: str, params: dict | None = None, monkeypatch=None, timeout: float = 300,
             state: dict | None = None) -> AppTest:
    """Run app.py for a view as a fresh session whose URL holds `params` (and whose session state starts with
    `state`: a popover's key set True opens it)."""
    monkeypatch.setenv("CRIME_MONITOR_DB", str(db))
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=timeout)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.switch_page(f"pages/{view_id}.py")
    at.run()
    return at


def texts(at: AppTest) -> list[str]:
    """Every markdown body the page drew (notices, captions, text, headings, metric labels)."""
    parts = [e.value for kind in (at.info, at.warning, at.error, at.success, at.markdown, at.caption, at.title,
                                  at.subheader) for e in kind]
    return [str(p) for p in parts] + [m.label for m in at.metric]


def plain(markdown: str) -> str:
    """Markdown source as it reads on screen (backslash escapes removed)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def frames(at: AppTest) -> list:
    """Every table on the page (static tables and grids) as a frame of text cells."""
    return [t.value for t in static_tables(at)] + [d.value for d in at.dataframe]


def shown_cells(at: AppTest) -> list[str]:
    cells = []
    for frame in [d.value for d in at.dataframe] + [t.value for t in static_tables(at)]:
        for column in frame.columns:
            cells += [str(v) for v in frame[column].tolist()]
    return cells


def chart_titles(at: AppTest) -> list[str]:
    """Each chart's title as the page shows it: the bold line drawn just before the chart (on screen the title is
    text, not inside the figure)."""
    titles, previous = [], None
    for node in at.main:
        if node.type == "plotly_chart":
            assert previous is not None and previous.type == "markdown", "a chart without its title above it"
            value = plain(previous.value)
            assert value.startswith("**") and value.endswith("**"), value
            titles.append(value[2:-2])
        previous = node
    return titles


def assert_clean(at: AppTest, view_id: str) -> None:
    assert [e.value for e in at.exception] == [], f"{view_id}: {[e.value for e in at.exception]}"
    assert at.title and at.title[0].value, view_id
    bad = [c for c in shown_cells(at) if c.strip() in BAD_CELLS]
    assert bad == [], (view_id, bad[:5])


@pytest.fixture(scope="module")
def essex_runs(essex_db, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    try:
        return {v: run_view(essex_db, v, LINK_ATTACK, mp) for v in VIEW_IDS}
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def demo_runs(demo_db):
    mp = pytest.MonkeyPatch()
    try:
        return {v: run_view(demo_db, v, {"crime_type": "Burglary"} if v == "covid" else DEMO_FAST, mp) for v in VIEW_IDS}
    finally:
        mp.undo()


# ---------------------------------------------------------------------------------------------------
# every view, both warehouses
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("view_id", VIEW_IDS)
def test_every_view_runs_on_essex_data(essex_runs, view_id):
    at = essex_runs[view_id]
    assert_clean(at, view_id)
    assert not any("Demo data — synthetic" in w.value for w in at.warning)


@pytest.mark.parametrize("view_id", VIEW_IDS)
def test_every_view_runs_on_demo_data(demo_runs, view_id):
    at = demo_runs[view_id]
    assert_clean(at, view_id)
    assert any("Demo data — synthetic" in w.value for w in at.warning), "no demo banner"


def test_navigation_comes_from_one_list_of_views():
    from metrics.registry import PLAN_PRIORITY_IDS

    assert [v.id for v in ui.available_views()] == VIEW_IDS and len(VIEW_IDS) == 13   # 12 + the audit view
    assert [v.priority_id for v in views.PRIORITY_VIEWS] == list(PLAN_PRIORITY_IDS)  # the plan's order
    for view in views.VIEWS:
        assert (PROJECT_ROOT / view.page).is_file() and view.url_path == view.id


# ---------------------------------------------------------------------------------------------------
# link values are quoted literally (never markdown) on every view
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("view_id", VIEW_IDS)
def test_link_values_are_never_rendered_as_markdown(essex_runs, view_id):
    at = essex_runs[view_id]
    notices = [i.value for i in at.info]
    force = next(n for n in notices if "which is not loaded" in n)
    assert "“`[Session expired - sign in again](https://evil.example/login)`”" in force  # a code span: literal
    district = next(n for n in notices if "Ignored district" in n)
    assert "“`![x](https://evil.example/pixel.png)`”" in district
    for body in texts(at):  # outside code spans: nowhere a link, an image or a URL to the outside
        outside_code = re.sub(r"(`+).*?\1", "", body)
        assert not re.search(r"(?<!\\)\]\(", outside_code) and "evil.example" not in outside_code, (view_id, body)
    assert "force" not in at.query_params and "district" not in at.query_params  # dropped from the URL


# ---------------------------------------------------------------------------------------------------
# key numbers against independent computations
# ---------------------------------------------------------------------------------------------------
def _raw_street_counts(essex_dir: Path) -> dict[tuple[str, str], int]:
    """(YYYY-MM, crime type) -> rows, read straight from the data.police.uk CSV files."""
    counts: dict[tuple[str, str], int] = {}
    for path in sorted(essex_dir.glob("*/*-essex-street.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                key = (row["Month"], row["Crime type"])
                counts[key] = counts.get(key, 0) + 1
    return counts


def _scorecard(at: AppTest):
    frames = [t.value for t in static_tables(at) if "Measure" in t.value.columns and "Latest month" in t.value.columns]
    assert frames, "no scorecard table"
    return frames[-1].set_index("Measure")


def test_overview_numbers_match_the_raw_files(essex_runs, essex_dir):
    raw = _raw_street_counts(essex_dir)
    card = _scorecard(essex_runs["overview"])
    assert card.loc["Anti-social behaviour incidents", "Latest month"] == f"{raw[('2019-02', ASB)]:,}"
    assert card.loc["Anti-social behaviour incidents", "As at"] == "Feb 2019"
    # only 5 months loaded: the default comparison falls back to Jan–Feb 2019 against Nov–Dec 2018
    assert any("comparing the latest 2 months" in i.value for i in essex_runs["overview"].info)

    def crimes(months: list[str]) -> int:
        return sum(n for (month, kind), n in raw.items() if month in months and kind != ASB)

    post, pre = crimes(["2019-01", "2019-02"]), crimes(["2018-11", "2018-12"])
    # rates per day of exposure: Jan–Feb 2019 has 31 + 28 = 59 days, Nov–Dec 2018 has 30 + 31 = 61
    days = 61 / 59
    pi_lo, pi_hi = stats.beta.ppf(0.025, post, pre + 1), stats.beta.ppf(0.975, post + 1, pre)
    row = card.loc["All recorded crime (excluding ASB)"]
    assert row["Current period"] == f"{post:,}"
    assert row["Change in monthly rate"] == f"{(post / pre * days - 1) * 100:+.1f}%"
    assert row["95% interval"] == (f"{(pi_lo / (1 - pi_lo) * days - 1) * 100:+.1f}% to "
                                   f"{(pi_hi / (1 - pi_hi) * days - 1) * 100:+.1f}%")


def test_local_policing_numbers_match_sql(essex_db, monkeypatch):
    at = run_view(essex_db, "local_policing", monkeypatch=monkeypatch)
    assert_clean(at, "local_policing")
    con = duckdb.connect(str(essex_db), read_only=True)
    try:
        (post,), = con.execute("select count(*) from crimes where crime_type <> ? and month between ? and ?",
                               [ASB, date(2019, 1, 1), date(2019, 2, 1)]).fetchall()
        (basildon, residents), = con.execute("""
            select count(*), (select sum(usual_residents) from lsoa where force_id = 'essex' and district = 'Basildon')
            from crimes where crime_type <> ? and month between ? and ?
              and lsoa_code in (select lsoa_code from lsoa where force_id = 'essex' and district = 'Basildon')
        """, [ASB, date(2019, 1, 1), date(2019, 2, 1)]).fetchall()
    finally:
        con.close()
    assert at.metric[0].value == f"{post:,}"
    districts = next(f for f in frames(at) if "Residents (2011 Census)" in f.columns and "District" in f.columns)
    row = districts.set_index("District").loc["Basildon"]
    assert row["Crimes"] == f"{basildon:,}" and row["Residents (2011 Census)"] == f"{residents:,}"
    assert row["Crimes per 1,000 residents (period)"] == f"{basildon / residents * 1000:,.1f}"
    assert len(districts) == 14


def test_demo_overview_latest_asb_matches_sql(demo_runs, demo_db):
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        (last, count), = con.execute("""
            with last_month as (select max(month) as month from crimes where force_id = 'essex')
            select last_month.month, count(*) from crimes, last_month
            where crimes.month = last_month.month and crime_type = ? and force_id = 'essex' group by 1""",
                                    [ASB]).fetchall()
    finally:
        con.close()
    card = _scorecard(demo_runs["overview"])
    assert card.loc["Anti-social behaviour incidents", "Latest month"] == f"{count:,}"
    assert card.loc["Anti-social behaviour incidents", "As at"] == f"{last:%b %Y}"


def test_data_view_rows_match_sql(essex_runs, essex_dir):
    at = essex_runs["data"]
    tables = next(f for f in frames(at) if list(f.columns) == ["Table", "Rows"]).set_index("Table")
    assert tables.loc["crimes", "Rows"] == f"{sum(_raw_street_counts(essex_dir).values()):,}" == "84,233"
    sources = next(f for f in frames(at) if "Source" in f.columns and "Gaps" in f.columns)
    street = sources[sources["Source"] == "data.police.uk street-level crime and ASB"].iloc[0]
    assert (street["First month"], street["Last month"], street["Gaps"]) == ("Oct 2018", "Feb 2019", "none")
    caveats = next(t.value for t in static_tables(at) if "Caveats" in t.value.columns)  # a static table: never cut off
    assert caveats["Caveats"].str.len().max() > 100


# ---------------------------------------------------------------------------------------------------
# URL state, notices, fall-backs
# ---------------------------------------------------------------------------------------------------
def test_url_state_applies(essex_db, monkeypatch):
    at = run_view(essex_db, "local_policing", {"district": ["Harlow", "Basildon"], "measure": "Anti-social behaviour"},
                  monkeypatch=monkeypatch)
    assert_clean(at, "local_policing")
    assert plain(at.caption[0].value).startswith("Essex Police: Harlow and Basildon")
    assert at.query_params["district"] == ["Harlow", "Basildon"]
    districts = next(f for f in frames(at) if "Residents (2011 Census)" in f.columns and "District" in f.columns)
    assert sorted(districts["District"]) == ["Basildon", "Harlow"]
    assert plain(at.metric[0].label).startswith("Anti-social behaviour")


def test_invalid_url_parameters_fall_back_with_a_notice(essex_db, monkeypatch):
    at = run_view(essex_db, "overview", {"force": "atlantis", "district": "Nowhere", "compare": "bogus",
                                         "crime_type": "Piracy", "measure": "x"}, monkeypatch=monkeypatch)
    assert_clean(at, "overview")
    notices = " ".join(i.value for i in at.info)
    assert "“`atlantis`”" in notices and "“`Nowhere`”" in notices and "“`bogus`”" in notices and "“`Piracy`”" in notices
    assert at.caption[0].value.startswith("Essex Police ·")
    assert "force" not in at.query_params and "district" not in at.query_params and "compare" not in at.query_params
    lp = run_view(essex_db, "local_policing", {"measure": "bogus"}, monkeypatch=monkeypatch)
    assert any("“`bogus`” is not a valid Measure (link parameter `measure`)" in i.value for i in lp.info)
    assert plain(lp.metric[0].label).startswith("All crime (excluding ASB)")


def test_custom_periods_from_the_url(essex_db, monkeypatch):
    at = run_view(essex_db, "overview", {"compare": "Custom periods", "pre": ["Oct 2018", "Oct 2018"],
                                         "post": ["Jan 2019", "Feb 2019"]}, monkeypatch=monkeypatch)
    assert_clean(at, "overview")
    assert "Jan 2019–Feb 2019 vs Oct 2018" in at.caption[0].value
    assert at.query_params["pre"] == ["Oct 2018", "Oct 2018"]  # kept: not the default
    # a link at the defaults keeps a clean URL (Streamlit drops a bound parameter equal to its default)
    default = run_view(essex_db, "overview", {"compare": "Custom periods", "pre": ["Oct 2018", "Nov 2018"]},
                       monkeypatch=monkeypatch)
    assert "Nov 2018" in default.caption[0].value and "pre" not in default.query_params


def test_comparison_notice_only_where_the_comparison_applies(essex_runs):
    fallback = "comparing the latest 2 months"
    for view in views.VIEWS:
        shown = any(fallback in i.value for i in essex_runs[view.id].info)
        assert shown == view.uses_comparison, view.id
    assert not views.view("weekly").uses_comparison and not views.view("covid").uses_comparison
    assert any("there is no COVID-19 period to show" in i.value for i in essex_runs["covid"].info)


# ---------------------------------------------------------------------------------------------------
# what a new user tripped over (issue 16)
# ---------------------------------------------------------------------------------------------------
def test_change_chips_say_what_they_are(demo_runs):
    """The change of a monthly rate between two periods is not growth 'per month'."""
    deltas = [(v, m.label, m.proto.delta) for v, at in demo_runs.items() for m in at.metric if m.proto.delta]
    assert deltas, "no change chips"
    for view_id, label, delta in deltas:
        assert "per month" not in delta, (view_id, label, delta)
    rates = [d for _, _, d in deltas if "monthly rate" in d]
    assert rates and all(re.fullmatch(r"[+-]\d+\.\d% monthly rate vs \w{3} \d{4}–\w{3} \d{4}", d) for d in rates)


def test_crime_type_filter_claims_only_where_it_applies(essex_db, monkeypatch):
    violence = run_view(essex_db, "serious_violence", {"crime_type": "Burglary"}, monkeypatch=monkeypatch)
    assert "Burglary" not in violence.caption[0].value  # the header names the area and periods only
    assert any("crime-type filter (Burglary) does not apply here" in c.value for c in violence.caption)
    titles = chart_titles(violence)
    assert titles and not any("Burglary" in t for t in titles)
    local = run_view(essex_db, "local_policing", {"crime_type": "Burglary"}, monkeypatch=monkeypatch)
    assert "crime types: Burglary" in local.caption[0].value
    titles = chart_titles(local)
    assert titles[0] == "Burglary per month — Essex Police"
    assert plain(local.metric[0].label) == "Burglary, Jan 2019–Feb 2019"
    assert not any("Selected crime types" in t for t in texts(local) + titles)


def test_serious_violence_is_qualified_in_titles_and_figures(essex_runs):
    at = essex_runs["serious_violence"]
    assert plain(at.metric[0].label).startswith("Violence and sexual offences, robbery and weapons")
    assert plain(at.subheader[0].value).startswith("Serious violence (violence and sexual offences incl. common assault")
    assert chart_titles(at)[0].startswith("Serious violence (violence and sexual offences")


@pytest.mark.parametrize("view_id", ["domestic_abuse", "children", "fraud"])
def test_flagged_measures_and_fraud_show_whether_they_improved(demo_runs, view_id):
    labels = [plain(m.label) for m in demo_runs[view_id].metric]
    assert "95% interval of the change" in labels and "Significance" in labels, labels


# ---------------------------------------------------------------------------------------------------
# exports are built only when clicked (issue 14.3)
# ---------------------------------------------------------------------------------------------------
def test_no_export_is_built_on_a_page_run(demo_db, monkeypatch):
    import streamlit
    from streamlit.delta_generator import DeltaGenerator

    import briefing.images
    import briefing.pack
    import briefing.tables

    built: list[str] = []
    for module, name in ((briefing.tables, "csv_bytes"), (briefing.tables, "table_csv_bytes"),
                         (briefing.tables, "table_xlsx_bytes"), (briefing.tables, "people_csv_bytes"),
                         (briefing.tables, "people_xlsx_bytes"), (briefing.images, "figure_bytes"),
                         (briefing.pack, "build_pack_bytes"), (briefing.pack, "_pptx"), (briefing.pack, "_pdf")):
        monkeypatch.setattr(module, name, lambda *a, _name=name, **k: built.append(_name) or b"")
    deferred: list[bool] = []
    original = DeltaGenerator.download_button

    def recording(self, label, data, *args, **kwargs):
        deferred.append(callable(data))
        return original(self, label, data, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "download_button", recording)
    monkeypatch.setattr(streamlit, "download_button", lambda *a, **k: recording(streamlit._main, *a, **k))
    for view_id in ("overview", "roads", "weekly"):
        at = run_view(demo_db, view_id, DEMO_FAST, monkeypatch, state={"popover_briefing_pack": True})
        assert not at.exception, view_id
        for key in chart_popovers(at):  # every chart's download menu open too: its buttons are made
            at.session_state[key] = True
        at.run()
        assert not at.exception, view_id
    assert built == []
    assert len(deferred) > 20 and all(deferred)  # every button's file is a callable, made on click


def chart_popovers(at: AppTest) -> list[str]:
    """The session-state keys of the page's chart download menus (one per chart drawn)."""
    return [f"popover_download_{chart.key}" for chart in at.get("plotly_chart")]


def test_a_charts_download_buttons_are_made_only_while_its_menu_is_open(demo_db, monkeypatch):
    """Three download buttons under every chart cost every visit; they are made when the menu opens (a rerun), and
    a chart whose menu is closed has none. The briefing pack's menu in the sidebar works the same way."""
    at = run_view(demo_db, "roads", DEMO_FAST, monkeypatch)
    charts = [e.key for e in at.get("plotly_chart")]
    assert charts
    def chart_buttons() -> list[str]:
        return sorted(b.key for b in at.get("download_button") if any(b.key.startswith(f"download_{chart}_")
                                                                      for chart in charts))

    assert chart_buttons() == []
    assert {b.key for b in at.get("download_button")} == {"download_roads-12-month-change_csv",
                                                         "download_roads-12-month-change_xlsx"}  # a table's stay
    at.session_state[f"popover_download_{charts[0]}"] = True
    at.run()
    assert not at.exception
    assert chart_buttons() == sorted(f"download_{charts[0]}_{fmt}" for fmt in ("png", "svg", "pdf"))
    # the sidebar's pack menu, the same way (opened here as the session starts: AppTest draws the sidebar on a
    # session's first run only)
    opened = run_view(demo_db, "roads", DEMO_FAST, monkeypatch, state={"popover_briefing_pack": True})
    assert {"download_pack_pptx", "download_pack_pdf"} <= {b.key for b in opened.get("download_button")}


# ---------------------------------------------------------------------------------------------------
# the statistics of issue 13 where users read them
# ---------------------------------------------------------------------------------------------------
ESSEX_DISTRICTS = ["Basildon", "Braintree", "Brentwood", "Castle Point", "Chelmsford", "Colchester", "Epping Forest",
                   "Harlow", "Maldon", "Rochford", "Southend-on-Sea", "Tendring", "Thurrock", "Uttlesford"]


def test_district_change_tests_the_forces_districts_and_says_what_it_leaves_out(essex_db, monkeypatch):
    at = run_view(essex_db, "asb", {"tab": "Districts"}, monkeypatch)  # the ASB view's Districts tab
    con = duckdb.connect(str(essex_db), read_only=True)
    try:  # ASB rows of Nov 2018–Feb 2019 outside the 14 Essex districts (border snaps) or without a district
        (apart,), = con.execute("""
            select count(*) from crimes where crime_type = ? and month between ? and ?
              and coalesce(district, '') not in (select unnest(?::varchar[]))""",
                                [ASB, date(2018, 11, 1), date(2019, 2, 1), ESSEX_DISTRICTS]).fetchall()
    finally:
        con.close()
    assert apart > 0
    table = next(f for f in frames(at) if "District" in f.columns and "q-value (BH)" in f.columns)
    assert sorted(table["District"]) == ESSEX_DISTRICTS
    captions = [plain(c.value) for c in at.caption]
    assert any(f"Not shown or tested: {apart:,} incidents of the two periods" in c and "across the 14 districts" in c
               for c in captions), captions


def test_funnel_and_rates_say_which_limits(essex_db, monkeypatch):
    at = run_view(essex_db, "local_policing", {"tab": "Funnel plot"}, monkeypatch)
    captions = [plain(c.value) for c in at.caption]
    funnel = [c for c in captions if c.startswith("95% and 99.8% limits around the force's rate per 1,000 residents")]
    assert funnel and ("Spiegelhalter (2005)" in funnel[0] or "Poisson (exact quantiles" in funnel[0])
    rates = run_view(essex_db, "local_policing", {}, monkeypatch)  # the Districts tab, open by default
    assert any("funnel limits at 95% and 99.8% around the force rate" in plain(c.value) for c in rates.caption)


def test_weekly_view_says_what_a_flag_means_and_each_measures_note(demo_runs):
    from metrics.exceedance import FLAG_MEANING

    captions = [plain(c.value) for c in demo_runs["weekly"].caption]
    assert any(c == f"**What a flag means.** {FLAG_MEANING}" for c in captions), captions
    notes = next(c for c in captions if c.startswith("- "))
    assert "Injury road collisions" in notes and ("usual range for this time of year" in notes
                                                  or "Higher than usual" in notes)
    assert "not noise" not in " ".join(captions)



def test_a_chart_has_its_title_above_it_and_its_source_below_it_as_text_that_wraps(demo_runs):
    """On screen a chart's title and caption are text (a phone would cut them off inside the figure)."""
    at = demo_runs["gangs"]
    assert "**Drug offences per month — Essex Police**" in [plain(m.value) for m in at.markdown]
    assert any(plain(c.value).startswith("Source: data.police.uk street-level crime. Data as at December 2021.")
               for c in at.caption)

def test_a_comparison_of_different_months_warns_of_seasonality(demo_runs):
    # DEMO_FAST compares Jul–Dec 2017 with Jan–Jun 2017: different calendar months
    for view_id in ("overview", "asb"):
        warnings = [plain(w.value) for w in demo_runs[view_id].warning]
        assert any("different months of the year (Jan–Jun against Jul–Dec)" in w for w in warnings), (view_id, warnings)
    assert not any("different months of the year" in plain(w.value) for w in demo_runs["weekly"].warning)


def test_roads_shows_the_ksi_recording_caveat_and_quasi_poisson_intervals(demo_runs):
    at = demo_runs["roads"]
    assert any("CRASH" in w.value and "recording change" in w.value for w in at.warning)
    assert any("quasi-Poisson for casualties" in plain(c.value) for c in at.caption)


def test_without_residents_the_funnel_plot_is_not_offered_and_districts_says_what_to_load(tmp_path, reference_data,
                                                                                          monkeypatch):
    """Street files only (no ONS lookup or census): no rates, so no funnel-plot tab; the Districts tab says which
    file gives the rates."""
    from etl.load import load_sources

    db = tmp_path / "street-only.duckdb"
    load_sources([reference_data / "police-uk" / "essex"], db, progress=False)
    at = run_view(db, "local_policing", {}, monkeypatch)
    assert not at.exception, [e.message for e in at.exception]
    labels = [t.label for t in at.tabs]
    assert labels[0] == "Districts" and "Funnel plot" not in labels
    assert any("Rates per 1,000 residents — not loaded" in w.value for w in at.warning)

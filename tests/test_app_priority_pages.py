"""AppTest runs of the priority views (ASB, domestic abuse, serious violence, gangs, children, roads, fraud,
weekly) through app.py, on the real Essex street data (no extract, STATS19, fraud, stop and search or force
measures) and on the synthetic demo warehouse.

Every key number shown is checked against plain SQL written here, independently of metrics/; on Essex the
"not loaded" notices must name the file and give the exact `python -m etl load --db …` command.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT, app_reads, every_tab, static_tables

PAGES = ("asb", "domestic_abuse", "serious_violence", "gangs", "children", "roads", "fraud", "weekly")
BAD_CELLS = {"None", "nan", "NaN", "<NA>", "NaT", "null"}


def _run(db: Path, page: str, params: dict[str, str] | None = None, *, tabs: bool = False):
    """The page's AppTest after one run; with tabs=True, what it shows in every tab (conftest.every_tab)."""
    from streamlit.testing.v1 import AppTest

    with app_reads(db):
        at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=180)
        for key, value in (params or {}).items():
            at.query_params[key] = value
        at.switch_page(str(PROJECT_ROOT / "pages" / f"{page}.py"))
        at.run()
        assert not at.exception, (page, [e.message for e in at.exception])
        return every_tab(at) if tabs else at


def _plain(markdown: str) -> str:
    """Markdown source as it reads on screen (backslash escapes removed)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _metrics(at) -> dict[str, str]:
    return {_plain(m.label): m.value for m in at.metric}


def _texts(at) -> str:
    parts = [e.value for kind in (at.warning, at.info, at.error, at.markdown, at.caption, at.subheader)
             for e in kind]
    return "\n".join(str(p) for p in parts)


def _codes(at) -> list[str]:
    return [c.value for c in at.code]


def _sql(db: Path, query: str, params: list | None = None):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(query, params or []).fetchall()
    finally:
        con.close()


def _shown_cells(at) -> list[str]:
    cells = []
    for frame in [d.value for d in at.dataframe] + [t.value for t in static_tables(at)]:
        for column in frame.columns:
            cells += [str(v) for v in frame[column].tolist()]
    return cells


@pytest.fixture(scope="module")
def essex_runs(essex_db):
    return {page: _run(essex_db, page, tabs=True) for page in PAGES}


@pytest.fixture(scope="module")
def demo_runs(demo_db):
    return {page: _run(demo_db, page, tabs=True) for page in PAGES}


# ---------------------------------------------------------------------------------------------
# every page, both warehouses
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("runs", ["essex_runs", "demo_runs"])
def test_pages_render_without_exceptions_or_empty_cells(runs, request):
    for page, at in request.getfixturevalue(runs).items():
        assert not at.exception, page
        assert at.title and at.title[0].value, page
        bad = [c for c in _shown_cells(at) if c.strip() in BAD_CELLS]
        assert bad == [], (page, bad[:5])


def test_all_priority_views_are_listed_in_the_shell():
    import ui

    listed = {view.url_path for view in ui.available_views()}
    assert set(PAGES) <= listed


def _table_with(at, column: str):
    """The first table (grid or static) that has `column`."""
    return next(frame for frame in [d.value for d in at.dataframe] + [t.value for t in static_tables(at)]
                if column in frame.columns)


# ---------------------------------------------------------------------------------------------
# Essex: real street data only
# ---------------------------------------------------------------------------------------------
def test_asb_total_matches_sql_on_essex(essex_runs, essex_db):
    at = essex_runs["asb"]
    # Essex holds Oct 2018–Feb 2019: the comparison falls back to Jan–Feb 2019 against Nov–Dec 2018
    (expected,) = _sql(essex_db, """
        select count(*) from crimes
        where crime_type = 'Anti-social behaviour' and force_id = 'essex' and month between ? and ?
    """, [date(2019, 1, 1), date(2019, 2, 1)])[0]
    assert _metrics(at)["ASB incidents, Jan 2019–Feb 2019"] == f"{expected:,}"
    # the district table: Basildon's current-period count
    (basildon,) = _sql(essex_db, """
        select count(*) from crimes
        where crime_type = 'Anti-social behaviour' and force_id = 'essex' and district = 'Basildon'
          and month between ? and ?
    """, [date(2019, 1, 1), date(2019, 2, 1)])[0]
    table = _table_with(at, "Current (incidents)")
    row = table[table["District"] == "Basildon"].iloc[0]
    assert row["Current (incidents)"] == f"{basildon:,}"
    assert "Load the data.police.uk months from March 2019 to February 2021" in _texts(at)


def test_serious_violence_total_matches_sql_on_essex(essex_runs, essex_db):
    (expected,) = _sql(essex_db, """
        select count(*) from crimes
        where force_id = 'essex' and month between ? and ?
          and crime_type in ('Violence and sexual offences', 'Robbery', 'Possession of weapons')
    """, [date(2019, 1, 1), date(2019, 2, 1)])[0]
    label = "Violence and sexual offences, robbery and weapons, Jan 2019–Feb 2019"  # qualified, not "Serious violence"
    assert _metrics(essex_runs["serious_violence"])[label] == f"{expected:,}"


def test_gangs_drugs_count_matches_sql_on_essex(essex_runs, essex_db):
    at = essex_runs["gangs"]
    (drugs,) = _sql(essex_db, "select count(*) from crimes where force_id = 'essex' and crime_type = 'Drugs' "
                              "and month between ? and ?", [date(2019, 1, 1), date(2019, 2, 1)])[0]
    assert _metrics(at)["Drug offences, Jan 2019–Feb 2019"] == f"{drugs:,}"
    assert "Stops and searches — not loaded" in _texts(at)


@pytest.mark.parametrize("page, labels, needle", [
    ("domestic_abuse", ["Domestic abuse crimes — not loaded"], "--mapping"),
    ("children", ["Crimes with a child victim — not loaded", "Hate crimes — not loaded"], "--mapping"),
    ("roads", ["Killed or seriously injured (KSI) casualties — not loaded"], "dft-road-casualty-statistics-casualty"),
    ("fraud", ["Fraud reports (Action Fraud) — not loaded"], "action-fraud"),
    ("weekly", ["No dated weekly data loaded"], "--mapping"),
])
def test_not_loaded_notices_give_the_exact_command_on_essex(essex_runs, essex_db, page, labels, needle):
    at = essex_runs[page]
    text = _texts(at)
    for label in labels:
        assert label in text, (page, label)
    commands = [c for c in _codes(at) if c.startswith(f"python -m etl load --db {essex_db}")]
    assert commands and any(needle in c for c in commands), (page, _codes(at))


@pytest.mark.parametrize("page, proxy", [("domestic_abuse", "Violence and sexual offences (proxy for domestic abuse)"),
                                         ("children", "Public order offences (proxy for hate crime)")])
def test_public_proxies_are_labelled_on_essex(essex_runs, essex_db, page, proxy):
    at = essex_runs[page]
    assert proxy in [_plain(s.value) for s in at.subheader]
    # the proxy's district table holds the real count for a district
    category = "Violence and sexual offences" if page == "domestic_abuse" else "Public order"
    (count,) = _sql(essex_db, "select count(*) from crimes where force_id = 'essex' and crime_type = ? "
                              "and district = 'Chelmsford' and month between ? and ?",
                    [category, date(2019, 1, 1), date(2019, 2, 1)])[0]
    table = _table_with(at, "Current (crimes)")
    assert table.loc[table["District"] == "Chelmsford", "Current (crimes)"].iloc[0] == f"{count:,}"


def test_force_measures_notice_on_essex(essex_runs, essex_db):
    assert "No force measures loaded for this priority" in _texts(essex_runs["roads"])
    assert f"python -m etl load --db {essex_db} path/to/force-measures.csv" in _codes(essex_runs["roads"])


# ---------------------------------------------------------------------------------------------
# demo: every family loaded (2017–2021)
# ---------------------------------------------------------------------------------------------
YEAR_2021 = [date(2021, 1, 1), date(2021, 12, 1)]


def test_roads_ksi_for_12_months_matches_sql_on_demo(demo_runs, demo_db):
    at = demo_runs["roads"]
    (ksi, fatal, casualties), = _sql(demo_db, """
        select count(*) filter (where c.severity in ('Fatal', 'Serious')),
               count(*) filter (where c.severity = 'Fatal'), count(*)
        from casualties c join collisions k on k.collision_index = c.collision_index
        where k.force_id = 'essex' and k.month between ? and ?
    """, YEAR_2021)
    (collisions,) = _sql(demo_db, "select count(*) from collisions where force_id = 'essex' and month between ? and ?",
                         YEAR_2021)[0]
    shown = _metrics(at)
    assert shown["KSI casualties"] == f"{ksi:,}"  # the 12 months are named in the section's title
    assert shown["Fatal casualties"] == f"{fatal:,}"
    assert shown["Casualties"] == f"{casualties:,}"
    assert shown["Collisions"] == f"{collisions:,}"
    assert _plain(at.subheader[0].value) == "12 months to December 2021 against the 12 months before"
    # speeding detections (force measure mapped to roads): the latest value shown
    (value, unit), = _sql(demo_db, "select value, unit from measures where measure = 'Speeding detections' "
                                   "and force_id = 'essex' order by period_end desc limit 1")
    table = _table_with(at, "Meets target")
    assert table.loc[table["Measure"] == "Speeding detections", "Value"].iloc[0] == f"{value:,.1f} {unit}"


def test_fraud_reports_for_a_year_match_sql_on_demo(demo_runs, demo_db):
    (reports,) = _sql(demo_db, "select sum(reports) from fraud where force_id = 'essex' and month between ? and ?",
                      YEAR_2021)[0]
    (before,) = _sql(demo_db, "select sum(reports) from fraud where force_id = 'essex' and month between ? and ?",
                     [date(2019, 3, 1), date(2020, 2, 1)])[0]
    shown = _metrics(demo_runs["fraud"])
    assert shown["Fraud reports, Jan 2021–Dec 2021"] == f"{int(reports):,}"
    assert shown["Reports, Mar 2019–Feb 2020"] == f"{int(before):,}"


def test_domestic_abuse_measures_match_sql_on_demo(demo_runs, demo_db):
    at = demo_runs["domestic_abuse"]
    (incidents, victims), = _sql(demo_db, """
        select count(*), count(distinct victim_key) from incidents
        where domestic_abuse and force_id = 'essex' and month between ? and ?
    """, YEAR_2021)
    # repeat victim: a 2021 domestic-abuse incident preceded by another of the same victim within 365 days
    (repeats,) = _sql(demo_db, """
        select count(distinct a.victim_key)
        from incidents a join incidents b
          on a.victim_key = b.victim_key and a.force_id = b.force_id
         and b.recorded_at < a.recorded_at and b.recorded_at >= a.recorded_at - interval 365 day
        where a.domestic_abuse and b.domestic_abuse and a.force_id = 'essex' and a.month between ? and ?
    """, YEAR_2021)[0]
    shown = _metrics(at)
    assert shown["Domestic abuse crimes, Jan 2021–Dec 2021"] == f"{incidents:,}"
    assert shown["Victims, Jan 2021–Dec 2021"] == f"{victims:,}"
    assert shown["Repeat victims within 12 months"] == f"{repeats:,}"
    assert "not loaded" not in _texts(at).split("Force measures")[0]
    # outcomes table (metrics.plan.incident_outcomes): every outcome's count, and missing outcomes named
    outcomes = dict(_sql(demo_db, """
        select coalesce(nullif(trim(outcome), ''), 'No outcome recorded'), count(*) from incidents
        where domestic_abuse and force_id = 'essex' and month between ? and ? group by 1
    """, YEAR_2021))
    table = _table_with(at, "Outcome")
    assert dict(zip(table["Outcome"], table["Crimes"])) == {k: f"{v:,}" for k, v in outcomes.items()}
    assert "No outcome recorded" in outcomes


def test_gangs_stop_search_matches_sql_on_demo(demo_runs, demo_db):
    (searches, arrests), = _sql(demo_db, """
        select count(*), count(*) filter (where outcome = 'Arrest') from stop_search
        where force_id = 'essex' and month between ? and ?
    """, YEAR_2021)
    shown = _metrics(demo_runs["gangs"])
    assert shown["Searches, Jan 2021–Dec 2021"] == f"{searches:,}"
    assert shown["Arrests"] == f"{arrests:,}"
    assert shown["Arrest rate"] == f"{arrests / searches * 100:.1f}%"


def test_children_flags_match_sql_on_demo(demo_runs, demo_db):
    (child, hate), = _sql(demo_db, """
        select count(*) filter (where child_victim), count(*) filter (where hate_crime) from incidents
        where force_id = 'essex' and month between ? and ?
    """, YEAR_2021)
    shown = _metrics(demo_runs["children"])
    assert shown["Crimes with a child victim, Jan 2021–Dec 2021"] == f"{child:,}"
    assert shown["Hate crimes, Jan 2021–Dec 2021"] == f"{hate:,}"


def test_weekly_figures_match_sql_and_keep_the_week_in_the_url(demo_db):
    at = _run(demo_db, "weekly", {"week": "Mon 13 Dec – Sun 19 Dec 2021"})
    assert at.main.selectbox[0].value == date(2021, 12, 13)
    assert at.query_params["week"] in ("Mon 13 Dec – Sun 19 Dec 2021", ["Mon 13 Dec – Sun 19 Dec 2021"])
    (ksi_collisions,) = _sql(demo_db, """
        select count(*) from collisions
        where force_id = 'essex' and severity in ('Fatal', 'Serious') and collision_date between ? and ?
    """, [date(2021, 12, 13), date(2021, 12, 19)])[0]
    table = static_tables(at)[0].value
    row = table[table["Measure"] == "Fatal or serious (KSI) collisions"].iloc[0]
    assert row["This week"] == f"{ksi_collisions:,}"
    # a week that is not offered falls back to the latest complete week, with a notice
    fallback = _run(demo_db, "weekly", {"week": "1999-01-04"})
    assert fallback.main.selectbox[0].value == date(2021, 12, 20)
    assert any("1999" in i.value and "not a valid" in i.value for i in fallback.info)


def test_weekly_rows_in_priority_order_flags_and_the_missing_asb(demo_runs):
    at = demo_runs["weekly"]
    table = static_tables(at)[0].value
    assert [int(p) for p in table["Priority"]] == sorted(int(p) for p in table["Priority"])
    flagged = table[table["Unusual rise"] == "▲"]
    title = _plain(at.subheader[0].value)
    assert title.startswith(f"{len(flagged)} of {len(table)} measures" if len(flagged) else "No measure")
    assert any("Anti-social behaviour: ASB has no dated source" in c.value for c in at.caption)
    # "week" is said once for the chosen week (the selector), not repeated in figures beside it
    assert list(_metrics(at)) == [] and len(at.main.selectbox) == 1


def test_local_policing_shows_its_force_measures_on_demo(demo_db):
    """999/101 answer times and officer numbers belong to priority 1 (metrics/measure_priorities.toml)."""
    at = _run(demo_db, "local_policing", {"tab": "Force measures"})
    table = _table_with(at, "Meets target").set_index("Measure")
    (officers, unit), = _sql(
        demo_db,
        "SELECT value, unit FROM measures WHERE measure = 'Police officers' "
        "ORDER BY period_end DESC LIMIT 1",
    )
    assert "Police officers" in table.index
    assert table.loc["Police officers", "Value"].replace(",", "") == f"{officers:.1f} {unit}"
    assert "999 calls answered within 10 seconds" in table.index


def test_later_tabs_run_only_when_opened_and_a_link_opens_one(demo_db):
    """A view's later sections sit in tabs; only the open one runs (the first by default, or the link's)."""
    at = _run(demo_db, "local_policing")
    assert [t.label for t in at.tabs] == ["Districts", "Funnel plot", "Force rank", "Hotspots", "Outcomes",
                                          "Force measures"]
    titles = [_plain(s.value) for s in at.subheader]
    assert titles[0] == "All crime (excluding ASB): trend"
    assert "Rates by district, Jan 2021–Dec 2021" in titles  # the first tab, open
    assert "Force measures" not in titles and not any(t.startswith("Outcomes of crimes") for t in titles)
    assert not [frame for frame in [t.value for t in static_tables(at)] if "Meets target" in frame.columns]
    linked = _run(demo_db, "local_policing", {"tab": "Outcomes"})
    linked_titles = [_plain(s.value) for s in linked.subheader]
    assert linked_titles == ["All crime (excluding ASB): trend", "Outcomes of crimes recorded in Jan 2021–Dec 2021"]


def test_a_view_with_nothing_loaded_for_its_tabs_draws_no_tab_bar_on_essex(essex_runs):
    """Essex has no roads data: the roads view's tabs do not apply, and its one remaining part (the force
    measures) is drawn in place, not as a lone tab."""
    at = essex_runs["roads"]
    assert list(at.tabs) == []
    assert "No force measures loaded for this priority" in _texts(at)

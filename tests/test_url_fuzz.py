"""Property-based fuzzing of the URL parameters of every page (hypothesis + streamlit AppTest).

For any query string — real districts and crime types, garbage, SQL injection attempts, very long or
odd Unicode values, unknown keys — every page renders without an exception, every SQL statement the app
runs is one whose text carries none of the URL's values (they reach DuckDB only as bound parameters),
and the connection the app reads through is read-only.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import PROJECT_ROOT, app_reads

pytestmark = pytest.mark.slow

CANARY = "Zq7canary"  # marks fuzzed values, so any that reaches SQL text is found
INJECTIONS = [
    "x' OR '1'='1", "'; DROP TABLE crimes; --", "Basildon') OR 1=1 --", "\" OR \"\"=\"", "1; ATTACH 'evil.db'",
    "%' UNION SELECT * FROM load_log --", "$$; COPY crimes TO '/tmp/x.csv'; $$", "?", "??", "NULL", "\\", "..",
    "2019-01..2018-01", "9999-99..0000-00", "2019-13..2019-14", "..2019-01", "latest12\x00", "<script>alert(1)</script>",
]
URL_KEYS = ["force", "district", "crime_type", "compare", "pre", "post"]
EXAMPLES = int(os.environ.get("URL_FUZZ_EXAMPLES", "5"))  # per page


class RecordingCursor:
    """A DuckDB cursor that records every SQL text it runs (then runs it unchanged)."""

    def __init__(self, inner: duckdb.DuckDBPyConnection, log: list[str]):
        self._inner, self._log = inner, log

    def execute(self, query, *args, **kwargs):
        self._log.append(str(query))
        return self._inner.execute(query, *args, **kwargs)

    def executemany(self, query, *args, **kwargs):
        self._log.append(str(query))
        return self._inner.executemany(query, *args, **kwargs)

    def sql(self, query, *args, **kwargs):
        self._log.append(str(query))
        return self._inner.sql(query, *args, **kwargs)

    query = sql

    def cursor(self) -> "RecordingCursor":
        return RecordingCursor(self._inner.cursor(), self._log)

    def __getattr__(self, name):
        return getattr(self._inner, name)


@pytest.fixture(scope="module")
def app_env(essex_db: Path):
    """The app pointed at the real Essex warehouse, with its connection recorded."""
    import ui.store

    values = duckdb.connect(str(essex_db), read_only=True)
    essex = ["Basildon", "Braintree", "Brentwood", "Castle Point", "Chelmsford", "Colchester", "Epping Forest",
             "Harlow", "Maldon", "Rochford", "Tendring", "Uttlesford", "Southend-on-Sea", "Thurrock"]
    districts = [r[0] for r in values.execute(
        "SELECT DISTINCT district FROM crimes WHERE list_contains(?, district) ORDER BY 1", [essex]).fetchall()]
    # plus a district of a neighbouring force that appears in the Essex file (about 1% of rows)
    districts += [r[0] for r in values.execute(
        "SELECT district FROM crimes WHERE NOT list_contains(?, district) GROUP BY 1 ORDER BY count(*) DESC LIMIT 2",
        [essex]).fetchall()]
    crime_types = [r[0] for r in values.execute("SELECT DISTINCT crime_type FROM crimes ORDER BY 1").fetchall()]
    values.close()

    opened: list[duckdb.DuckDBPyConnection] = []
    log: list[str] = []
    original_connect = ui.store.connect

    def recording_connect(path):
        con = original_connect(path)
        opened.append(con)
        return RecordingCursor(con, log)

    ui.store.connect = recording_connect
    try:
        with app_reads(essex_db):
            yield {"districts": districts, "crime_types": crime_types, "opened": opened, "log": log,
                   "views": [v.page for v in ui.available_views()]}
    finally:
        ui.store.connect = original_connect


def _values(real: list[str]):
    odd_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
    return st.one_of(
        st.sampled_from(real),
        st.sampled_from(INJECTIONS),
        odd_text.map(lambda text: f"{text}{CANARY}"),
        st.builds(lambda a, b: f"{a}'{CANARY}\"{b}", odd_text, odd_text),
        st.just(CANARY * 500),  # a very long value
        odd_text,
    )


def _query_params(env: dict):
    real = (env["districts"] + env["crime_types"] + ["Essex Police", "Kent Police", "essex", "Custom periods",
                                                     "Pre-COVID vs COVID year", "Oct 2018", "Feb 2019", "2019-01..2019-02",
                                                     "Anti-social behaviour", "Week"])
    keys = st.sampled_from(URL_KEYS + ["measure", "sv_category", "roads_period", "week", "window", "series", "page", "x",
                                       CANARY, "district[]", ""])
    return st.dictionaries(keys, st.lists(_values(real), min_size=1, max_size=3), max_size=6)


def _run_page(page: str, params: dict[str, list[str]]):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
    for key, values in params.items():
        at.query_params[key] = values
    at.switch_page(str(PROJECT_ROOT / page))
    at.run()
    return at


def test_every_page_renders_with_real_url_values(app_env):
    """Baseline: each page with a valid query string (so the fuzz below is not just hitting error paths)."""
    assert len(app_env["views"]) >= 2
    params = {"district": [app_env["districts"][0]], "crime_type": ["Burglary"], "compare": ["Custom periods"],
              "pre": ["Oct 2018", "Oct 2018"], "post": ["Jan 2019", "Feb 2019"]}
    for page in app_env["views"]:
        at = _run_page(page, params)
        assert not at.exception, (page, [e.message for e in at.exception])
        assert at.query_params.get("district") in (app_env["districts"][0], [app_env["districts"][0]]), page
    assert app_env["log"], "the app ran no SQL through the recorded connection"


def _view_paths() -> list[str]:
    import ui

    return [v.page for v in ui.available_views()]


@pytest.mark.parametrize("page", _view_paths())
def test_fuzzed_url_parameters_on_every_page(app_env, page):
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(params=_query_params(app_env))
    def check(params):
        app_env["log"].clear()
        at = _run_page(page, params)
        assert not at.exception, (page, params, [e.message for e in at.exception])
        leaked = [sql for sql in app_env["log"] if CANARY.lower() in sql.lower()]
        assert leaked == [], f"a URL value reached SQL text on {page}: {leaked[:2]}"
        for value_list in params.values():
            for value in value_list:
                if len(value) >= 6 and not value.isalnum():
                    assert not any(value in sql for sql in app_env["log"]), (page, value)

    check()


def test_app_connection_is_read_only(app_env):
    _run_page(app_env["views"][0], {})
    assert app_env["opened"], "the app opened no connection"
    for con in app_env["opened"]:
        # the warehouse file is attached read-only (an in-memory catalogue holds only views onto it)
        files = con.execute("SELECT path, readonly FROM duckdb_databases() WHERE path IS NOT NULL").fetchall()
        assert files == [(os.environ["CRIME_MONITOR_DB"], True)]
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("CREATE TABLE should_fail (a INTEGER)")
        with pytest.raises(duckdb.Error):
            con.cursor().execute("INSERT INTO crimes (crime_id) VALUES ('x')")
        with pytest.raises(duckdb.Error, match="read-only"):
            con.cursor().execute("DELETE FROM warehouse.crimes")

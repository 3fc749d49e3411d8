"""The app's read cache (ui.store.read): one answer per function, arguments and warehouse version; a copy for every
reader; a load's new warehouse read anew; arguments Python cannot hash still answered (through st.cache_data)."""

from __future__ import annotations

import os

import duckdb
import pandas as pd
import pytest

from ui import store

CALLS: list[tuple] = []


def count_rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
    CALLS.append(("count_rows", table))
    return con.execute(f"select count(*) from {table}").fetchall()[0][0]  # table: a literal of this test


def typed_echo(con: duckdb.DuckDBPyConnection, value: object) -> str:
    CALLS.append(("typed_echo", value))
    return f"{type(value).__name__}:{value!r}"


def a_frame(con: duckdb.DuckDBPyConnection, n: int) -> pd.DataFrame:
    CALLS.append(("a_frame", n))
    return con.execute("select range as i, range * 2 as twice from range(?)", [n]).df()


def build(path, rows: int) -> None:
    """A warehouse file holding `rows` rows in table t, written beside `path` and swapped in (a new file, as a load
    does)."""
    fresh = path.with_suffix(".new")
    con = duckdb.connect(str(fresh))
    con.execute("create table t as select range as i from range(?)", [rows])
    con.close()
    os.replace(fresh, path)


@pytest.fixture()
def warehouse(tmp_path, monkeypatch):
    path = tmp_path / "w.duckdb"
    build(path, 3)
    monkeypatch.setenv("CRIME_MONITOR_DB", str(path))
    store.clear()
    CALLS.clear()
    yield path
    store.clear()


def test_a_read_is_answered_once_per_version_and_a_load_is_read_anew(warehouse):
    assert store.read(count_rows, "t") == 3
    assert store.read(count_rows, "t") == 3
    assert CALLS == [("count_rows", "t")]
    build(warehouse, 5)  # a load swaps in a new file
    assert store.read(count_rows, "t") == 5
    assert CALLS == [("count_rows", "t"), ("count_rows", "t")]


def test_equal_values_of_other_types_are_other_reads(warehouse):
    answers = [store.read(typed_echo, value) for value in (1, 1.0, True, "1")]
    assert answers == ["int:1", "float:1.0", "bool:True", "str:'1'"]
    assert store.read(typed_echo, value=1) == "int:1" and store.read(typed_echo, value=True) == "bool:True"
    assert store.read(typed_echo, 1) == "int:1" and len(CALLS) == 6


def test_every_reader_gets_its_own_copy(warehouse):
    first = store.read(a_frame, 4)
    first.loc[0, "twice"] = -1
    first.attrs["changed"] = True
    again = store.read(a_frame, 4)
    assert again["twice"].tolist() == [0, 2, 4, 6] and "changed" not in again.attrs
    assert CALLS == [("a_frame", 4)]


def test_an_argument_python_cannot_hash_is_still_answered(warehouse):
    assert store.read(typed_echo, [1, 2]) == "list:[1, 2]"
    assert store.read(typed_echo, [1, 2]) == "list:[1, 2]"  # st.cache_data answered it, by content
    assert store.read(typed_echo, [1, 3]) == "list:[1, 3]"
    assert CALLS == [("typed_echo", [1, 2]), ("typed_echo", [1, 3])]


def test_the_cache_is_bounded(warehouse, monkeypatch):
    monkeypatch.setattr(store._RESULTS, "max_entries", 3)
    for n in range(6):
        store.read(a_frame, n)
    assert len(store._RESULTS.entries) == 3
    store.read(a_frame, 0)  # the oldest went first: read again
    assert CALLS[-1] == ("a_frame", 0) and len(CALLS) == 7

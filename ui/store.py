"""The warehouse the app reads: one read-only DuckDB connection per warehouse file version (a load swaps in a
new file, hence a new version), one cursor per thread, and `read(function, *args)`: a metrics call
`function(cursor, *args)` cached per warehouse version with `st.cache_data`."""

from __future__ import annotations

import threading
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import streamlit as st

from metrics.db import connect, database_version, resolve_db_path

T = TypeVar("T")
_thread_local = threading.local()


def db_path() -> Path:
    """The warehouse the app reads ($CRIME_MONITOR_DB or data/warehouse.duckdb)."""
    return resolve_db_path(None)


def db_version() -> str:
    """Changes whenever a load swaps in a new warehouse file (part of every cache key)."""
    return database_version(db_path())


def _close(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.close()
    except Exception:  # already closed
        pass


@st.cache_resource(max_entries=2, show_spinner=False, on_release=_close)
def _connection(path: str, version: str) -> duckdb.DuckDBPyConnection:
    """One read-only connection per warehouse file version."""
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


def _function_name(function: types.FunctionType) -> str:
    """A function hashed by its name in the cache key (metrics functions are module-level)."""
    return f"{function.__module__}.{function.__qualname__}"


@st.cache_data(show_spinner=False, max_entries=2000, hash_funcs={types.FunctionType: _function_name})
def _cached(function: Callable[..., T], path: str, version: str, args: tuple, kwargs: tuple) -> T:
    return function(cursor(), *args, **dict(kwargs))


def read(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function(cursor, *args, **kwargs)` through the cache, keyed on the warehouse file and version, the
    function and its arguments (hashable values: Filters, Comparison, Measure, dates, tuples, strings)."""
    return _cached(function, str(db_path()), db_version(), args, tuple(sorted(kwargs.items())))


__all__ = ["connect", "cursor", "db_path", "db_version", "read"]

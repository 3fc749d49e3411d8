"""The warehouse the app reads: one read-only DuckDB connection per warehouse file version (a load swaps in a
new file, hence a new version), one cursor per thread, and `read(function, *args)`: a metrics call
`function(cursor, *args)` cached per warehouse version.

The cache is keyed with Python's own hashing of the (hashable, frozen) arguments, each with its type: a page makes
15-20 reads, and `st.cache_data` spent 0.5-1.5 ms hashing the arguments of each (10-20 ms a page); this takes
microseconds. Results are kept pickled, so every read gets its own copy (as from `st.cache_data`). An argument
Python cannot hash still goes through `st.cache_data`, which hashes its content."""

from __future__ import annotations

import pickle
import threading
import types
from collections import OrderedDict
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


class _Results:
    """Results of reads, process-wide: key -> the result pickled (each read gets its own copy, as from
    `st.cache_data`), least recently used first out."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.entries: OrderedDict[tuple, bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple) -> bytes | None:
        with self.lock:
            blob = self.entries.get(key)
            if blob is not None:
                self.entries.move_to_end(key)
            return blob

    def put(self, key: tuple, blob: bytes) -> None:
        with self.lock:
            self.entries[key] = blob
            self.entries.move_to_end(key)
            while len(self.entries) > self.max_entries:
                self.entries.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


_RESULTS = _Results(max_entries=2000)


def _typed(values: tuple) -> tuple:
    """Values with their types, so that equal arguments of different types (1, 1.0, True) are different keys."""
    return tuple((type(value), value) for value in values)


def read(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function(cursor, *args, **kwargs)` through the cache, keyed on the warehouse file and version, the
    function and its arguments (hashable values: Filters, Comparison, Measure, dates, tuples, strings)."""
    path, version, items = str(db_path()), db_version(), tuple(sorted(kwargs.items()))
    key = (_function_name(function), path, version, _typed(args),
           tuple((name, type(value), value) for name, value in items))
    try:
        blob = _RESULTS.get(key)
    except TypeError:  # an argument Python cannot hash: Streamlit's cache hashes its content
        return _cached(function, path, version, args, items)
    if blob is None:
        value = function(cursor(), *args, **kwargs)
        _RESULTS.put(key, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        return value
    return pickle.loads(blob)


def clear() -> None:
    """Forget every cached read (tests; a load needs no clearing: the warehouse version is part of each key)."""
    _RESULTS.clear()
    _cached.clear()


__all__ = ["clear", "connect", "cursor", "db_path", "db_version", "read"]

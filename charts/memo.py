"""Built figures remembered by the content of their inputs, so a page that is drawn again (a repeat visit, a
rerun after a widget change, another user asking for the same slice) does not rebuild its Plotly figures.

Building a figure through Plotly's validated object model costs 40-80 ms of Python per chart on this machine
(every property set is validated, the template copied, each lockdown band's shape processed); a page draws
4-8 of them. The figure's plain specification (`fig.to_dict()`, the validated result) is kept instead, and a
later call with equal inputs gets a NEW figure made from a deep copy of it without validating again
(about 4 ms; a map's boundaries are shared, not copied: `charts.figures.SharedGeoJSON`): callers may change what
they get (the Panel's disclosure control does) without touching what is remembered.

Inputs are compared by content, never by identity: data frames and series by their values, index, column names,
dtypes and `attrs`; scalars, dates, lists, tuples and dicts by value. A call with anything else (an object the key
cannot describe exactly) is not remembered and simply builds. Process-wide, thread-safe, bounded by
`MAX_FIGURES` and `MAX_BYTES` (least recently used first out). No Streamlit here.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import io
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import plotly.graph_objects as go

MAX_FIGURES = 512
MAX_BYTES = 256 * 1024 * 1024   # of pickled specifications

Builder = TypeVar("Builder", bound=Callable[..., go.Figure])
_SCALARS = (str, bytes, int, float, bool, complex, type(None), date, datetime, time, timedelta, pd.Timestamp,
            pd.Timedelta, np.generic, type(pd.NaT), type(pd.NA))


class NotKeyable(TypeError):
    """An input whose content the key cannot describe exactly: the call is not remembered."""


class _Store:
    """The remembered specifications: key -> (spec, size in bytes), least recently used first."""

    def __init__(self) -> None:
        self.entries: OrderedDict[bytes, tuple[dict, int]] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.lock = threading.Lock()

    def get(self, key: bytes) -> dict | None:
        with self.lock:
            entry = self.entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self.entries.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key: bytes, spec: dict) -> None:
        size = len(pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL))
        if size > MAX_BYTES:
            return
        with self.lock:
            old = self.entries.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self.entries[key] = (spec, size)
            self.bytes += size
            while len(self.entries) > MAX_FIGURES or self.bytes > MAX_BYTES:
                _, (_, freed) = self.entries.popitem(last=False)
                self.bytes -= freed

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.bytes = self.hits = self.misses = 0


_STORE = _Store()


def _feed(digest: Any, value: Any) -> None:
    """Feed a typed, unambiguous encoding of `value`'s content into `digest`; NotKeyable when it cannot."""
    kind = type(value)
    digest.update(f"<{kind.__module__}.{kind.__qualname__}>".encode())
    if isinstance(value, pd.DataFrame):
        digest.update(repr((list(value.columns), [str(t) for t in value.dtypes], value.shape)).encode())
        _feed(digest, dict(value.attrs))
        if value.attrs:  # fed once: each column taken from the frame would otherwise deep-copy them again
            value = value.copy(deep=False)
            value.attrs = {}
        _feed_index(digest, value.index)
        for _, column in value.items():
            _feed_values(digest, column)
    elif isinstance(value, pd.Series):
        digest.update(repr((value.name, str(value.dtype), len(value))).encode())
        _feed(digest, dict(value.attrs))
        _feed_index(digest, value.index)
        _feed_values(digest, value)
    elif isinstance(value, pd.Index):
        _feed(digest, value.to_series())
    elif isinstance(value, np.ndarray):
        if value.dtype == object:
            _feed(digest, value.tolist())
        else:
            digest.update(repr((value.dtype.str, value.shape)).encode())
            digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, (list, tuple, dict)) and _pickled(digest, value):
        pass  # a GeoJSON, a list of periods: pickle's exact encoding
    elif isinstance(value, (list, tuple)):
        digest.update(f"[{len(value)}".encode())
        for item in value:
            _feed(digest, item)
    elif isinstance(value, dict):
        digest.update(f"{{{len(value)}".encode())
        for key in sorted(value, key=repr):
            _feed(digest, key)
            _feed(digest, value[key])
    elif isinstance(value, _SCALARS):
        digest.update(repr(value).encode())
    else:
        raise NotKeyable(f"{kind.__qualname__} has no content key")


_PICKLED_AS_THEY_ARE = (date, datetime)  # exact types whose pickle is their value (a month column holds dates)


class _PlainPickler(pickle.Pickler):
    """Pickles plain data only: str, bytes, numbers, bool, None, dates and lists, tuples and dicts of them (pickle
    handles the builtins itself; anything else reaches `reducer_override`, which lets exact dates and datetimes and
    their two classes through and refuses the rest)."""

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) in _PICKLED_AS_THEY_ARE or any(obj is kind for kind in _PICKLED_AS_THEY_ARE):
            return NotImplemented  # a date, or its class (pickle names it)
        raise pickle.PicklingError(f"not plain data: {type(obj).__qualname__}")


def _pickled(digest: Any, value: list | tuple | dict) -> bool:
    """Feed pickle's encoding of a container of plain data (exact, and in C: a GeoJSON of thousands of polygons costs
    milliseconds); False (nothing fed) when it holds anything else, which the caller then walks item by item."""
    buffer = io.BytesIO()
    try:
        _PlainPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return False
    digest.update(b"pickle:" + buffer.getvalue())
    return True


def _feed_index(digest: Any, index: pd.Index) -> None:
    """An index's content: a RangeIndex by its bounds, any other by pandas' hash of its values."""
    if isinstance(index, pd.RangeIndex):
        digest.update(repr(("range", index.start, index.stop, index.step)).encode())
    else:
        digest.update(pd.util.hash_pandas_object(index.to_frame(), index=False).to_numpy().tobytes())


def _feed_values(digest: Any, column: pd.Series) -> None:
    """A column's values: the bytes of a NumPy number, boolean or datetime column (exact, and no hashing); item by
    item, each with its type, for an object column (pandas hashes those through their text, so 1 and "1" would be the
    same; and it cannot hash lists or dicts); pandas' own hash of any other typed column (strings, categories)."""
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biufcmM":
        digest.update(repr((dtype.str, len(column))).encode())
        digest.update(np.ascontiguousarray(column.to_numpy()).tobytes())
    elif dtype == object:
        _feed(digest, column.tolist())
    else:
        digest.update(pd.util.hash_pandas_object(column, index=False).to_numpy().tobytes())


def content_key(name: str, args: tuple, kwargs: dict) -> bytes:
    """A digest of the builder's name and the content of its arguments (NotKeyable when one cannot be keyed)."""
    digest = hashlib.blake2b(name.encode(), digest_size=20)
    _feed(digest, list(args))
    _feed(digest, kwargs)
    return digest.digest()


def remembered(builder: Builder) -> Builder:
    """Decorate a figure builder: equal inputs give an equal figure without building it again (see the module)."""
    name = f"{builder.__module__}.{builder.__qualname__}"

    @functools.wraps(builder)
    def build(*args: Any, **kwargs: Any) -> go.Figure:
        try:
            key = content_key(name, args, kwargs)
        except NotKeyable:
            return builder(*args, **kwargs)
        spec = _STORE.get(key)
        if spec is not None:
            return go.Figure(copy.deepcopy(spec), _validate=False)
        figure = builder(*args, **kwargs)
        if not figure.frames:  # animations are not remembered (no builder makes one)
            _STORE.put(key, specification(figure))
        return figure

    build.uncached = builder  # type: ignore[attr-defined]
    return build  # type: ignore[return-value]


def specification(figure: go.Figure) -> dict:
    """A copy of the figure's validated properties as they are (numbers stay arrays; `to_dict` would turn them into
    base64 strings, which code reading a figure's values cannot use)."""
    return {"data": [trace.to_plotly_json() for trace in figure.data], "layout": figure.layout.to_plotly_json()}


def statistics() -> dict[str, int]:
    """Figures remembered, their pickled bytes, hits and misses since the start (or the last `forget`)."""
    with _STORE.lock:
        return {"figures": len(_STORE.entries), "bytes": _STORE.bytes, "hits": _STORE.hits, "misses": _STORE.misses}


def forget() -> None:
    """Drop every remembered figure (tests; a warehouse swap does not need it: keys are the data themselves)."""
    _STORE.clear()


__all__ = ["MAX_BYTES", "MAX_FIGURES", "NotKeyable", "content_key", "forget", "remembered", "statistics"]

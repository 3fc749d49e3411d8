"""Baselines stored with the data: the expected-vs-observed models of every slice the views offer, fitted
after a load and kept in the warehouse's `baselines` table, so a page reads them with SQL instead of fitting.

One code path: `expected_for(con, series, fit_until, ...)` (or `expected_for_many` for a page's batch of
series) is what every view, the scorecard, the COVID-19 view, the briefing pack and the CLI end in (through
metrics.expected.expected_vs_observed and the metrics.plan helpers). It builds the fit window, hashes the fit values (metrics.expected.baseline_key: model
version + window + exact values), reads the stored row with that key, and fits on demand when there is
none (a slice outside the stored set, or data changed since): a stored baseline and a fresh fit of the same
series give the same frame.

`python -m metrics baselines --db DB` computes them: it runs the views' own calls for each force (and
district) under both comparison presets and the COVID-19 view (so the series and windows are exactly the
ones the views ask for), collects every baseline used, then writes them all through the warehouse's atomic
write, after checking under the write lock that the data are still those it fitted (load_log fingerprint;
it starts again otherwise). `python -m etl load` and `python -m etl demo` start it in the background.

Scope (`--scope`): `full` = every force with data, force-wide and per district; `force` = force-wide series
only (districts fit on demand); `auto` (default) = full for warehouses with at most AUTO_FULL_FORCES forces,
force-wide beyond that (a national warehouse).
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import fcntl
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from metrics.expected import MODEL_VERSION, Baseline, FitWindow, SeriesRequest, expected_from_many, expected_from_series

AUTO_FULL_FORCES = 3
META_KEY = "baselines_stamp"
PRESET_NAMES = ("latest12", "covid")


class BaselineStore:
    """Reads stored baselines by key from a warehouse connection (or cursor)."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self.available = True

    def get(self, key: str, steps: int) -> Baseline | None:
        """The stored baseline with this key when it forecasts at least `steps` months, else None."""
        if not self.available:
            return None
        try:
            rows = self.con.execute(
                """
                select model, candidates, sigma2, residual_df, fitted_log, mean_log, psi, param_count,
                       param_loadings
                from baselines
                where baseline_key = ? and model_version = ? and horizon_months >= ?
                limit 1
                """,
                [key, MODEL_VERSION, int(steps)],
            ).fetchall()
        except (duckdb.CatalogException, duckdb.BinderException):  # a warehouse from before the table (columns)
            self.available = False
            return None
        if not rows:
            return None
        model, candidates, sigma2, residual_df, fitted_log, mean_log, psi, param_count, loadings = rows[0]
        mean = _array(mean_log)
        return Baseline(model=model, candidates=int(candidates), fitted_log=_array(fitted_log), mean_log=mean,
                        psi=_array(psi), sigma2=float(sigma2), residual_df=int(residual_df),
                        param_loadings=_array(loadings).reshape(len(mean), int(param_count)))

    def record(self, key: str, baseline: Baseline, window: FitWindow) -> None:
        """Readers keep nothing (the computation's collector does)."""


def _array(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype="float64")


@dataclass
class _Collected:
    baseline: Baseline
    window: FitWindow
    slices: set[str] = field(default_factory=set)


class BaselineCollector(BaselineStore):
    """The store the computation uses: reads rows already stored (unchanged series are not refitted) and
    keeps every baseline the views' calls used, with the slices that used it."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        super().__init__(con)
        self.collected: dict[str, _Collected] = {}
        self.current_slice = ""

    def record(self, key: str, baseline: Baseline, window: FitWindow) -> None:
        entry = self.collected.get(key)
        if entry is None or entry.baseline.horizon < baseline.horizon:
            entry = self.collected[key] = _Collected(baseline, window, entry.slices if entry else set())
        if self.current_slice:
            entry.slices.add(self.current_slice)


_active_collector: contextvars.ContextVar[BaselineCollector | None] = contextvars.ContextVar(
    "baseline_collector", default=None)


def expected_for(
    con: duckdb.DuckDBPyConnection,
    series: pd.Series,
    fit_until: date,
    until: date | None = None,
    fit_from: date | None = None,
    alpha: float = 0.05,
    include_disrupted: bool = False,
) -> pd.DataFrame:
    """metrics.expected's frame for a monthly series, from the stored baseline when the warehouse holds one
    for exactly these fit values and window, else fitted now. The projection starts after `fit_until`."""
    store = _active_collector.get() or BaselineStore(con)
    return expected_from_series(series, fit_until, until=until, fit_from=fit_from, alpha=alpha,
                                include_disrupted=include_disrupted, store=store)


def expected_for_many(con: duckdb.DuckDBPyConnection, requests: list[SeriesRequest], alpha: float = 0.05
                      ) -> list[pd.DataFrame]:
    """expected_for for several series (metrics.expected.SeriesRequest each), in order: stored baselines read,
    the rest fitted together (in parallel in the fit workers)."""
    store = _active_collector.get() or BaselineStore(con)
    return expected_from_many(requests, alpha, store)


# ---------------------------------------------------------------------------------------------
# computing them
# ---------------------------------------------------------------------------------------------
@dataclass
class BaselineRun:
    """What a computation did: baselines stored, slices asked, seconds, and the scope."""

    stored: int = 0
    slices: int = 0
    seconds: float = 0.0
    scope: str = ""
    forces: list[str] = field(default_factory=list)
    skipped: str = ""


def _view_calls(con, collector: BaselineCollector, force_id: str, districts: list[str]) -> int:
    """Run, for one force, every expected-vs-observed call the views make (see the module docstring)."""
    from metrics import plan
    from metrics.expected import expected_vs_observed
    from metrics.expected import MIN_MODEL_MONTHS
    from metrics.filters import Filters, add_months, months_between
    from metrics.series import categories, data_range

    first, last = data_range(con, "crimes", Filters(force_id=force_id))
    if first is None:
        for item in plan.MEASURES:
            first, last = data_range(con, item.family, Filters(force_id=force_id))
            if first is not None:
                break
    spans = [data_range(con, family, Filters(force_id=force_id)) for family in {m.family for m in plan.MEASURES}]
    if first is None or max(months_between(a, b) for a, b in spans if a is not None) <= MIN_MODEL_MONTHS:
        return 0  # nothing loaded, or too few months in every source for a model before its latest month
    comparisons = [c for c in (plan.resolve_comparison(first, last, p) for p in PRESET_NAMES) if c is not None]
    available = [m for m in plan.MEASURES if plan.measure_available(con, m, Filters(force_id=force_id))]
    crime_types = categories(con, "crimes", Filters(force_id=force_id))
    calls = 0
    for district in [None, *districts]:
        area = Filters(force_id=force_id, districts=(district,) if district else ())
        where = f"{force_id}{' · ' + district if district else ''}"
        for comparison in comparisons:
            fit_until = add_months(comparison.post[0], -1)
            for item in available:
                collector.current_slice = f"{where} · measure:{item.id}"
                plan.expected_flag(con, item.id, area, comparison)
                if item.family == "crimes":
                    expected_vs_observed(con, "crimes", plan.measure_filters(item, area), fit_until)
                calls += 2
            for name in crime_types:
                collector.current_slice = f"{where} · crime_type:{name}"
                expected_vs_observed(con, "crimes", Filters(force_id, area.districts, (name,)), fit_until)
                calls += 1
        for key, _label in plan.impact_keys(con, area):
            collector.current_slice = f"{where} · covid · {key}"
            plan.expected_series(con, key, area, plan.COVID_FIT_UNTIL)
            calls += 1
    return calls


def _scope_forces(con, force_ids: list[str] | None, scope: str) -> tuple[list[str], bool, str]:
    """(forces, with_districts, scope actually used)."""
    from metrics.series import forces

    frame = forces(con)
    families = [c for c in frame.columns if c not in ("force_id", "force_name")]
    loaded = [str(f) for f, *has in frame[["force_id", *families]].itertuples(index=False) if any(has)]
    chosen = [f for f in loaded if f in force_ids] if force_ids else loaded
    if scope == "auto":
        scope = "full" if force_ids or len(chosen) <= AUTO_FULL_FORCES else "force"
    return chosen, scope == "full", scope


def stamp(con: duckdb.DuckDBPyConnection, scope: str, forces: list[str]) -> str:
    """What stored baselines were computed for: the data (load fingerprint), model, calendar and scope."""
    from etl.warehouse import load_fingerprint
    from metrics.calendar import disruptions, disruptions_digest

    return "|".join([load_fingerprint(con), MODEL_VERSION, disruptions_digest(disruptions()), scope,
                     ",".join(forces)])


def _stored_stamp(con: duckdb.DuckDBPyConnection) -> str | None:
    rows = con.execute("select value from meta where key = ?", [META_KEY]).fetchall()
    return rows[0][0] if rows else None


def collect(con: duckdb.DuckDBPyConnection, forces: list[str], with_districts: bool, log=print) -> BaselineCollector:
    """Every baseline the views would use for these forces (fitting what is not stored already)."""
    from metrics.series import districts as district_names

    collector = BaselineCollector(con)
    token = _active_collector.set(collector)
    try:
        for force_id in forces:
            started = time.monotonic()
            names = district_names(con, "crimes", force_id) if with_districts else []
            calls = _view_calls(con, collector, force_id, names)
            log(f"baselines: {force_id}: {calls} view calls, {len(collector.collected)} baselines so far "
                f"({time.monotonic() - started:.1f} s)")
    finally:
        _active_collector.reset(token)
    return collector


def _frame(collector: BaselineCollector) -> pd.DataFrame:
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = []
    for key, entry in sorted(collector.collected.items()):
        b, w = entry.baseline, entry.window
        rows.append({"baseline_key": key, "model_version": MODEL_VERSION, "model": b.model,
                     "candidates": b.candidates, "fit_from": w.fit_from, "fit_until": w.fit_until,
                     "sigma2": b.sigma2, "residual_df": b.residual_df, "horizon_months": b.horizon,
                     "fitted_log": [float(v) for v in b.fitted_log], "mean_log": [float(v) for v in b.mean_log],
                     "psi": [float(v) for v in b.psi], "param_count": b.loadings(b.horizon).shape[1],
                     "param_loadings": [float(v) for v in b.loadings(b.horizon).ravel()],
                     "slices": sorted(entry.slices), "computed_at": now})
    return pd.DataFrame(rows)


class DataChanged(Exception):
    """The warehouse changed between fitting and writing."""


def write_baselines(db, collector: BaselineCollector, fitted_stamp: str) -> int:
    """Replace the baselines table under the warehouse's write lock, after checking the data are still the
    ones fitted (DataChanged otherwise). Returns the rows written."""
    from etl.warehouse import Warehouse, ensure_schema, load_fingerprint

    frame = _frame(collector)
    with Warehouse(db).write() as session:
        if load_fingerprint(session.con) != fitted_stamp.split("|", 1)[0]:
            raise DataChanged("the warehouse was reloaded while its baselines were being fitted")
        session.con.execute("drop table baselines")  # recreated from SCHEMA: an older layout goes too
        ensure_schema(session.con)
        if len(frame):
            session.con.register("new_baselines", frame)
            session.con.execute("insert into baselines by name select * from new_baselines")
            session.con.unregister("new_baselines")
        session.set_meta(META_KEY, fitted_stamp)
    return len(frame)


def compute_baselines(db=None, force_ids: list[str] | None = None, scope: str = "auto", *, if_stale: bool = False,
                      attempts: int = 3, log=print, before_write=None) -> BaselineRun:
    """Fit and store the baselines of every slice in scope (see the module docstring). if_stale: do nothing
    when the stored ones were computed for the same data, model, calendar and scope. `before_write` (tests)
    is called after fitting, before the write lock is taken."""
    from etl.warehouse import connect_read_only, resolve_db_path

    path = resolve_db_path(db)
    started = time.monotonic()
    run = BaselineRun()
    with _computation_lock(path) as free:
        if not free:
            run.skipped = "another baselines computation is running for this warehouse"
            log(f"baselines: {run.skipped}")
            return run
        for attempt in range(1, attempts + 1):
            con = connect_read_only(path)
            try:
                forces, with_districts, run.scope = _scope_forces(con, force_ids, scope)
                run.forces = forces
                fitted_stamp = stamp(con, run.scope, forces)
                if if_stale and _stored_stamp(con) == fitted_stamp:
                    run.skipped = "the stored baselines are up to date"
                    log(f"baselines: {run.skipped}")
                    return run
                collector = collect(con, forces, with_districts, log)
            finally:
                con.close()
            if before_write is not None:
                before_write()
            try:
                run.stored = write_baselines(path, collector, fitted_stamp)
            except DataChanged as exc:
                log(f"baselines: {exc}; fitting again (attempt {attempt + 1} of {attempts})")
                continue
            run.slices = sum(len(e.slices) for e in collector.collected.values())
            run.seconds = time.monotonic() - started
            log(f"baselines: stored {run.stored} baselines for {len(forces)} force(s), scope {run.scope}, "
                f"in {run.seconds:.1f} s")
            return run
    raise RuntimeError(f"{path}: the warehouse kept changing while its baselines were fitted; run again later")


@contextlib.contextmanager
def _computation_lock(path: Path):
    """Only one computation per warehouse at a time: yields False when another holds the lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".baselines.lock"), "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _cmd_baselines(args: argparse.Namespace) -> int:
    compute_baselines(args.db, args.force or None, args.scope, if_stale=args.if_stale)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "baselines", help="fit and store the expected-vs-observed baselines of every slice the views offer")
    parser.add_argument("--db", help="warehouse file (default $CRIME_MONITOR_DB or data/warehouse.duckdb)")
    parser.add_argument("--force", action="append", help="only this force id (repeatable; default: every force)")
    parser.add_argument("--scope", choices=["auto", "full", "force"], default="auto",
                        help="full: force-wide and per district; force: force-wide only; auto (default): full "
                             f"for up to {AUTO_FULL_FORCES} forces, force-wide beyond")
    parser.add_argument("--if-stale", action="store_true",
                        help="do nothing when the stored baselines match the data, model and calendar")
    parser.set_defaults(handler=_cmd_baselines)


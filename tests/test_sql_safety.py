"""SQL is parameterised: no value from a user, URL or file is ever formatted into SQL text.

The check parses every Python file of the project and finds each SQL call (`execute`, `executemany`,
`sql`, `query`, `from_query`, `duckdb.sql`...) whose SQL text is built at run time — an f-string with
`{...}`, `%` formatting, `.format(...)` or `+` concatenation — directly or through a variable assigned
such a value in the same function. Every such spot must be in REVIEWED below: a reviewed spot
interpolates only identifiers from a fixed whitelist in code (table and column names, SQL fragments
written in the code), never a value. A new spot fails this test until someone reviews it and adds it.
A planted bad example proves the check finds what it must.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import PROJECT_ROOT

SQL_METHODS = {"execute", "executemany", "sql", "query", "from_query", "read_csv_auto_sql"}
SCANNED = ["app.py", "etl", "metrics", "charts", "briefing", "pages", "bench", "ui", "scripts"]

# (file, function) -> why the run-time pieces of its SQL are safe. Reviewed by reading each call site:
# every piece is a table/column name from a fixed whitelist, or a SQL fragment written in code whose
# values are bound with ?. Adding a function that builds SQL text means reviewing it and adding it here.
FAMILY = ("identifiers from the FamilySpec whitelist (metrics/series.FAMILIES);"
          " filter values bound by Filters.where")
REVIEWED: dict[tuple[str, str], str] = {
    ("etl/warehouse.py", "ensure_schema"): "table names and column lists are the SCHEMA dict (code)",
    ("etl/warehouse.py", "log_file"): "one of two WHERE fragments written in the function; values bound",
    ("etl/warehouse.py", "replace_keyed"): "table/staged/key names passed by loaders as code constants (fraud, "
                                           "measures, counts, incidents, collisions...); columns from DESCRIBE",
    ("etl/warehouse.py", "claim_keys"): "claim/staged/key names passed by loaders as code constants; values bound",
    ("etl/warehouse.py", "add_rejects"): "only a repeated '(?, ?, ?, ?, ?)' placeholder group; every value bound",
    ("etl/sources/tidy_csv.py", "stage_rows"): "staged_<table>, table a code constant of the calling loader",
    ("etl/sources/tidy_csv.py", "replace_and_log"): "staged table name from stage_rows (code constants)",
    ("etl/plausibility.py", "install_window"): "WINDOW_TABLE a module constant; the macro's two dates are date "
                                               "objects formatted YYYY-MM-DD (a macro body takes no bound values)",
    ("etl/sources/common.py", "insert_rows"): "table name passed by loaders as a code constant",
    ("etl/sources/police_uk.py", "_streaming_pass"): "KINDS table name, staging SQL file from etl/sql, DESCRIBE "
                                                     "columns, read_csv_source subquery (paths and columns bound)",
    ("etl/sources/police_uk.py", "_exact_pass"): "KINDS table name, staging SQL file from etl/sql, DESCRIBE columns, "
                                                 "read_csv_source subquery (paths and columns bound)",
    ("etl/sources/police_uk.py", "_register_files"): "only a repeated placeholder group; every value bound",
    ("etl/sources/police_uk.py", "_delete_units"): "KINDS table name (code)",
    ("etl/sources/police_uk.py", "_loaded_by_unit"): "KINDS table name; fragments written in the function",
    ("etl/sources/police_uk.py", "_settle_force_and_month"): "_ROW_MONTH expressions and a fragment written in code",
    ("etl/sources/police_uk.py", "_drop_temporaries"): "temp table/view names listed in the module",
    ("etl/sources/stats19.py", "_read_raw"): "temp names listed in the function; KINDS raw table name; select list "
                                             "of _select_list: our *_COLUMNS names and the file's header names that "
                                             "equal one of them after strip/lower (so no quote can occur); "
                                             "read_csv_source subquery (paths and columns bound)",
    ("etl/sources/stats19.py", "_stage"): "KINDS raw table name, staging SQL files from etl/sql, _ROW_KEYS column "
                                          "names (code)",
    ("etl/sources/stats19.py", "load"): "temp table names listed in the module",
    ("etl/sources/extract.py", "load"): "staging SQL file from etl/sql; temp table names listed in the module",
    ("etl/national.py", "write_month"): "force_id from the FORCES whitelist; output path made by the generator (quotes "
                                        "doubled; COPY TO takes no bound path); column list a module constant",
    ("etl/warehouse.py", "log_files"): "a subquery written in the function; column list from SCHEMA; values bound",
    ("etl/warehouse.py", "connect_read_only"): "table/view names from the attached file's own catalogue, quoted as identifiers",
    ("etl/demo.py", "_write_frame"): "select lists are constants of the demo generator",
    ("etl/parquet.py", "_columns"): "table names from SCHEMA",
    ("etl/parquet.py", "export_parquet"): "table names from SCHEMA, YEAR_OF expressions (code); output path is the "
                                          "CLI's --out (quotes doubled; COPY TO takes no bound path)",
    ("metrics/inventory.py", "table_months"): "UNION over KNOWN_TABLES names (code)",
    ("metrics/plan.py", "incident_outcomes"): "flag checked against INCIDENT_FLAGS first; Filters.where clause, values bound",
    ("metrics/series.py", "single_counts_dataset"): FAMILY + "; monthly is a constant fragment",
    ("metrics/db.py", "table_has_rows"): "table checked against KNOWN_TABLES first",
    ("metrics/compare.py", "_period_counts"): FAMILY,
    ("metrics/series.py", "categories"): FAMILY,
    ("metrics/series.py", "data_range"): FAMILY,
    ("metrics/series.py", "districts"): FAMILY,
    ("metrics/series.py", "monthly_series"): FAMILY + "; group names checked by _by_columns",
    ("metrics/series.py", "monthly_series_each_category"): FAMILY + "; filter values bound by Filters.where",
    ("metrics/series.py", "weekly_series"): FAMILY + "; group names checked by _by_columns",
    ("metrics/series.py", "forces"): "UNION/PIVOT of FAMILIES sources (code)",
    ("metrics/force_measures.py", "latest_measures"): "_MAPPING_CTE is a module constant SQL fragment; values bound",
    ("metrics/force_measures.py", "measures_for_priority"): "_MAPPING_CTE is a module constant SQL fragment; values bound",
    ("metrics/fraud.py", "covid_rise"): "Filters.where clause; values bound",
    ("metrics/fraud.py", "fraud_by_type"): "Filters.where clause; values bound",
    ("metrics/fraud.py", "fraud_monthly"): "Filters.where clause; values bound",
    ("metrics/hotspots.py", "lsoa_counts"): FAMILY + "; universe is a SQL fragment in the module",
    ("metrics/hotspots.py", "point_density"): FAMILY,
    ("metrics/hotspots.py", "top_lsoas"): FAMILY,
    ("metrics/inventory.py", "table_rows"): "UNION over KNOWN_TABLES names (code)",
    ("metrics/outcomes.py", "outcome_shares"): FAMILY + "; by-names from a whitelist",
    ("metrics/rates.py", "_resolve_force"): "table name from FAMILIES sources",
    ("metrics/rates.py", "_district_counts"): FAMILY,
    ("metrics/compare.py", "_own_area"): "column is 'district' or 'lsoa_code' (checked first); source from FAMILIES",
    ("metrics/rates.py", "force_rates"): FAMILY,
    ("metrics/stop_search.py", "by_object"): "_MEASURES is a module constant; Filters.where clause, values bound",
    ("metrics/stop_search.py", "by_outcome"): "Filters.where clause; values bound",
    ("metrics/weekly.py", "_source_weeks"): "source must be a key of SOURCES (code); conditions and ids from WEEKLY_MEASURES",
    ("metrics/weekly.py", "_source_bounds"): "source must be a key of SOURCES (code); expressions from SOURCES",
    **{("metrics/roads.py", name): "_collision_filter fragments written in code, values bound; column/step from PERIODS"
       for name in ("severity_counts", "ksi_series", "casualties_by_road_user", "collisions_by_speed_limit",
                    "collisions_by_hour_day", "road_period_change", "_road_counts",
                    "casualties_per_collision_dispersion")},
    **{("metrics/incidents.py", name): "Filters.where/_where fragments, values bound; flag checked against FLAGS"
       " (_checked); column/step fixed in code; _repeat_cte and the callers' logic are code fragments"
       for name in ("_with_repeat_flags", "_from_chosen")},
    ("metrics/stop_search.py", "stop_search_summary"): "_MEASURES is a module constant; Filters.where clause, values bound",
}


@dataclass(frozen=True)
class Spot:
    file: str
    function: str
    line: int
    expression: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.file, self.function)


def _interpolated(node: ast.AST) -> list[str] | None:
    """The run-time pieces of a string-building expression, or None if it is a plain string."""
    if isinstance(node, ast.JoinedStr):
        parts = [ast.unparse(v.value) for v in node.values if isinstance(v, ast.FormattedValue)]
        return parts or None
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
        left, right = _interpolated(node.left), _interpolated(node.right)
        pieces = [*(left or []), *(right or [])]
        for side in (node.left, node.right):
            if not isinstance(side, (ast.Constant, ast.JoinedStr, ast.BinOp)):
                pieces.append(ast.unparse(side))
        return pieces or None
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"
            and isinstance(node.func.value, (ast.Constant, ast.JoinedStr))):
        return [ast.unparse(a) for a in [*node.args, *(k.value for k in node.keywords)]] or ["format()"]
    return None


class _Finder(ast.NodeVisitor):
    def __init__(self, relative: str):
        self.relative = relative
        self.function = "<module>"
        self.tainted: dict[str, list[str]] = {}
        self.spots: list[Spot] = []

    def visit_FunctionDef(self, node):  # noqa: N802
        outer, outer_tainted = self.function, self.tainted
        self.function, self.tainted = node.name, {}
        self.generic_visit(node)
        self.function, self.tainted = outer, outer_tainted

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Assign(self, node):  # noqa: N802
        pieces = _interpolated(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name):
                if pieces:
                    self.tainted[target.id] = pieces
                else:
                    self.tainted.pop(target.id, None)
        self.generic_visit(node)

    def visit_Call(self, node):  # noqa: N802
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in SQL_METHODS and node.args:
            sql = node.args[0]
            pieces = _interpolated(sql)
            if pieces is None and isinstance(sql, ast.Name) and sql.id in self.tainted:
                pieces = self.tainted[sql.id]
            for piece in pieces or []:
                self.spots.append(Spot(self.relative, self.function, node.lineno, piece))
        self.generic_visit(node)


def find_string_built_sql(root: Path, entries: list[str] = SCANNED) -> list[Spot]:
    """Every SQL call whose text is built from run-time pieces, under root."""
    spots: list[Spot] = []
    files: list[Path] = []
    for entry in entries:
        path = root / entry
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(sorted(path.rglob("*.py")))
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        finder = _Finder(path.relative_to(root).as_posix())
        finder.visit(tree)
        spots.extend(finder.spots)
    return spots


def test_no_unreviewed_string_built_sql():
    spots = find_string_built_sql(PROJECT_ROOT)
    unreviewed = [s for s in spots if s.key not in REVIEWED]
    assert unreviewed == [], "SQL built from run-time strings; bind values with ? or review the identifiers:\n" + "\n".join(
        f"  {s.file}:{s.line} in {s.function}(): {{{s.expression}}}" for s in unreviewed
    )


def test_the_check_scans_the_loaders():
    """The scanner really sees the reviewed spots (it is not silently scanning nothing)."""
    found = {(s.file, s.function, s.expression) for s in find_string_built_sql(PROJECT_ROOT)}
    assert ("etl/warehouse.py", "claim_keys", "key_list") in found
    assert ("etl/sources/police_uk.py", "_streaming_pass", "source") in found
    assert ("metrics/db.py", "table_has_rows", "table") in found


def test_every_reviewed_spot_still_builds_sql():
    """A reviewed entry whose function no longer builds SQL text is stale: remove it (or its new name is unreviewed)."""
    keys = {s.key for s in find_string_built_sql(PROJECT_ROOT)}
    assert [key for key in REVIEWED if key not in keys] == []


def test_planted_bad_examples_are_caught(tmp_path):
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "bad.py").write_text(textwrap.dedent(
        """
        def by_district(con, district, limit):
            con.execute(f"SELECT * FROM crimes WHERE district = '{district}'")
            con.execute("SELECT * FROM crimes WHERE district = '%s'" % district)
            con.execute("SELECT * FROM crimes LIMIT {}".format(limit))
            con.execute("SELECT * FROM crimes WHERE district = '" + district + "'")
            query = f"SELECT * FROM crimes WHERE month = '{limit}'"
            con.sql(query)
            con.execute("SELECT * FROM crimes WHERE district = ?", [district])  # fine: bound

        def fine(con):
            query = "SELECT 1"
            con.execute(query)
        """
    ))
    spots = find_string_built_sql(tmp_path, ["pages"])
    assert [(s.line, s.expression) for s in spots] == [
        (3, "district"), (4, "district"), (5, "limit"), (6, "district"), (8, "limit")
    ]
    assert all(s.key not in REVIEWED for s in spots)

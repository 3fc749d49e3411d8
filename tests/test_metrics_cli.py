"""`python -m metrics series|compare|expected` end to end, output checked against csv counts (rates, weekly and
weekly-calibration are tested beside their modules: test_metrics_rates.py, test_weekly.py)."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

import pytest
from scipy import stats

from etl.load import load_sources
from metrics.__main__ import main
from tests.conftest import run_cli


class _Result:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def metrics_cli(capsys, *args: str, check: bool = True) -> _Result:
    """`python -m metrics ...` in this process (the subprocess path is exercised once, in test_compare_csv)."""
    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse errors
        code = exc.code if isinstance(exc.code, int) else 2
    captured = capsys.readouterr()
    if check:
        assert code == 0, captured.err
    return _Result(code, captured.out, captured.err)


def _type_counts(essex_dir, months):
    counts = Counter()
    for month in months:
        with open(essex_dir / month / f"{month}-essex-street.csv", newline="", encoding="utf-8") as handle:
            counts.update(row["Crime type"] for row in csv.DictReader(handle))
    return counts


def test_compare_csv(essex_db, essex_dir):
    result = run_cli("metrics", "compare", "--db", str(essex_db), "--pre", "2018-10:2018-12", "--post", "2019-01:2019-02",
                     "--force", "essex", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    pre = _type_counts(essex_dir, ["2018-10", "2018-11", "2018-12"])
    post = _type_counts(essex_dir, ["2019-01", "2019-02"])
    assert len(rows) == 14
    for row in rows:
        assert int(row["pre_count"]) == pre[row["crime_type"]]
        assert int(row["post_count"]) == post[row["crime_type"]]
        n = pre[row["crime_type"]] + post[row["crime_type"]]
        x, pi = post[row["crime_type"]], 59 / (59 + 92)  # exposure in days: Jan–Feb 2019 against Oct–Dec 2018
        central = min(1.0, 2 * min(stats.binom.cdf(x, n, pi), stats.binom.sf(x - 1, n, pi)))
        assert float(row["p_value"]) == pytest.approx(central, rel=1e-6)
        assert row["in_force"] == "True"


def test_compare_table_and_json(essex_db, essex_dir, capsys):
    table = metrics_cli(capsys, "compare", "--db", str(essex_db), "--pre", "2018-10:2018-12", "--post", "2019-01:2019-02")
    assert "Violence and sexual offences" in table.stdout and "Benjamini" in table.stdout
    total = metrics_cli(capsys, "compare", "--db", str(essex_db), "--pre", "2018-10:2018-12", "--post", "2019-01:2019-02",
                    "--by", "none", "--format", "json")
    payload = json.loads(total.stdout)
    pre = _type_counts(essex_dir, ["2018-10", "2018-11", "2018-12"])
    assert payload["rows"][0]["pre_count"] == sum(pre.values())


def test_series_and_bad_input(essex_db, essex_dir, capsys):
    result = metrics_cli(capsys, "series", "--db", str(essex_db), "--by", "crime_type", "--category", "Burglary", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    expected = {}
    for month in ["2018-10", "2018-11", "2018-12", "2019-01", "2019-02"]:
        expected[f"{month}-01"] = _type_counts(essex_dir, [month])["Burglary"]
    assert {row["month"]: int(row["count"]) for row in rows} == expected
    bad = metrics_cli(capsys, "series", "--db", str(essex_db), "--by", "password", check=False)
    assert bad.returncode == 2 and "cannot group crimes by 'password'" in bad.stderr
    bad_period = metrics_cli(capsys, "compare", "--db", str(essex_db), "--pre", "2018-13:2018-12", "--post", "2019-01", check=False)
    assert bad_period.returncode != 0 and "YYYY-MM" in bad_period.stderr


def test_expected_on_london(tmp_path, reference_data, capsys):
    db = tmp_path / "london.duckdb"
    load_sources([reference_data / "london-datastore" / "mps-borough-level-crime-historical.csv"], db, progress=False)
    result = metrics_cli(capsys, "expected", "--db", str(db), "--source", "counts", "--fit-from", "2015-04",
                     "--fit-until", "2020-02", "--until", "2020-06", "--format", "json")
    payload = json.loads(result.stdout)
    april = next(row for row in payload["rows"] if row["month"] == "2020-04-01")
    assert april["flag"] == "below" and april["observed"] < april["lower"]
    assert payload["attrs"]["method"] in {"sarima", "ets"}

"""The calibration backtest: its London series against the raw file read with the csv module, its coverage
arithmetic by hand, and two real rolling origins end to end."""

from __future__ import annotations

import csv
from datetime import date

import pandas as pd
import pytest

from metrics.backtest import backtest_series, coverage_table, london_series, origins_for
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def london_file(reference_data):
    return reference_data / "london-datastore" / "mps-borough-level-crime-historical.csv"


@pytest.fixture(scope="module")
def by_category(london_file) -> dict[str, dict[date, int]]:
    """{MajorText: {month: crimes summed over boroughs and minor categories}} with the csv module."""
    totals: dict[str, dict[date, int]] = {}
    with open(london_file, newline="", encoding="utf-8") as handle:
        for record in csv.DictReader(handle):
            months = totals.setdefault(record.pop("MajorText"), {})
            del record["MinorText"], record["BoroughName"]
            for period, crimes in record.items():
                month = date(int(period[:4]), int(period[4:]), 1)
                months[month] = months.get(month, 0) + int(crimes)
    return totals


def test_london_series_are_the_file_summed_over_boroughs(london_file, by_category):
    series = {s.name: s for s in london_series(london_file)}
    total = series["all recorded crime"].values
    for month in (date(2010, 4, 1), date(2016, 7, 1), date(2023, 9, 1)):
        assert total[pd.Timestamp(month)] == sum(part[month] for part in by_category.values())
    burglary = series["Burglary"].values
    assert burglary.to_dict() == {pd.Timestamp(m): float(v) for m, v in by_category["BURGLARY"].items()}
    # categories with zero months are left out: fraud and forgery moved to Action Fraud in 2013
    assert min(by_category["FRAUD AND FORGERY"].values()) == 0 and "Fraud and forgery" not in series
    assert len(series) == 1 + sum(min(part.values()) > 0 for part in by_category.values())


def test_origins_default_to_24_months_of_history_and_a_full_horizon():
    values = pd.Series(1.0, index=pd.date_range("2017-01-01", "2020-02-01", freq="MS"))
    origins = origins_for(values, None, None, 10)
    assert origins[0] == date(2018, 12, 1) and origins[-1] == date(2019, 4, 1) and len(origins) == 5
    assert origins_for(values, date(2019, 1, 1), date(2019, 2, 1), 10) == [date(2019, 1, 1), date(2019, 2, 1)]


def test_two_real_origins_end_to_end(london_file, by_category):
    series = next(s for s in london_series(london_file) if s.name == "Robbery")
    rows, seconds = backtest_series(series, [date(2016, 5, 1), date(2018, 11, 1)], 10)
    assert len(rows) == 2 * 11 and len(seconds) == 2
    monthly = rows[rows["step"] > 0]
    assert (monthly["covered"] == ((monthly["lower"] <= monthly["observed"]) & (monthly["observed"] <= monthly["upper"]))).all()
    first = monthly[monthly["origin"] == date(2016, 5, 1)]
    months = [date(2016 + (5 + k - 1) // 12, (5 + k - 1) % 12 + 1, 1) for k in range(1, 11)]  # Jun 2016..Mar 2017
    assert first["observed"].tolist() == [by_category["ROBBERY"][m] for m in months]
    total = rows[(rows["step"] == 0) & (rows["origin"] == date(2016, 5, 1))].iloc[0]
    assert total["observed"] == sum(by_category["ROBBERY"][m] for m in months)
    assert total["covered"] == (total["lower"] <= 0 <= total["upper"])  # the total within its interval


def test_coverage_table_by_hand():
    rows = [("A", "a1", date(2019, 1, 1), 1, 0, 0, 0, True), ("A", "a1", date(2019, 1, 1), 2, 0, 0, 0, False),
            ("A", "a1", date(2019, 1, 1), 0, 0, 0, 0, True), ("B", "b1", date(2019, 1, 1), 1, 0, 0, 0, True),
            ("B", "b2", date(2019, 2, 1), 1, 0, 0, 0, True), ("B", "b2", date(2019, 2, 1), 0, 0, 0, 0, False)]
    frame = pd.DataFrame(rows, columns=["group", "series", "origin", "step", "observed", "lower", "upper", "covered"])
    table = coverage_table(frame).set_index("group")
    assert table.loc["A", "monthly_coverage"] == 0.5 and table.loc["A", "cumulative_coverage"] == 1.0
    assert table.loc["B", "monthly_forecasts"] == 2 and table.loc["B", "monthly_coverage"] == 1.0
    assert table.loc["B", "series"] == 2 and table.loc["B", "origins"] == 2
    assert table.loc["overall", "monthly_coverage"] == 0.75 and table.loc["overall", "cumulative_coverage"] == 0.5


def test_backtest_cli_needs_something_to_test():
    result = run_cli("metrics", "backtest", "--no-london", check=False)
    assert result.returncode == 2 and "nothing to backtest" in result.stderr and "Traceback" not in result.stderr

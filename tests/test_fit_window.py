"""The disruption calendar and the fit-window rule: which months a baseline learns from, checked against
months typed out by hand."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from metrics import calendar
from metrics.calendar import Disruption, disrupted_months, disruptions, parse_disruptions
from metrics.expected import choose_fit_window, expected_from_series

COVID = (Disruption("COVID-19 restrictions", date(2020, 3, 23), date(2021, 7, 19)),)


def _months(first: str, last: str) -> list[date]:
    return [m.date() for m in pd.date_range(first, last, freq="MS")]


def test_default_calendar_marks_march_2020_to_july_2021():
    assert disruptions() == COVID
    months = _months("2020-01-01", "2021-09-01")
    marked = [m for m, hit in zip(months, disrupted_months(months, COVID)) if hit]
    # touched by 23 Mar 2020 .. 19 Jul 2021: March 2020 through July 2021, 17 months
    assert marked[0] == date(2020, 3, 1) and marked[-1] == date(2021, 7, 1) and len(marked) == 17


def test_latest12_in_2021_fits_the_pre_covid_run_and_says_what_it_left_out():
    months = _months("2017-01-01", "2021-12-01")
    window = choose_fit_window(months, np.ones(len(months)), date(2021, 1, 1), COVID)
    assert (window.fit_from, window.fit_until, window.months) == (date(2017, 1, 1), date(2020, 2, 1), 38)
    assert window.fit_excluded == "Mar 2020–Dec 2020 (COVID-19 restrictions)"
    assert window.basis == ("Fitted on Jan 2017–Feb 2020 (38 months); left out Mar 2020–Dec 2020 "
                            "(COVID-19 restrictions).")


def test_a_short_run_after_the_disruption_is_projected_across():
    months = _months("2017-01-01", "2021-12-01")
    window = choose_fit_window(months, np.ones(len(months)), date(2022, 1, 1), COVID)
    assert (window.fit_from, window.fit_until) == (date(2017, 1, 1), date(2020, 2, 1))
    assert window.fit_excluded == "Mar 2020–Jul 2021 (COVID-19 restrictions)"
    assert window.skipped == (date(2021, 8, 1), date(2021, 12, 1))  # 5 clean months: too few to refit


def test_a_long_enough_run_after_the_disruption_is_used():
    months = _months("2017-01-01", "2023-12-01")
    window = choose_fit_window(months, np.ones(len(months)), date(2024, 1, 1), COVID)
    assert (window.fit_from, window.fit_until, window.months) == (date(2021, 8, 1), date(2023, 12, 1), 29)
    assert window.fit_excluded == "" and window.skipped is None


def test_at_most_60_months_and_missing_months_break_runs():
    months = _months("2005-01-01", "2019-12-01")  # 180 clean months
    window = choose_fit_window(months, np.ones(len(months)), date(2020, 1, 1), COVID)
    assert (window.fit_from, window.fit_until, window.months) == (date(2015, 1, 1), date(2019, 12, 1), 60)
    values = np.ones(len(months))
    values[months.index(date(2018, 6, 1))] = np.nan  # a month not loaded
    window = choose_fit_window(months, values, date(2020, 1, 1), COVID)
    assert (window.fit_from, window.fit_until) == (date(2013, 6, 1), date(2018, 5, 1))  # 2018-07..2019-12 is 18


def test_include_disrupted_keeps_the_covid_months_and_says_so():
    months = _months("2017-01-01", "2021-12-01")
    window = choose_fit_window(months, np.ones(len(months)), date(2021, 1, 1), COVID, include_disrupted=True)
    assert (window.fit_from, window.fit_until, window.months) == (date(2017, 1, 1), date(2020, 12, 1), 48)
    assert window.fit_excluded == ""
    assert "including Mar 2020–Dec 2020 (COVID-19 restrictions) as asked" in window.basis


def test_under_24_clean_months_there_is_no_expected_value_at_all():
    months = pd.date_range("2018-03-01", "2020-06-01", freq="MS")  # 24 months before Mar 2020 ... 2 short
    series = pd.Series(np.random.default_rng(3).poisson(100, len(months)).astype(float), index=months)
    frame = expected_from_series(series, fit_until=date(2020, 5, 1))
    # usable: Mar 2018..Feb 2020 = 24 months -> a model; now cut two months off the start
    assert frame.attrs["method"] == "sarima" and frame.attrs["fit_until"] == date(2020, 2, 1)
    short = expected_from_series(series[2:], fit_until=date(2020, 5, 1))
    assert short.attrs["method"] is None and short.attrs["model"] is None
    assert short.attrs["note"] == ("Needs 24 months of history, 22 available (left out Mar 2020–May 2020 "
                                   "(COVID-19 restrictions)).")
    assert short["expected"].isna().all() and short["lower"].isna().all() and short["upper"].isna().all()
    assert short["flag"].isna().all() and not short["in_fit"].any()
    assert short.attrs["fit_from"] is None and short.attrs["fit_until"] is None


def test_another_disruption_from_a_toml_file(tmp_path, monkeypatch):
    config = tmp_path / "disruptions.toml"
    config.write_text(
        '[[disruption]]\nlabel = "COVID-19 restrictions"\nstart = 2020-03-23\nend = 2021-07-19\n\n'
        '[[disruption]]\nlabel = "recording system change"\nstart = 2018-04-30\nend = 2018-05-02\n'
    )
    monkeypatch.setenv("CRIME_MONITOR_DISRUPTIONS", str(config))
    periods = disruptions()
    assert [p.label for p in periods] == ["recording system change", "COVID-19 restrictions"]
    months = _months("2015-01-01", "2021-12-01")
    window = choose_fit_window(months, np.ones(len(months)), date(2021, 1, 1))
    # Apr and May 2018 are touched: the latest clean run is Jun 2018..Feb 2020 (21 months), too short
    assert (window.fit_from, window.fit_until) == (date(2015, 1, 1), date(2018, 3, 1))
    assert window.fit_excluded == ("Apr 2018–May 2018 (recording system change); "
                                   "Mar 2020–Dec 2020 (COVID-19 restrictions)")
    assert window.skipped == (date(2018, 6, 1), date(2020, 2, 1))


def test_a_bad_calendar_file_is_named_with_what_is_wrong(tmp_path, monkeypatch):
    config = tmp_path / "bad.toml"
    config.write_text('[[disruption]]\nlabel = "x"\nstart = 2020-05-01\nend = 2020-04-01\n')
    monkeypatch.setenv("CRIME_MONITOR_DISRUPTIONS", str(config))
    with pytest.raises(ValueError, match=r"bad\.toml, disruption 1: ends 2020-04-01 before it starts 2020-05-01"):
        disruptions()
    config.write_text('[[disruption]]\nstart = 2020-05-01\nend = 2020-06-01\n')
    with pytest.raises(ValueError, match=r"bad\.toml, disruption 1: needs a label"):
        disruptions()
    config.write_text('[[disruption]\n')
    with pytest.raises(ValueError, match=r"bad\.toml: not valid TOML"):
        disruptions()
    with pytest.raises(ValueError, match="not a date"):
        parse_disruptions({"disruption": [{"label": "x", "start": "23/03/2020", "end": "2020-06-01"}]})
    monkeypatch.setenv("CRIME_MONITOR_DISRUPTIONS", str(tmp_path / "missing.toml"))
    with pytest.raises(ValueError, match="missing.toml: disruption calendar not found"):
        calendar.disruptions()

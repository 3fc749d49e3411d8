"""The COVID calendar and comparison presets."""

from __future__ import annotations

from datetime import date

import pytest

from metrics.calendar import (
    covid_periods,
    latest_12_vs_previous_12,
    lockdowns,
    pre_covid_vs_covid_year,
)


def test_default_lockdowns():
    frame = lockdowns()
    assert list(zip(frame["start"], frame["end"])) == [
        (date(2020, 3, 23), date(2020, 6, 23)),
        (date(2020, 11, 5), date(2020, 12, 2)),
        (date(2021, 1, 6), date(2021, 3, 29)),
    ]
    periods = covid_periods()
    assert set(periods["kind"]) == {"lockdown", "easing"}
    assert periods.attrs["restrictions_lifted"] == date(2021, 7, 19)
    assert periods["end"].iloc[-1] == date(2021, 7, 18)
    # consecutive, no overlap
    for previous_end, start in zip(periods["end"].iloc[:-1], periods["start"].iloc[1:]):
        assert (start - previous_end).days == 1


def test_each_caller_gets_its_own_default_lockdowns():
    """The default calendar's lockdowns are made once; a caller changing its frame changes nobody else's."""
    first = lockdowns()
    first.loc[0, "label"] = "changed"
    first.attrs["restrictions_lifted"] = None
    again = lockdowns()
    assert again.loc[0, "label"] == "First lockdown"
    assert again.attrs["restrictions_lifted"] == date(2021, 7, 19)
    configured = lockdowns({"periods": [{"label": "Local", "start": "2020-07-04", "end": "2020-08-01"}]})
    assert list(configured["label"]) == ["Local"]  # a configured calendar is its own, not the default's


def test_configured_periods_and_errors():
    frame = covid_periods({"periods": [{"label": "Local", "start": "2020-07-04", "end": "2020-08-01"}],
                           "restrictions_lifted": "2021-07-19"})
    assert frame.to_dict("list") == {"label": ["Local"], "start": [date(2020, 7, 4)], "end": [date(2020, 8, 1)], "kind": ["lockdown"]}
    with pytest.raises(ValueError, match="not a date"):
        covid_periods({"periods": [{"start": "23/03/2020", "end": "2020-06-23"}]})
    with pytest.raises(ValueError, match="before it starts"):
        covid_periods({"periods": [{"start": "2020-06-23", "end": "2020-03-23"}]})
    with pytest.raises(ValueError, match="kind"):
        covid_periods({"periods": [{"start": "2020-03-23", "end": "2020-06-23", "kind": "tier"}]})


def test_presets():
    assert latest_12_vs_previous_12(date(2021, 3, 1)) == (
        (date(2019, 4, 1), date(2020, 3, 1)), (date(2020, 4, 1), date(2021, 3, 1)))
    assert pre_covid_vs_covid_year() == ((date(2019, 3, 1), date(2020, 2, 1)), (date(2020, 3, 1), date(2021, 2, 1)))

"""The suppression rule on hand-made frames (expected cells worked out by hand) and a property test."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from briefing.disclosure import SECONDARY_MARKER, DisclosureRule, protect_frame
from metrics.filters import Filters

VSO = "Violence and sexual offences"


def test_primary_and_complementary_cells_by_hand():
    frame = pd.DataFrame({
        "lsoa_code": ["A", "B", "C", "D"],
        "lsoa_name": ["Harlow 001A", "Harlow 001B", "Harlow 001C", "Harlow 001D"],
        "crime_type": [VSO] * 4,
        "count": [3, 10, 12, 7],
        "rate_per_1000": [2.0, 6.5, 7.9, 4.4],
        "residents": [1500, 1540, 1520, 1590],
    })
    result = protect_frame(frame, rule=DisclosureRule(threshold=4))
    # 3 is primary; the smallest other non-zero cell (7) is withheld with it: 3 + 7 = 10 > 4 from two cells
    assert result.frame["count"].tolist() == ["<5", 10, 12, SECONDARY_MARKER]
    assert result.frame["rate_per_1000"].tolist() == [SECONDARY_MARKER, 6.5, 7.9, SECONDARY_MARKER]
    assert result.frame["residents"].tolist() == [1500, 1540, 1520, 1590]  # not derived from the counts
    assert (result.primary, result.secondary) == (1, 1)
    assert frame["count"].tolist() == [3, 10, 12, 7]  # input untouched


def test_two_small_cells_summing_to_the_threshold_need_a_third():
    frame = pd.DataFrame({"lsoa_code": list("ABCD"), "crime_type": [VSO] * 4, "count": [1, 2, 0, 25]})
    shown = protect_frame(frame, rule=DisclosureRule(threshold=4)).frame["count"].tolist()
    # 1 + 2 = 3 <= 4 would let a total minus the visible cells bound both: the 25 is withheld too, not the 0
    assert shown == ["<5", "<5", 0, SECONDARY_MARKER]


def test_only_sensitive_categories_and_only_lsoa_level():
    frame = pd.DataFrame({"lsoa_code": ["A", "A", "B", "B"], "crime_type": ["Burglary", VSO, "Burglary", VSO],
                          "count": [2, 2, 9, 30]})
    shown = protect_frame(frame).frame["count"].tolist()
    assert shown == [2, "<5", 9, SECONDARY_MARKER]
    districts = pd.DataFrame({"district": ["Harlow", "Maldon"], "crime_type": [VSO, VSO], "count": [2, 3]})
    assert protect_frame(districts).frame["count"].tolist() == [2, 3]  # not LSOA-level


def test_table_level_sensitivity_from_filters_and_threshold_setting(monkeypatch):
    frame = pd.DataFrame({"lsoa_code": ["A", "B", "C"], "count": [5, 6, 40]})
    assert protect_frame(frame, filters=Filters(categories=(VSO,))).frame["count"].tolist() == [5, 6, 40]
    rule = DisclosureRule(threshold=9)
    assert rule.marker == "<10"
    assert protect_frame(frame, filters=Filters(categories=(VSO,)), rule=rule).frame["count"].tolist() == [
        "<10", "<10", 40]
    assert protect_frame(frame, filters=Filters(categories=("Burglary",)), rule=rule).frame["count"].tolist() == [5, 6, 40]
    monkeypatch.setenv("CRIME_MONITOR_DISCLOSURE_THRESHOLD", "6")
    assert DisclosureRule().threshold == 6
    monkeypatch.setenv("CRIME_MONITOR_DISCLOSURE_THRESHOLD", "none")
    with pytest.raises(ValueError, match="CRIME_MONITOR_DISCLOSURE_THRESHOLD must be a whole number"):
        DisclosureRule()


def test_total_row_is_withheld_when_cells_alone_cannot_protect():
    frame = pd.DataFrame({"lsoa_code": ["A", "B", None], "lsoa_name": ["Maldon 001A", "Maldon 001B", "Total"],
                          "crime_type": [VSO] * 3, "count": [2, 1, 3]})
    shown = protect_frame(frame).frame["count"].tolist()
    assert shown == ["<5", "<5", SECONDARY_MARKER]


def test_domestic_abuse_flag_rows_are_sensitive():
    frame = pd.DataFrame({"lsoa_code": ["A", "B", "A", "B"], "domestic_abuse": [True, True, False, False],
                          "count": [2, 11, 2, 11]})
    assert protect_frame(frame).frame["count"].tolist() == ["<5", SECONDARY_MARKER, 2, 11]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=12),
       st.lists(st.integers(min_value=0, max_value=3), min_size=12, max_size=12),
       st.integers(min_value=1, max_value=6))
def test_no_small_count_survives_or_is_recoverable(counts, district_ids, threshold):
    """Any LSOA column of counts: no 1..threshold shown; a force or district total minus the visible cells
    is either nothing (all withheld) or the sum of two or more cells above the threshold."""
    n = len(counts)
    names = [f"D{district_ids[i]} {i:03d}A" for i in range(n)]
    frame = pd.DataFrame({"lsoa_code": [f"E{i:08d}" for i in range(n)], "lsoa_name": names,
                          "crime_type": [VSO] * n, "count": counts})
    shown = protect_frame(frame, rule=DisclosureRule(threshold=threshold)).frame["count"].tolist()
    hidden = [i for i in range(n) if isinstance(shown[i], str)]
    for i in range(n):
        if 1 <= counts[i] <= threshold:
            assert i in hidden
        else:
            assert i in hidden or shown[i] == counts[i]
    groups = [list(range(n))] + [[i for i in range(n) if district_ids[i] == d] for d in set(district_ids[:n])]
    for members in groups:
        withheld = [i for i in members if i in hidden]
        if withheld and len(withheld) < len(members):
            assert len(withheld) >= 2 and sum(counts[i] for i in withheld) > threshold

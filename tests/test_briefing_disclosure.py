"""The disclosure rule: its parts by hand (bands, blocks, the withheld LSOA, frames and figures), and a property
test that attacks random worlds the way an analyst with every other figure would.

The rule changed (issue 15): the old one showed LSOA counts 1–4 as "<5" for any period with secondary suppression
chosen per table, and differencing exports of overlapping periods (Jan–Feb minus Jan) gave the counts back. The
new rule publishes sensitive LSOA counts only by calendar quarter, in bands, with one LSOA per district withheld
independently of the counts; any other table that holds them withholds them. The old hand-made expectations
("<5" next to exact counts, "[c]" on the next smallest cell) are replaced by the new ones below.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from briefing.disclosure import (
    SECONDARY_MARKER,
    DisclosureRule,
    block_for_period,
    protect_figure,
    protect_for_screen,
    protect_frame,
    published_lsoa_counts,
    release_period,
    withheld_lsoa,
)
from etl.warehouse import ensure_schema
from metrics.filters import Filters

VSO = "Violence and sexual offences"
RULE = DisclosureRule(threshold=4, block_months=3)


# --- the parts, by hand -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("count", "shown", "low", "high"), [
    (0, "<5", 0, 4), (1, "<5", 0, 4), (4, "<5", 0, 4), (5, 5, 5, 7), (7, 5, 5, 7), (8, 10, 8, 12), (12, 10, 8, 12),
    (13, 15, 13, 17), (98, 100, 98, 102), (102, 100, 98, 102),
])
def test_bands(count, shown, low, high):
    band = RULE.band(count)
    assert (band.shown, band.low, band.high) == (shown, low, high)
    assert low <= count <= high


def test_bands_for_another_threshold():
    rule = DisclosureRule(threshold=9, block_months=3)   # "<10", base 10: 10 is 10–14, 20 is 15–24
    assert (rule.band(9).shown, rule.band(14).shown, rule.band(15).shown, rule.band(24).shown) == ("<10", 10, 20, 20)
    assert (rule.band(15).low, rule.band(15).high) == (15, 24)


def test_blocks():
    jan, mar, apr, jun = date(2021, 1, 1), date(2021, 3, 1), date(2021, 4, 1), date(2021, 6, 1)
    assert block_for_period(jan, jun, RULE) == (apr, jun)
    assert block_for_period(date(2021, 2, 1), date(2021, 3, 1), RULE) is None           # the periods
    assert block_for_period(date(2021, 2, 1), date(2021, 2, 1), RULE) is None
    loaded = [date(2021, m, 1) for m in (1, 2, 3, 4, 6)]                                # May missing
    assert block_for_period(jan, jun, RULE, loaded) == (jan, mar)
    assert block_for_period(date(2020, 3, 1), date(2021, 2, 1), RULE) == (date(2020, 10, 1), date(2020, 12, 1))
    years = DisclosureRule(block_months=12)
    assert block_for_period(date(2020, 3, 1), date(2021, 2, 1), years) is None
    assert block_for_period(date(2019, 1, 1), date(2021, 2, 1), years) == (date(2020, 1, 1), date(2020, 12, 1))


def test_withheld_lsoa_is_the_smallest_hash_of_category_district_block_and_code():
    codes = ["E01021854", "E01021855", "E01021856"]
    digests = {c: hashlib.sha256(f"violence and sexual offences|Harlow|2021-01|{c}".encode()).hexdigest()
               for c in codes}
    assert withheld_lsoa(VSO, "Harlow", date(2021, 1, 1), codes) == min(codes, key=digests.get)
    assert withheld_lsoa(VSO, "Harlow", date(2021, 1, 1), codes[::-1]) == min(codes, key=digests.get)


def test_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("CRIME_MONITOR_DISCLOSURE_THRESHOLD", "6")
    monkeypatch.setenv("CRIME_MONITOR_DISCLOSURE_BLOCK_MONTHS", "12")
    assert (DisclosureRule().threshold, DisclosureRule().block_months, DisclosureRule().marker) == (6, 12, "<7")
    monkeypatch.setenv("CRIME_MONITOR_DISCLOSURE_BLOCK_MONTHS", "2")
    with pytest.raises(ValueError, match="CRIME_MONITOR_DISCLOSURE_BLOCK_MONTHS must be one of 1, 3, 6, 12, not 2"):
        DisclosureRule()
    monkeypatch.setenv("CRIME_MONITOR_DISCLOSURE_THRESHOLD", "none")
    with pytest.raises(ValueError, match="CRIME_MONITOR_DISCLOSURE_THRESHOLD must be a whole number"):
        DisclosureRule()


def test_a_table_that_is_not_the_release_withholds_every_sensitive_lsoa_count():
    frame = pd.DataFrame({
        "lsoa_code": ["A", "B", "C", "D"], "lsoa_name": ["Harlow 001A", "Harlow 001B", "Harlow 001C", "Harlow 001D"],
        "crime_type": [VSO] * 4, "count": [3, 10, 12, 7], "rate_per_1000": [2.0, 6.5, 7.9, 4.4],
        "residents": [1500, 1540, 1520, 1590],
    })
    result = protect_frame(frame, rule=RULE)
    assert result.frame["count"].tolist() == [SECONDARY_MARKER] * 4
    assert result.frame["rate_per_1000"].tolist() == [SECONDARY_MARKER] * 4       # rate x residents = count
    assert result.frame["residents"].tolist() == [1500, 1540, 1520, 1590]
    assert (result.primary, result.secondary, result.applies) == (1, 3, True)
    assert frame["count"].tolist() == [3, 10, 12, 7]                               # input untouched


def test_only_sensitive_rows_at_lsoa_level_and_totals_stay():
    frame = pd.DataFrame({"lsoa_code": ["A", "A", "B", "B", None],
                          "crime_type": ["Burglary", VSO, "Burglary", VSO, VSO], "count": [2, 2, 9, 30, 32]})
    assert protect_frame(frame).frame["count"].tolist() == [2, "[c]", 9, "[c]", 32]   # the total row stays
    districts = pd.DataFrame({"district": ["Harlow", "Maldon"], "crime_type": [VSO, VSO], "count": [2, 3]})
    assert protect_frame(districts).frame["count"].tolist() == [2, 3]             # not LSOA-level
    flagged = pd.DataFrame({"lsoa_code": ["A", "B"], "domestic_abuse": [True, False], "count": [2, 11]})
    assert protect_frame(flagged).frame["count"].tolist() == ["[c]", 11]


def test_which_selection_a_table_counts():
    frame = pd.DataFrame({"lsoa_code": ["A", "B"], "count": [5, 40]})
    assert protect_frame(frame, filters=Filters(categories=("Burglary",))).frame["count"].tolist() == [5, 40]
    assert protect_frame(frame, filters=Filters(categories=(VSO,))).frame["count"].tolist() == ["[c]", "[c]"]
    assert protect_frame(frame, filters=Filters()).frame["count"].tolist() == ["[c]", "[c]"]   # all crime has VSO
    assert protect_frame(frame).frame["count"].tolist() == ["[c]", "[c]"]                       # unknown: withheld
    recorded = frame.copy()
    recorded.attrs["lsoa_query"] = {"categories": ["Anti-social behaviour"]}   # what the metric really counted
    assert protect_frame(recorded, filters=Filters()).frame["count"].tolist() == [5, 40]
    assert protect_frame(frame, sensitive=False).frame["count"].tolist() == [5, 40]


# --- a warehouse in memory ----------------------------------------------------------------------------------

def _warehouse(vso: dict, other: dict, lsoas: list[tuple[str, str, str]]) -> duckdb.DuckDBPyConnection:
    """crimes rows for counts {(lsoa_code, month): n} of VSO and Burglary; lsoa lookup rows (code, name, district)."""
    con = duckdb.connect()
    ensure_schema(con)
    con.executemany("insert into lsoa (lsoa_code, lsoa_name, district, force_id, usual_residents) "
                    "values (?, ?, ?, 'essex', 1500)", lsoas)
    names = {code: (name, district) for code, name, district in lsoas}
    rows = [(month, code, *names[code], crime_type)
            for crime_type, counts in ((VSO, vso), ("Burglary", other))
            for (code, month), n in counts.items() for _ in range(n)]
    frame = pd.DataFrame(rows, columns=["month", "lsoa_code", "lsoa_name", "district", "crime_type"])
    con.execute("insert into crimes (month, lsoa_code, lsoa_name, district, crime_type, force_id) "
                "select month, lsoa_code, lsoa_name, district, crime_type, 'essex' from frame")
    # every month of the world is loaded (a row of another force marks months without crimes in Essex)
    months = sorted({m for (_, m) in [*vso, *other]})
    con.executemany("insert into crimes (month, crime_type, force_id) values (?, 'Drugs', 'elsewhere')",
                    [(m,) for m in months])
    return con


def test_release_by_hand():
    lsoas = [("E01000001", "Harlow 001A", "Harlow"), ("E01000002", "Harlow 001B", "Harlow"),
             ("E01000003", "Harlow 001C", "Harlow")]
    months = [date(2021, m, 1) for m in (1, 2, 3)]
    vso = {("E01000001", months[0]): 2, ("E01000001", months[1]): 1,            # 3 in the quarter: "<5"
           ("E01000002", months[0]): 6, ("E01000002", months[2]): 6,            # 12: 10
           ("E01000003", months[1]): 7}                                         # 7: 5
    burglary = {("E01000001", months[2]): 4, ("E01000002", months[0]): 3, ("E01000003", months[0]): 1}
    con = _warehouse(vso, burglary, lsoas)
    hidden = withheld_lsoa(VSO, "Harlow", months[0], [code for code, _, _ in lsoas])
    expected_vso = {"E01000001": "<5", "E01000002": 10, "E01000003": 5}
    expected_all = {"E01000001": "4–8", "E01000002": 13, "E01000003": 6}   # exact burglary + the band of VSO
    for categories, expected in (((VSO,), expected_vso), ((), expected_all)):
        frame = published_lsoa_counts(con, months[0], date(2021, 3, 1), Filters("essex", categories=categories),
                                      rule=RULE)
        shown = dict(zip(frame["lsoa_code"], frame["count"]))
        assert shown == {code: SECONDARY_MARKER if code == hidden else value for code, value in expected.items()}
        assert release_period(frame) == (months[0], months[2])
        numeric = frame[frame["count"].map(lambda v: isinstance(v, int))]
        assert (numeric["rate_per_1000"] == numeric["count"] / 1500 * 1000).all()
        order = [v for v in frame["count_value"] if v == v]
        assert order == sorted(order, reverse=True) and frame["count"].iat[-1] == SECONDARY_MARKER
    feb = published_lsoa_counts(con, months[1], months[1], Filters("essex", categories=(VSO,)), rule=RULE)
    assert feb.empty and release_period(feb) is None and "no whole calendar quarter" in feb.attrs["disclosure_note"]
    burglary_only = published_lsoa_counts(con, months[1], months[1], Filters("essex", categories=("Burglary",)))
    assert burglary_only["count"].tolist() == [0, 0, 0]                # not sensitive: exact, any period
    top = published_lsoa_counts(con, months[0], months[2], Filters("essex", categories=(VSO,)), rule=RULE, limit=1)
    assert len(top) == 1 and top["count"].iat[0] != SECONDARY_MARKER
    assert protect_frame(top).frame.equals(top)                        # the release passes export control as it is
    tampered = top.assign(crimes=[3])                                  # raw counts added to a released frame
    assert protect_frame(tampered).frame["crimes"].tolist() == [SECONDARY_MARKER]


# --- the property test: random worlds, random views, an integer-programming attacker ---------------------------

def _interval(shown, known_other: int, mixed: bool) -> tuple[float, float] | None:
    """What a published cell says about the LSOA's VSO count in its block, read as an attacker reads the
    published rule (docs): '<5' is 0–4; a number is the band 5–7 (for 5) or n±2, after taking away the other
    categories' exact count when the selection mixes them; 'a–b' likewise; '[c]' says nothing."""
    if shown == SECONDARY_MARKER:
        return None
    if isinstance(shown, str) and shown.startswith("<"):
        return 0, 4
    if isinstance(shown, str):
        low, high = (int(v) for v in shown.split("–"))
        return low - known_other, high - known_other
    rounded = int(shown) - (known_other if mixed else 0)
    return (5, 7) if rounded == 5 else (rounded - 2, rounded + 2)


def _solve(n: int, rows: list[tuple[dict[int, float], float, float]], target: dict[int, float], sign: int) -> int:
    """min (sign 1) or max (sign -1) of sum(target) over non-negative integer worlds meeting lo <= a.x <= hi."""
    matrix = np.zeros((len(rows), n))
    for r, (coefficients, _, _) in enumerate(rows):
        for j, c in coefficients.items():
            matrix[r, j] = c
    objective = np.zeros(n)
    for j, c in target.items():
        objective[j] = sign * c
    result = milp(objective, constraints=LinearConstraint(matrix, [lo for _, lo, _ in rows], [hi for _, _, hi in rows]),
                  integrality=np.ones(n), bounds=Bounds(0, np.inf))
    assert result.status == 0, result.message                      # the true world is always feasible
    return sign * round(result.fun)


def _knowledge(world: dict, published: list[tuple[pd.DataFrame, bool, bool]]) -> tuple[dict, list, dict, set]:
    """Everything an analyst could know: VSO by district and month (exact), Burglary by LSOA and month (exact),
    and the published frames (frame, Burglary in the selection, selection mixed). Returns the variable index
    (LSOA, month), the constraint rows, the published blocks per LSOA {(code, first month): months} and the
    LSOA-blocks shown "<5" somewhere."""
    lsoas, months, vso, other = world["lsoas"], world["months"], world["vso"], world["other"]
    index = {(code, m): i for i, (code, m) in enumerate(itertools.product([c for c, _, _ in lsoas], months))}
    rows = []
    for district in {d for _, _, d in lsoas}:
        for m in months:
            total = sum(vso.get((c, m), 0) for c, _, d in lsoas if d == district)
            rows.append(({index[(c, m)]: 1 for c, _, d in lsoas if d == district}, total, total))
    blocks, small_shown = {}, set()
    for frame, with_other, mixed in published:
        period = release_period(frame)
        if period is None:
            continue
        block = [m for m in months if period[0] <= m <= period[1]]
        for code, shown in zip(frame["lsoa_code"], frame["count"]):
            known = sum(other.get((code, m), 0) for m in block) if with_other else 0
            interval = _interval(shown, known, mixed)
            if interval is not None:
                rows.append(({index[(code, m)]: 1 for m in block}, *interval))
            blocks[(code, block[0])] = block
            if isinstance(shown, str) and shown.startswith("<"):
                small_shown.add((code, block[0]))
    return index, rows, blocks, small_shown


def _attack(world: dict, published: list[tuple[pd.DataFrame, bool, bool]]) -> list[str]:
    """What the attacker recovers, as messages (none expected). Every published LSOA-block with 1-4 offences must
    keep at least two possible values, and 0 among them when it is shown "<5"; every LSOA-month with 1-4
    offences must keep 0 possible when its block is unpublished or its LSOA's block is shown "<5"."""
    index, rows, blocks, small_shown = _knowledge(world, published)
    vso, found = world["vso"], []
    for (code, first), block in blocks.items():
        true = sum(vso.get((code, m), 0) for m in block)
        if 1 <= true <= 4:
            cells = {index[(code, m)]: 1 for m in block}
            low = _solve(len(index), rows, cells, 1)
            if low == _solve(len(index), rows, cells, -1) or ((code, first) in small_shown and low > 0):
                found.append(f"block {code} {first}: true {true}, proven at least {low}")
    for (code, m), true in vso.items():
        key = next(((c, first) for (c, first), block in blocks.items() if c == code and m in block), None)
        exposed = key is not None and key not in small_shown      # its quarter is published as 5+ or withheld
        if 1 <= true <= 4 and not exposed:
            low = _solve(len(index), rows, {index[(code, m)]: 1}, 1)
            if low > 0:
                found.append(f"month {code} {m}: true {true}, proven at least {low}")
    return found


@st.composite
def worlds(draw) -> dict:
    n_districts = draw(st.integers(1, 2))
    lsoas = [(f"E0100{d}{i:03d}", f"D{d} {i:03d}A", f"D{d}") for d in range(n_districts)
             for i in range(draw(st.integers(2, 4)))]
    months = [date(2021, m, 1) for m in range(1, 7)]
    small = st.integers(0, 6) | st.integers(0, 2)
    vso = {(c, m): draw(small) for c, _, _ in lsoas for m in months}
    other = {(c, m): draw(st.integers(0, 3)) for c, _, _ in lsoas for m in months}
    views = draw(st.lists(st.tuples(st.integers(1, 6), st.integers(0, 5), st.sampled_from(["vso", "mixed", "all"]),
                                    st.integers(-1, n_districts - 1)), min_size=2, max_size=3))
    return {"lsoas": lsoas, "months": months, "vso": vso, "other": other, "views": views}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_no_differencing_attack_recovers_or_proves_a_small_count(world):
    """Random worlds (1–2 districts of 2–4 LSOAs, six months of VSO and Burglary) and 2–3 random views (any
    period, VSO alone, VSO + Burglary or all crime, all districts or one). The attacker knows every district's
    VSO count per month and every LSOA's Burglary per month exactly, and every view, and solves an integer
    programme per small cell: no published LSOA-quarter with 1–4 offences is pinned, none shown "<5" is even
    shown to be above zero, and no LSOA-month is shown to be above zero unless its LSOA's quarter is published
    as 5 or more (or withheld)."""
    con = _warehouse(world["vso"], world["other"], world["lsoas"])
    published = []
    for start, length, selection, district in world["views"]:
        end = min(6, start + length)
        categories = {"vso": (VSO,), "mixed": (VSO, "Burglary"), "all": ()}[selection]
        districts = () if district < 0 else (f"D{district}",)
        frame = published_lsoa_counts(con, date(2021, start, 1), date(2021, end, 1),
                                      Filters("essex", districts=districts, categories=categories), rule=RULE)
        burglary_present = any(world["other"].values())
        published.append((frame, selection == "mixed" or (selection == "all" and burglary_present),
                          selection != "vso"))
    assert _attack(world, published) == []


def test_the_attacker_finds_what_the_old_rule_gave_away():
    """The same attacker against the issue's exports under per-period "<5" publication: Feb shows "<5", Jan
    shows 6 and Jan–Feb 9 for one LSOA; with the district totals the February count is recovered exactly."""
    lsoas = [("E01000001", "D0 001A", "D0"), ("E01000002", "D0 002A", "D0")]
    world = {"lsoas": lsoas, "months": [date(2021, 1, 1), date(2021, 2, 1)], "other": {},
             "vso": {("E01000001", date(2021, 1, 1)): 6, ("E01000001", date(2021, 2, 1)): 3,
                     ("E01000002", date(2021, 1, 1)): 8, ("E01000002", date(2021, 2, 1)): 9}}
    index = {(c, m): i for i, (c, m) in enumerate(itertools.product(["E01000001", "E01000002"], world["months"]))}
    jan, feb = world["months"]
    old_exports = [({index[("E01000001", feb)]: 1}, 1, 4), ({index[("E01000001", jan)]: 1}, 6, 6),
                   ({index[("E01000001", jan)]: 1, index[("E01000001", feb)]: 1}, 9, 9)]
    target = {index[("E01000001", feb)]: 1}
    assert _solve(4, old_exports, target, 1) == _solve(4, old_exports, target, -1) == 3   # pinned at 3


# --- figures and the screen ---------------------------------------------------------------------------------

def _bar_figure():
    from charts.figures import bar_chart

    frame = pd.DataFrame({"lsoa_name": ["Harlow 001A", "Harlow 001B", "Harlow 001C"], "count": [3, 12, 40]})
    return bar_chart(frame, "count", "lsoa_name", "Violence by LSOA", "Crimes", "LSOA", "test", "2021-01")


def test_figures_take_their_values_from_the_release_or_are_withheld():
    release = pd.DataFrame({"lsoa_code": ["E1", "E2", "E3"], "lsoa_name": ["Harlow 001C", "Harlow 001B", "Harlow 001A"],
                            "count": pd.Series([40, 10, "<5"], dtype=object), "count_value": [40.0, 10.0, np.nan]})
    fig, changed = protect_figure(_bar_figure(), filters=Filters(categories=(VSO,)), release=release)
    bar = fig.data[0]
    assert dict(zip(bar.y, bar.x)) == {"Harlow 001A": None, "Harlow 001B": 10.0, "Harlow 001C": 40.0}
    assert dict(zip(bar.y, bar.text)) == {"Harlow 001A": "<5", "Harlow 001B": "10", "Harlow 001C": "40"}
    assert "12" not in str(fig.to_dict()["data"]) and changed == 1
    # bars in the release's order (top to bottom: 40, 10, "<5"; Plotly lists horizontal bars bottom-up), and the
    # value axis no longer fitted to the hidden 12 and 40
    assert list(bar.y) == ["Harlow 001A", "Harlow 001B", "Harlow 001C"] and fig.layout.xaxis.range is None
    withheld, count = protect_figure(_bar_figure(), filters=Filters(categories=(VSO,)))
    assert list(withheld.data[0].text) == [SECONDARY_MARKER] * 3 and count == 3
    assert all(v is None for v in withheld.data[0].x) and withheld.layout.xaxis.showticklabels is False
    # without a release the bars are listed by name, not in the chart's order by hidden count (3, 12, 40)
    assert list(withheld.data[0].y) == ["Harlow 001C", "Harlow 001B", "Harlow 001A"]
    plain, none = protect_figure(_bar_figure(), filters=Filters(categories=("Burglary",)))
    assert list(plain.data[0].x) == [3, 12, 40] and none == 0


def test_choropleth_hover_and_colours_come_from_the_release():
    from charts.figures import choropleth_map

    square = [[[0.0, 51.0], [0.1, 51.0], [0.1, 51.1], [0.0, 51.1], [0.0, 51.0]]]
    geojson = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": code, "properties": {}, "geometry": {"type": "Polygon", "coordinates": square}}
        for code in ("E01000001", "E01000002")]}
    raw = pd.DataFrame({"lsoa_code": ["E01000001", "E01000002"], "lsoa_name": ["Harlow 001A", "Harlow 001B"],
                        "count": [3, 12]})
    fig = choropleth_map(raw, geojson, "VSO by LSOA", "Crimes", "test", "2021-03")
    release = pd.DataFrame({"lsoa_code": ["E01000002", "E01000001"], "lsoa_name": ["Harlow 001B", "Harlow 001A"],
                            "count": pd.Series([10, "<5"], dtype=object), "count_value": [10.0, np.nan]})
    trace = protect_figure(fig, filters=Filters(categories=(VSO,)), release=release)[0].data[0]
    assert list(trace.z) == [None, 10.0]
    assert list(trace.text) == ["Harlow 001A: <5", "Harlow 001B: 10"] and "%{z" not in trace.hovertemplate


def test_point_maps_of_sensitive_crimes_are_emptied():
    from charts.figures import point_density_map

    points = pd.DataFrame({"longitude": [0.1, 0.2], "latitude": [51.7, 51.8], "count": [2, 9]})
    fig = point_density_map(points, "Density", "Crimes", "test", "2021-01")
    protected, count = protect_figure(fig, filters=Filters(categories=(VSO,)))
    assert count == 2 and len(protected.data[0].lon) == 0 and "9" not in str(protected.data[0].marker.color)


def test_screen_protection_depends_on_the_role():
    frame = pd.DataFrame({"lsoa_code": ["A", "B"], "count": [3, 40]})
    vso = Filters(categories=(VSO,))
    assert protect_for_screen(frame, "analyst", vso) is frame
    assert protect_for_screen(frame, "officer", vso) is frame
    assert protect_for_screen(frame, "panel", vso)["count"].tolist() == [SECONDARY_MARKER] * 2
    assert list(protect_for_screen(_bar_figure(), "panel", vso).data[0].text) == [SECONDARY_MARKER] * 3
    with pytest.raises(TypeError, match="DataFrame or a Plotly figure"):
        protect_for_screen([1, 2], "panel")

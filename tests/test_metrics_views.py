"""The statistics choices the views make, now in metrics/: the Benjamini–Hochberg family of a district table
(the force's own districts), the funnel grid, a measure's change (as the scorecard computes it), the latest
12 months of a family and the comparison a family's own months support, flagged-incident and fraud totals —
checked against plain SQL, scipy and statsmodels."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from metrics import fraud, incidents, periods, plan, rates
from metrics.compare import change_by_district
from metrics.filters import Filters

JAN_FEB_2019 = (date(2019, 1, 1), date(2019, 2, 1))
NOV_DEC_2018 = (date(2018, 11, 1), date(2018, 12, 1))
ESSEX_DISTRICTS = {"Basildon", "Braintree", "Brentwood", "Castle Point", "Chelmsford", "Colchester", "Epping Forest",
                   "Harlow", "Maldon", "Rochford", "Tendring", "Uttlesford", "Southend-on-Sea", "Thurrock"}


@pytest.fixture(scope="module")
def essex(essex_db):
    con = duckdb.connect(str(essex_db), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def demo(demo_db):
    con = duckdb.connect(str(demo_db), read_only=True)
    yield con
    con.close()


def _exact_interval(post: int, pre: int) -> tuple[float, float]:
    """Equal exposures: the conditional binomial (Clopper–Pearson) interval of the rate ratio."""
    lo = stats.beta.ppf(0.025, post, pre + 1)
    hi = stats.beta.ppf(0.975, post + 1, pre)
    return lo / (1 - lo), hi / (1 - hi)


def test_change_by_district_tests_only_the_forces_own_districts(essex):
    frame = change_by_district(essex, "crimes", NOV_DEC_2018, JAN_FEB_2019,
                               Filters("essex", categories=("Burglary",)))
    assert set(frame["district"]) == ESSEX_DISTRICTS  # the ~1% of rows in neighbouring forces' LSOAs left out
    counts = dict(essex.execute("""
        select district, count(*) filter (where month between ? and ?) from crimes
        where force_id = 'essex' and crime_type = 'Burglary' group by 1""", list(JAN_FEB_2019)).fetchall())
    shown = frame.set_index("district")
    assert all(int(shown.loc[d, "post_count"]) == counts[d] for d in ESSEX_DISTRICTS)
    # BH across the 14 districts only: statsmodels on the same p-values
    expected_q = multipletests(frame["p_value"].to_numpy(), method="fdr_bh")[1]
    assert frame["q_value"].to_numpy() == pytest.approx(expected_q)
    assert "Districts of the force only" in frame.attrs["note"]


def test_funnel_curve_spans_the_districts_and_says_which_limits(essex):
    district = rates.district_rates(essex, "crimes", *JAN_FEB_2019, Filters("essex", categories=("Burglary",)))
    curve = rates.funnel_curve(district)
    assert len(curve) == 121
    assert curve["population"].min() == pytest.approx(district["residents"].min() * 0.5)
    assert curve["population"].max() == pytest.approx(district["residents"].max() * 1.1)
    # the limit at a population: the exact Poisson quantile of the expected count, per 1,000
    row = curve.iloc[60]
    expected = district.attrs["overall_rate_per_1000"] / 1000 * row["population"]
    assert row["upper_998"] == pytest.approx(stats.poisson.ppf(0.999, expected) / row["population"] * 1000)
    assert "95%" in curve.attrs["limits"] and "99.8%" in curve.attrs["limits"]


def test_measure_change_matches_scipy_and_the_scorecard(essex):
    comparison = plan.Comparison("custom", NOV_DEC_2018, JAN_FEB_2019)
    change = plan.measure_change(essex, "asb_incidents", Filters("essex"), comparison)
    post, pre = (essex.execute("select count(*) from crimes where force_id = 'essex' and crime_type = ? "
                               "and month between ? and ?", ["Anti-social behaviour", *period]).fetchall()[0][0]
                 for period in (JAN_FEB_2019, NOV_DEC_2018))
    row = change.iloc[0]
    assert (int(row["post_count"]), int(row["pre_count"])) == (post, pre)
    low, high = _exact_interval(post, pre)
    assert (row["ci_lower"], row["ci_upper"]) == pytest.approx((low, high))
    assert row["q_value"] == row["p_value"]  # a single comparison
    card = plan.scorecard(essex, Filters("essex"), comparison, with_expected=False).set_index("measure_id")
    assert card.loc["asb_incidents", "rate_ratio"] == pytest.approx(row["rate_ratio"])


def test_measure_change_is_empty_when_the_source_does_not_cover_both_periods(essex, demo):
    comparison = plan.Comparison("custom", NOV_DEC_2018, JAN_FEB_2019)
    assert plan.measure_change(essex, "domestic_abuse_crimes", Filters("essex"), comparison).empty
    later = plan.Comparison("custom", (date(2020, 1, 1), date(2020, 12, 1)), (date(2021, 1, 1), date(2021, 12, 1)))
    flagged = plan.measure_change(demo, "domestic_abuse_crimes", Filters("essex"), later).iloc[0]
    (post,) = demo.execute("select count(*) from incidents where domestic_abuse and force_id = 'essex' "
                           "and month between ? and ?", list(later.post)).fetchall()[0]
    assert int(flagged["post_count"]) == post


def test_periods_of_a_family():
    assert periods.latest_months(date(2018, 10, 1), date(2019, 2, 1)) == (date(2018, 10, 1), date(2019, 2, 1))
    assert periods.latest_months(date(2017, 1, 1), date(2021, 12, 1)) == (date(2021, 1, 1), date(2021, 12, 1))
    shared = plan.Comparison("latest12", (date(2018, 11, 1), date(2018, 12, 1)), (date(2019, 1, 1), date(2019, 2, 1)))
    # a family that covers both shared periods keeps them; one that does not gets its own latest 12 vs 12
    assert periods.comparison_for(shared, date(2017, 1, 1), date(2021, 12, 1)) is shared
    # 22 months (Jan 2017–Oct 2018) cannot give 12 against 12: the longest equal halves, 11 months each
    own = periods.comparison_for(shared, date(2017, 1, 1), date(2018, 10, 1))
    assert own.post == (date(2017, 12, 1), date(2018, 10, 1)) and own.pre == (date(2017, 1, 1), date(2017, 11, 1))
    assert own.notice.startswith("These data cover Jan 2017–Oct 2018: comparing Dec 2017–Oct 2018 vs Jan 2017–Nov 2017")
    family = periods.comparison_for(shared, date(2020, 1, 1), date(2021, 12, 1))
    assert family.post == (date(2021, 1, 1), date(2021, 12, 1)) and family.pre == (date(2020, 1, 1), date(2020, 12, 1))
    assert "Jan 2020–Dec 2021" in family.notice
    assert periods.comparison_for(shared, None, None) is None
    assert periods.covid_window("year", date(2021, 12, 1)) == (date(2020, 3, 1), date(2021, 2, 1))
    assert periods.covid_window("all", date(2020, 9, 1)) == (date(2020, 3, 1), date(2020, 9, 1))
    period, note = periods.current_period(shared, date(2020, 1, 1), date(2021, 12, 1))
    assert period == (date(2021, 1, 1), date(2021, 12, 1)) and "not the comparison's current period" in note


def test_flag_and_fraud_totals_match_sql(demo):
    year = (date(2021, 1, 1), date(2021, 12, 1))
    totals = incidents.flag_totals(demo, "child_victim", Filters("essex"), *year).iloc[0]
    (flagged, every), = demo.execute("select count(*) filter (where child_victim), count(*) from incidents "
                                     "where force_id = 'essex' and month between ? and ?", list(year)).fetchall()
    assert (int(totals["count"]), int(totals["all_incidents"])) == (flagged, every)
    assert totals["share_pct"] == pytest.approx(round(100 * flagged / every, 1))
    money = fraud.fraud_totals(demo, Filters("essex"), *year).iloc[0]
    (reports, loss), = demo.execute("select sum(reports), sum(reported_loss_gbp) from fraud where force_id = 'essex' "
                                    "and month between ? and ?", list(year)).fetchall()
    assert int(money["reports"]) == reports and money["reported_loss_gbp"] == pytest.approx(loss)

"""The statistics choices the views make, now in metrics/: the Benjamini–Hochberg family of a district table
(the force's own districts), the funnel grid, a measure's change (as the scorecard computes it), the latest
12 months of a family and the comparison a family's own months support, flagged-incident and fraud totals —
checked against plain SQL, scipy and statsmodels."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
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


def _exact_interval(post: int, pre: int, post_days: int, pre_days: int) -> tuple[float, float]:
    """The conditional binomial (Clopper–Pearson) interval of the rate ratio per day: the odds of a row falling
    in the later period, times pre_days / post_days."""
    lo = stats.beta.ppf(0.025, post, pre + 1)
    hi = stats.beta.ppf(0.975, post + 1, pre)
    return lo / (1 - lo) * pre_days / post_days, hi / (1 - hi) * pre_days / post_days


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
    # the rows left out: every other district (or a blank one) with a burglary in either period
    (others,), = essex.execute("""
        select count(distinct coalesce(district, '')) from crimes
        where force_id = 'essex' and crime_type = 'Burglary' and month between ? and ?
          and coalesce(district, '') not in (select unnest(?::varchar[]))""",
                               [NOV_DEC_2018[0], JAN_FEB_2019[1], sorted(ESSEX_DISTRICTS)]).fetchall()
    assert others > 0 and frame.attrs["apart"] == others and frame.attrs["family_size"] == 14
    assert "across the 14 districts of the force" in frame.attrs["note"]
    (rows_apart,), = essex.execute("""
        select count(*) from crimes
        where force_id = 'essex' and crime_type = 'Burglary' and month between ? and ?
          and coalesce(district, '') not in (select unnest(?::varchar[]))""",
                                   [NOV_DEC_2018[0], JAN_FEB_2019[1], sorted(ESSEX_DISTRICTS)]).fetchall()
    assert frame.attrs["apart_note"].startswith(f"Not shown or tested: {rows_apart:,} row(s) of the two periods")
    assert frame.attrs["note"].endswith(frame.attrs["apart_note"]) and "shown apart" not in frame.attrs["note"]


def test_funnel_curve_spans_the_districts_and_says_which_limits(essex):
    district = rates.district_rates(essex, "crimes", *JAN_FEB_2019, Filters("essex", categories=("Burglary",)))
    curve = rates.funnel_curve(district)
    assert len(curve) == 121
    assert curve["population"].min() == pytest.approx(district["residents"].min() * 0.5)
    assert curve["population"].max() == pytest.approx(district["residents"].max() * 1.1)
    # Spiegelhalter (2005) by hand from plain SQL counts: Winsorised z-scores on the √(O/E) scale, φ, τ
    counts = essex.execute("""
        with lsoas as (select lsoa_code, district, coalesce(usual_residents, 0) as residents from lsoa
                       where force_id = 'essex' and district is not null)
        select district, (select sum(residents) from lsoas l where l.district = d.district),
               (select count(*) from crimes c join lsoas l using (lsoa_code) where l.district = d.district
                and c.force_id = 'essex' and c.crime_type = 'Burglary' and c.month between ? and ?)
        from (select distinct district from lsoas) d""", list(JAN_FEB_2019)).fetchall()
    residents = np.array([r for _, r, _ in counts], dtype=float)
    observed = np.array([o for _, _, o in counts], dtype=float)
    rate = observed.sum() / residents.sum()
    expected_counts = rate * residents
    z = 2 * (np.sqrt(observed) - np.sqrt(expected_counts))
    low, high = np.percentile(z, [10, 90])
    cut = stats.norm.ppf(0.9)  # E[z²] of a standard normal Winsorised at its 10th and 90th percentiles
    consistency = 0.8 - 2 * cut * stats.norm.pdf(cut) + 0.2 * cut**2
    phi = np.mean(np.clip(z, low, high) ** 2) / consistency
    assert 14 * phi > stats.chi2.ppf(0.95, 13)  # burglary rates vary between districts beyond chance
    weights = 4 * expected_counts
    tau = np.sqrt((14 * phi - 13) / (weights.sum() - (weights**2).sum() / weights.sum()))
    assert district.attrs["tau"] == pytest.approx(tau)
    # the limit at a population of the grid: E·(1 + z·√(1/(4E) + τ²))², per 1,000
    row = curve.iloc[60]
    expected = rate * row["population"]
    upper = expected * (1 + stats.norm.ppf(0.999) * np.sqrt(1 / (4 * expected) + tau**2)) ** 2
    assert row["upper_998"] == pytest.approx(upper / row["population"] * 1000)
    assert row["upper_998"] > stats.poisson.ppf(0.999, expected) / row["population"] * 1000  # wider than Poisson
    which = curve.attrs["limits"]
    assert "95%" in which and "99.8%" in which and f"τ = {tau:.3f}" in which and "Spiegelhalter" in which


def test_measure_change_matches_scipy_and_the_scorecard(essex):
    comparison = plan.Comparison("custom", NOV_DEC_2018, JAN_FEB_2019)
    change = plan.measure_change(essex, "asb_incidents", Filters("essex"), comparison)
    post, pre = (essex.execute("select count(*) from crimes where force_id = 'essex' and crime_type = ? "
                               "and month between ? and ?", ["Anti-social behaviour", *period]).fetchall()[0][0]
                 for period in (JAN_FEB_2019, NOV_DEC_2018))
    row = change.iloc[0]
    assert (int(row["post_count"]), int(row["pre_count"])) == (post, pre)
    low, high = _exact_interval(post, pre, 31 + 28, 30 + 31)  # Jan–Feb 2019: 59 days; Nov–Dec 2018: 61 days
    assert row["rate_ratio"] == pytest.approx(post / 59 / (pre / 61))
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
    # 22 months (Jan 2017–Oct 2018) cannot give 12 against 12: the latest 22 - 12 = 10 months against the same
    # 10 calendar months a year earlier (no seasonal mismatch, so no seasonality warning)
    own = periods.comparison_for(shared, date(2017, 1, 1), date(2018, 10, 1))
    assert own.post == (date(2018, 1, 1), date(2018, 10, 1)) and own.pre == (date(2017, 1, 1), date(2017, 10, 1))
    assert own.notice.startswith("These data cover Jan 2017–Oct 2018: comparing Jan 2018–Oct 2018 vs Jan 2017–Oct 2017")
    assert own.seasonality_warning is None
    # 5 months (Oct 2018–Feb 2019): the two longest equal adjacent periods, 2 months each, which differ in season
    short = periods.comparison_for(shared, date(2018, 10, 1), date(2019, 2, 1))
    assert short is shared  # the shared comparison fits; a family's own short data:
    short = periods.comparison_for(None, date(2018, 10, 1), date(2019, 2, 1))
    assert short.post == (date(2019, 1, 1), date(2019, 2, 1)) and short.pre == (date(2018, 11, 1), date(2018, 12, 1))
    assert "seasonal" in short.seasonality_warning
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

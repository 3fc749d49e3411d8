"""period_change / change_by, the exact Poisson rate ratio and Benjamini–Hochberg, checked against scipy,
statsmodels, hand-worked values, a naive BH and plain csv counts over the real Essex and ONS files."""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from metrics import plan
from metrics.compare import (
    benjamini_hochberg,
    change_by,
    days_in_period,
    period_change,
    period_change_from_counts,
    poisson_rate_ratio,
    seasonality_warning,
)
from metrics.filters import Filters
from tests.conftest import run_cli

PRE = (date(2018, 10, 1), date(2018, 12, 1))   # 92 days
POST = (date(2019, 1, 1), date(2019, 2, 1))    # 59 days
MONTHS = ["2018-10", "2018-11", "2018-12", "2019-01", "2019-02"]


def naive_bh(p_values):
    """BH by its definition: q_i = min over p_j >= p_i of min(1, p_j * m / rank_j)."""
    p = list(p_values)
    m = len(p)
    ranks = {}
    for rank, value in enumerate(sorted(p), start=1):
        ranks[value] = rank  # ties: the largest rank, as the step-up procedure uses
    return [min(min(1.0, pj * m / ranks[pj]) for pj in p if pj >= pi) for pi in p]


def central_p(x: int, n: int, pi: float) -> float:
    """The doubled smaller tail, from scipy's binomial distribution directly."""
    return min(1.0, 2 * min(stats.binom.cdf(x, n, pi), stats.binom.sf(x - 1, n, pi)))


def cp_rate_ratio_limits(x: int, y: int, exposure_post: float, exposure_pre: float) -> tuple[float, float]:
    """Clopper–Pearson limits on π (scipy's binomtest) turned into rate-ratio limits."""
    ci = stats.binomtest(x, x + y, 0.5).proportion_ci(0.95, method="exact")
    scale = exposure_pre / exposure_post
    upper = math.inf if ci.high >= 1 else ci.high / (1 - ci.high) * scale
    return ci.low / (1 - ci.low) * scale, upper


@pytest.fixture(scope="module")
def essex_con(essex_db):
    con = duckdb.connect(str(essex_db), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def essex_districts(reference_data) -> set[str]:
    """The 14 districts of Essex Police from the raw ONS lookup (LSOA names without their code suffix)."""
    names = set()
    with open(reference_data / "ons" / "lsoa11-to-local-authority-and-force.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["Police_force"] == "Essex":
                names.add(re.sub(r"\s+\d{3}[A-Z]$", "", row["LSOA Name"]))
    assert len(names) == 14
    return names


def _csv_counts(essex_dir, months, column="Crime type"):
    counts = Counter()
    for month in months:
        with open(essex_dir / month / f"{month}-essex-street.csv", newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                value = row[column]
                if column == "LSOA name":
                    value = re.sub(r"\s+\d{3}[A-Z]$", "", value) if value else ""
                counts[value] += 1
    return counts


# --- the exact test and its interval --------------------------------------------------------------------------
def test_days_in_period():
    assert days_in_period(*POST) == 31 + 28 == 59
    assert days_in_period(*PRE) == 31 + 30 + 31 == 92
    assert days_in_period(date(2020, 2, 1), date(2020, 2, 1)) == 29
    assert days_in_period(date(2019, 1, 1), date(2019, 12, 1)) == 365


def test_rate_ratio_hand_worked_equal_periods():
    # 30 events against 20 in equally long periods: RR 1.5; two-sided exact p = P(|X - 25| >= 5), X ~ Bin(50, 1/2)
    result = poisson_rate_ratio(30, 1, 20, 1)
    assert result.rate_ratio == pytest.approx(1.5)
    by_hand = 2 * sum(math.comb(50, k) for k in range(30, 51)) / 2**50
    assert result.p_value == pytest.approx(by_hand, rel=1e-9)
    assert result.p_value == pytest.approx(0.2026, abs=5e-4)


def test_post_8_against_pre_2_gives_consistent_p_and_interval():
    # 8 in 3 months against 2 in 3 months: X ~ Bin(10, 1/2); P(X >= 8) = (45 + 10 + 1) / 1024
    result = poisson_rate_ratio(8, 3, 2, 3)
    assert result.rate_ratio == pytest.approx(4.0)
    assert result.p_value == pytest.approx(2 * 56 / 1024, rel=1e-12)
    lower_pi, upper_pi = stats.beta.ppf(0.025, 8, 3), stats.beta.ppf(0.975, 9, 2)
    assert result.ci_lower == pytest.approx(lower_pi / (1 - lower_pi), rel=1e-9)
    assert result.ci_upper == pytest.approx(upper_pi / (1 - upper_pi), rel=1e-9)
    assert result.ci_lower < 1 < result.ci_upper and result.p_value > 0.05


def test_p_value_no_longer_disagrees_with_its_interval():
    # 5 events in Jan–Feb (59 days) against 1 in Oct–Dec (92 days): scipy's default "minlike" two-sided p is
    # 0.037 (< 0.05) while the central 95% interval includes 1; the central p-value agrees with the interval
    minlike = stats.binomtest(5, 6, 59 / 151).pvalue
    assert minlike < 0.05
    result = poisson_rate_ratio(5, 59, 1, 92)
    assert result.ci_lower < 1 < result.ci_upper
    assert result.p_value == pytest.approx(central_p(5, 6, 59 / 151), rel=1e-12) and result.p_value > 0.05


def test_p_below_005_exactly_when_interval_excludes_1():
    # every pair of small counts 0..30, for equal and unequal exposures (days)
    post, pre = (grid.ravel() for grid in np.meshgrid(np.arange(31), np.arange(31)))
    keep = post + pre > 0
    post, pre = post[keep], pre[keep]
    n = post + pre
    disagreements = 0
    for post_days, pre_days in ((1, 1), (59, 92), (28, 31), (365, 90)):
        pi = post_days / (post_days + pre_days)
        expected_p = np.minimum(1, 2 * np.minimum(stats.binom.cdf(post, n, pi), stats.binom.sf(post - 1, n, pi)))
        scale = pre_days / post_days
        with np.errstate(divide="ignore", invalid="ignore"):
            lower_pi = np.where(post > 0, stats.beta.ppf(0.025, post, pre + 1), 0.0)
            upper_pi = np.where(pre > 0, stats.beta.ppf(0.975, post + 1, pre), 1.0)
            lower, upper = lower_pi / (1 - lower_pi) * scale, upper_pi / (1 - upper_pi) * scale
        for k in range(len(n)):
            result = poisson_rate_ratio(int(post[k]), post_days, int(pre[k]), pre_days)
            assert result.p_value == pytest.approx(expected_p[k], rel=1e-9, abs=1e-15)
            assert result.ci_lower == pytest.approx(lower[k], rel=1e-9)
            if pre[k]:
                assert result.ci_upper == pytest.approx(upper[k], rel=1e-9)
            excludes_one = result.ci_lower > 1 or result.ci_upper < 1
            disagreements += (result.p_value < 0.05) != excludes_one
    assert disagreements == 0


def test_rate_ratio_zeros_and_bad_input():
    both = poisson_rate_ratio(0, 3, 0, 3)
    assert math.isnan(both.rate_ratio) and both.ci_lower == 0 and math.isinf(both.ci_upper) and both.p_value == 1
    no_pre = poisson_rate_ratio(6, 1, 0, 1)
    assert math.isinf(no_pre.rate_ratio) and math.isinf(no_pre.ci_upper)
    pi = 0.025 ** (1 / 6)  # lower limit: P(X >= 6 | n=6, π) = π^6 = 0.025
    assert no_pre.ci_lower == pytest.approx(pi / (1 - pi))
    assert no_pre.p_value == pytest.approx(2 * 0.5**6)
    no_post = poisson_rate_ratio(0, 1, 6, 1)
    assert no_post.rate_ratio == 0 and no_post.ci_lower == 0
    with pytest.raises(ValueError):
        poisson_rate_ratio(1, 0, 1, 1)
    with pytest.raises(ValueError):
        poisson_rate_ratio(1, 1, 1, 1, dispersion=0.5)


def test_benjamini_hochberg_known_example():
    # Benjamini & Hochberg (1995), section 4: 15 p-values; at FDR 0.05 the four smallest are rejected
    p = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719,
         0.6528, 0.7590, 1.0000]
    q = benjamini_hochberg(p)
    assert list(np.asarray(q) < 0.05) == [True] * 4 + [False] * 11
    assert q == pytest.approx(naive_bh(p))
    assert q[0] == pytest.approx(0.0001 * 15)
    assert q[3] == pytest.approx(0.0095 * 15 / 4)
    shuffled = [p[i] for i in (14, 3, 0, 9, 1, 2, 4, 5, 6, 7, 8, 10, 11, 12, 13)]
    assert benjamini_hochberg(shuffled) == pytest.approx(naive_bh(shuffled))
    with_nan = benjamini_hochberg([0.01, float("nan"), 0.04])
    assert math.isnan(with_nan[1]) and with_nan[0] == pytest.approx(0.02) and with_nan[2] == pytest.approx(0.04)


def test_period_change_from_counts_days_and_months():
    frame = pd.DataFrame({"area": ["a", "b"], "pre_count": [120, 0], "post_count": [30, 4], "pre_months": 12,
                          "post_months": 3})
    months_only = period_change_from_counts(frame)  # no days: the months are the exposure
    a = months_only.iloc[0]
    assert a["pre_per_month"] == 10 and a["post_per_month"] == 10 and a["change"] == 0 and a["rate_ratio"] == 1
    b = months_only.iloc[1]
    assert math.isinf(b["rate_ratio"]) and math.isnan(b["pct_change"]) and b["change"] == 4
    # Oct–Dec (92 days) against Jan–Feb (59 days): 920 and 590 are the same rate per day, not 3 against 2 months
    days = pd.DataFrame({"pre_count": [920], "post_count": [590], "pre_months": [3], "post_months": [2],
                         "pre_days": [92], "post_days": [59]})
    row = period_change_from_counts(days).iloc[0]
    assert row["rate_ratio"] == pytest.approx(1.0) and row["pct_change"] == pytest.approx(0.0)
    assert row["pre_per_day"] == 10 and row["post_per_month"] == pytest.approx(10 * 365.25 / 12)
    assert row["change"] == pytest.approx(0.0)
    per_month_ratio = (590 / 2) / (920 / 3)  # what the month exposure said: a 3.8% fall that is not there
    assert per_month_ratio == pytest.approx(0.962, abs=1e-3)
    assert row["p_value"] == pytest.approx(central_p(590, 1510, 59 / 151), rel=1e-9)


# --- real Essex ---------------------------------------------------------------------------------------------
def test_period_change_on_real_essex_per_day(essex_con, essex_dir):
    result = period_change(essex_con, "crimes", ["crime_type"], PRE, POST, Filters(force_id="essex"))
    pre = _csv_counts(essex_dir, MONTHS[:3])
    post = _csv_counts(essex_dir, MONTHS[3:])
    assert sorted(result["crime_type"]) == sorted(set(pre) | set(post)) and len(result) == 14
    for row in result.itertuples():
        assert (row.pre_count, row.post_count) == (pre[row.crime_type], post[row.crime_type])
        assert (row.pre_months, row.post_months, row.pre_days, row.post_days) == (3, 2, 92, 59)
        n = row.pre_count + row.post_count
        assert row.rate_ratio == pytest.approx((row.post_count / 59) / (row.pre_count / 92))
        assert row.p_value == pytest.approx(central_p(row.post_count, n, 59 / 151), rel=1e-9)
        lower, upper = cp_rate_ratio_limits(row.post_count, row.pre_count, 59, 92)
        assert (row.ci_lower, row.ci_upper) == pytest.approx((lower, upper), rel=1e-9)
        assert row.in_force
    _, q_values, _, _ = multipletests(result["p_value"], method="fdr_bh")
    assert result["q_value"].to_numpy() == pytest.approx(q_values)
    assert list(result["significant"]) == list(result["q_value"] < 0.05)
    burglary = result.set_index("crime_type").loc["Burglary"]
    assert burglary["pre_count"] + burglary["post_count"] == 5234  # PRODUCT.md: burglary over the five months
    assert bool(burglary["significant"]) and burglary["ci_upper"] < 1
    assert result.attrs["family_size"] == 14 and "different months" in result.attrs["seasonality_warning"]


def test_bh_family_is_the_force_districts_only(essex_con, essex_db, essex_dir, essex_districts):
    result = change_by(essex_con, "crimes", "district", (PRE, POST), Filters(force_id="essex"))
    pre = _csv_counts(essex_dir, MONTHS[:3], "LSOA name")
    post = _csv_counts(essex_dir, MONTHS[3:], "LSOA name")
    named = (set(pre) | set(post)) - {""}
    outside = named - essex_districts
    assert len(outside) == 53 and "" in (set(pre) | set(post))  # border snap points and rows without a place
    assert len(result) == 14 + 53 + 1
    family = result[result["in_force"]]
    assert set(family["district"]) == essex_districts and list(result["in_force"][:14]) == [True] * 14
    _, q_values, _, _ = multipletests(family["p_value"], method="fdr_bh")  # the 14 districts only
    assert family["q_value"].to_numpy() == pytest.approx(q_values)
    apart = result[~result["in_force"]]
    assert apart["q_value"].isna().all() and not apart["significant"].any()
    assert apart["p_value"].notna().all() and (apart["family_note"] != "").all()
    blank = apart[apart["district"].isna()]
    assert len(blank) == 1 and int(blank["pre_count"].iloc[0]) == pre[""]
    assert result.attrs["family_size"] == 14 and result.attrs["apart"] == 54
    # the CLI computes Colchester's q with the same family
    printed = run_cli("metrics", "compare", "--db", str(essex_db), "--by", "district", "--pre",
                      "2018-10:2018-12", "--post", "2019-01:2019-02", "--format", "csv")
    rows = pd.read_csv(io.StringIO(printed.stdout))
    assert len(rows) == 68 and rows["q_value"].notna().sum() == 14
    cli_q = rows.set_index("district").loc["Colchester", "q_value"]
    expected_q = dict(zip(family["district"], q_values))["Colchester"]
    assert cli_q == pytest.approx(expected_q, rel=1e-9)


def test_crime_type_by_district_corrects_within_the_force(essex_con, essex_districts):
    result = period_change(essex_con, "crimes", ["crime_type", "district"], PRE, POST, Filters(force_id="essex"))
    plain = essex_con.execute(
        "select count(distinct (crime_type, district)) from crimes where month between '2018-10-01' and '2019-02-01'"
    ).fetchall()[0][0]
    assert len(result) == plain
    inside = result["district"].isin(essex_districts)
    assert (result["in_force"] == inside).all()
    family = result[inside]
    assert family["q_value"].to_numpy() == pytest.approx(naive_bh(family["p_value"].tolist()))
    assert result.loc[~inside, "q_value"].isna().all()
    total = essex_con.execute("select count(*) from crimes where month between '2018-10-01' and '2019-02-01'").fetchall()[0][0]
    assert int(result["pre_count"].sum() + result["post_count"].sum()) == total


def test_period_change_validates_input(essex_con, essex_dir):
    with pytest.raises(ValueError, match="cannot group"):
        period_change(essex_con, "crimes", ["crime_type; drop table crimes"], PRE, POST)
    with pytest.raises(ValueError, match="before it starts"):
        period_change(essex_con, "crimes", None, (date(2019, 1, 1), date(2018, 1, 1)), POST)
    total = change_by(essex_con, "crimes", [], plan.Comparison("custom", PRE, POST))
    assert len(total) == 1 and int(total["pre_count"].iloc[0]) == sum(_csv_counts(essex_dir, MONTHS[:3]).values())


# --- comparisons: seasonality and the short-data fallback ------------------------------------------------------
def test_seasonality_warning_only_for_different_calendar_months():
    assert seasonality_warning((date(2018, 1, 1), date(2018, 3, 1)), (date(2019, 1, 1), date(2019, 3, 1))) is None
    assert seasonality_warning((date(2020, 1, 1), date(2020, 12, 1)), (date(2021, 1, 1), date(2021, 12, 1))) is None
    warning = seasonality_warning(PRE, POST)
    assert "Oct–Dec against Jan–Feb" in warning and "seasonal" in warning


def test_fallback_prefers_the_same_months_a_year_earlier():
    # 18 months loaded (Jul 2017..Dec 2018): latest 6 months against the same 6 a year earlier
    comparison = plan.resolve_comparison(date(2017, 7, 1), date(2018, 12, 1), "latest12")
    assert comparison.post == (date(2018, 7, 1), date(2018, 12, 1))
    assert comparison.pre == (date(2017, 7, 1), date(2017, 12, 1))
    assert comparison.seasonality_warning is None and "same 6 months a year earlier" in comparison.notice
    # 13 months: one month against the same month a year earlier
    one = plan.resolve_comparison(date(2018, 2, 1), date(2019, 2, 1), "covid")
    assert (one.pre, one.post) == ((date(2018, 2, 1), date(2018, 2, 1)), (date(2019, 2, 1), date(2019, 2, 1)))
    # 5 months (the real Essex files): adjacent halves of different months, with the seasonality warning
    short = plan.resolve_comparison(date(2018, 10, 1), date(2019, 2, 1), "latest12")
    assert short.pre == (date(2018, 11, 1), date(2018, 12, 1)) and short.post == POST
    assert short.seasonality_warning and short.seasonality_warning in short.notice
    # custom periods of different months are kept as asked (no fall-back notice) and carry the warning
    custom = plan.resolve_comparison(date(2018, 10, 1), date(2019, 2, 1), "custom", PRE, POST)
    assert custom.notice is None and custom.seasonality_warning == seasonality_warning(PRE, POST)


def test_scorecard_change_is_per_day(essex_con):
    comparison = plan.resolve_comparison(date(2018, 10, 1), date(2019, 2, 1), "latest12")  # Nov–Dec vs Jan–Feb
    card = plan.scorecard(essex_con, Filters(force_id="essex"), comparison, with_expected=False).set_index("measure_id")
    post, pre = (
        essex_con.execute("select count(*) from crimes where crime_type = 'Drugs' and month between ? and ?",
                          [a, b]).fetchall()[0][0]
        for a, b in (comparison.post, comparison.pre)
    )
    row = card.loc["drug_offences"]
    assert (row["pre_days"], row["post_days"]) == (30 + 31, 31 + 28)
    assert row["rate_ratio"] == pytest.approx((post / 59) / (pre / 61))
    assert row["p_value"] == pytest.approx(central_p(post, post + pre, 59 / 120), rel=1e-9)
    assert "different months" in card.attrs["seasonality_warning"]


def test_counts_with_two_datasets_must_choose_one(tmp_path, reference_data):
    from etl.load import load_sources

    db = tmp_path / "two.duckdb"
    load_sources([reference_data / "london-datastore" / "mps-borough-level-crime-historical.csv",
                  reference_data / "home-office" / "prc-pfa-2017-18-by-offence.csv"], db, progress=False)
    con = duckdb.connect(str(db), read_only=True)
    q1, q2 = (date(2017, 4, 1), date(2017, 6, 1)), (date(2017, 7, 1), date(2017, 9, 1))
    with pytest.raises(ValueError, match="2 datasets"):
        period_change(con, "counts", None, q1, q2)
    essex = period_change(con, "counts", [], q1, q2, Filters(force_id="essex"), dataset="home-office-prc")
    by_quarter = Counter()
    with open(reference_data / "home-office" / "prc-pfa-2017-18-by-offence.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["Force_Name"] == "Essex":
                by_quarter[row["Financial_Quarter"]] += int(row["Number_of_Offences"])
    assert (int(essex["pre_count"].iloc[0]), int(essex["post_count"].iloc[0])) == (by_quarter["1"], by_quarter["2"])
    n = by_quarter["1"] + by_quarter["2"]  # Apr–Jun 91 days, Jul–Sep 92 days
    assert essex["p_value"].iloc[0] == pytest.approx(central_p(by_quarter["2"], n, 92 / 183), rel=1e-9)

"""period_change, the exact Poisson rate ratio and Benjamini–Hochberg, checked against scipy, hand-worked
values, a naive BH and plain csv counts over the real Essex files."""

from __future__ import annotations

import csv
import math
from collections import Counter
from datetime import date

import duckdb
import numpy as np
import pytest
from scipy import stats

from metrics.compare import (
    benjamini_hochberg,
    period_change,
    period_change_from_counts,
    poisson_rate_ratio,
)
from metrics.filters import Filters

PRE = (date(2018, 10, 1), date(2018, 12, 1))
POST = (date(2019, 1, 1), date(2019, 2, 1))


def naive_bh(p_values):
    """BH by its definition: q_i = min over p_j >= p_i of min(1, p_j * m / rank_j)."""
    p = [x for x in p_values]
    m = len(p)
    ordered = sorted(p)
    ranks = {}
    for rank, value in enumerate(ordered, start=1):
        ranks[value] = rank  # ties: the largest rank, as the step-up procedure uses
    return [min(min(1.0, pj * m / ranks[pj]) for pj in p if pj >= pi) for pi in p]


def test_rate_ratio_hand_worked_equal_periods():
    # 30 events against 20 in equally long periods: RR 1.5; two-sided exact p = P(|X - 25| >= 5), X ~ Bin(50, 1/2)
    result = poisson_rate_ratio(30, 1, 20, 1)
    assert result.rate_ratio == pytest.approx(1.5)
    by_hand = 2 * sum(math.comb(50, k) for k in range(30, 51)) / 2**50
    assert result.p_value == pytest.approx(by_hand, rel=1e-9)
    assert result.p_value == pytest.approx(0.2026, abs=5e-4)


def test_rate_ratio_interval_inverts_the_exact_test():
    # at the lower limit, P(X >= 30) = 2.5%; at the upper limit P(X <= 30) = 2.5% (Clopper-Pearson on π)
    count_post, months_post, count_pre, months_pre = 30, 2, 45, 3
    result = poisson_rate_ratio(count_post, months_post, count_pre, months_pre)
    n = count_post + count_pre
    assert result.rate_ratio == pytest.approx((30 / 2) / (45 / 3))

    def pi(rr):
        return rr * months_post / (rr * months_post + months_pre)

    assert stats.binom.sf(count_post - 1, n, pi(result.ci_lower)) == pytest.approx(0.025, rel=1e-6)
    assert stats.binom.cdf(count_post, n, pi(result.ci_upper)) == pytest.approx(0.025, rel=1e-6)
    expected_p = stats.binomtest(count_post, n, months_post / (months_post + months_pre)).pvalue
    assert result.p_value == pytest.approx(expected_p)


def test_rate_ratio_zeros():
    both = poisson_rate_ratio(0, 3, 0, 3)
    assert math.isnan(both.rate_ratio) and both.ci_lower == 0 and math.isinf(both.ci_upper) and both.p_value == 1
    no_pre = poisson_rate_ratio(6, 1, 0, 1)
    assert math.isinf(no_pre.rate_ratio) and math.isinf(no_pre.ci_upper)
    # lower limit: P(X >= 6 | n=6, π) = π^6 = 0.025
    pi = 0.025 ** (1 / 6)
    assert no_pre.ci_lower == pytest.approx(pi / (1 - pi))
    assert no_pre.p_value == pytest.approx(2 * 0.5**6)
    no_post = poisson_rate_ratio(0, 1, 6, 1)
    assert no_post.rate_ratio == 0 and no_post.ci_lower == 0
    with pytest.raises(ValueError):
        poisson_rate_ratio(1, 0, 1, 1)


def test_benjamini_hochberg_known_example():
    # Benjamini & Hochberg (1995), section 4: 15 p-values; at FDR 0.05 the four smallest are rejected
    p = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719,
         0.6528, 0.7590, 1.0000]
    q = benjamini_hochberg(p)
    assert list(np.asarray(q) < 0.05) == [True] * 4 + [False] * 11
    assert q == pytest.approx(naive_bh(p))
    assert q[0] == pytest.approx(0.0001 * 15)  # 0.0015
    assert q[3] == pytest.approx(0.0095 * 15 / 4)  # 0.035625
    # order does not matter; NaN stays NaN and is not counted
    shuffled = [p[i] for i in (14, 3, 0, 9, 1, 2, 4, 5, 6, 7, 8, 10, 11, 12, 13)]
    assert benjamini_hochberg(shuffled) == pytest.approx(naive_bh(shuffled))
    with_nan = benjamini_hochberg([0.01, float("nan"), 0.04])
    assert math.isnan(with_nan[1]) and with_nan[0] == pytest.approx(0.02) and with_nan[2] == pytest.approx(0.04)


def test_period_change_from_counts_unequal_periods():
    import pandas as pd

    frame = pd.DataFrame({"area": ["a", "b"], "pre_count": [120, 0], "post_count": [30, 4], "pre_months": 12, "post_months": 3})
    result = period_change_from_counts(frame)
    a = result.iloc[0]
    assert a["pre_per_month"] == 10 and a["post_per_month"] == 10
    assert a["change"] == 0 and a["pct_change"] == 0 and a["rate_ratio"] == 1
    b = result.iloc[1]
    assert math.isinf(b["rate_ratio"]) and math.isnan(b["pct_change"]) and b["change"] == 4


def _csv_counts(essex_dir, months):
    counts = Counter()
    for month in months:
        path = essex_dir / month / f"{month}-essex-street.csv"
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                counts[row["Crime type"]] += 1
    return counts


def test_period_change_on_real_essex(essex_db, essex_dir):
    con = duckdb.connect(str(essex_db), read_only=True)
    result = period_change(con, "crimes", ["crime_type"], PRE, POST, Filters(force_id="essex"))
    pre = _csv_counts(essex_dir, ["2018-10", "2018-11", "2018-12"])
    post = _csv_counts(essex_dir, ["2019-01", "2019-02"])
    assert sorted(result["crime_type"]) == sorted(set(pre) | set(post))
    assert len(result) == 14
    for row in result.itertuples():
        assert row.pre_count == pre[row.crime_type]
        assert row.post_count == post[row.crime_type]
        assert (row.pre_months, row.post_months) == (3, 2)
        n = row.pre_count + row.post_count
        test = stats.binomtest(row.post_count, n, 2 / 5)
        assert row.p_value == pytest.approx(test.pvalue, rel=1e-9)
        ci = test.proportion_ci(0.95, method="exact")
        assert row.ci_lower == pytest.approx(ci.low / (1 - ci.low) * 3 / 2, rel=1e-9)
        assert row.ci_upper == pytest.approx(ci.high / (1 - ci.high) * 3 / 2, rel=1e-9)
        assert row.rate_ratio == pytest.approx((post[row.crime_type] / 2) / (pre[row.crime_type] / 3))
    assert result["q_value"].to_numpy() == pytest.approx(naive_bh(result["p_value"].tolist()))
    assert list(result["significant"]) == list(result["q_value"] < 0.05)
    # burglary fell: 3,455 a quarter → 1,779 in two months (PRODUCT.md: 5,234 over the five months)
    burglary = result.set_index("crime_type").loc["Burglary"]
    assert burglary["pre_count"] + burglary["post_count"] == 5234
    assert bool(burglary["significant"]) and burglary["ci_upper"] < 1


def test_period_change_crime_type_by_district_controls_fdr(essex_db):
    con = duckdb.connect(str(essex_db), read_only=True)
    result = period_change(con, "crimes", ["crime_type", "district"], PRE, POST, Filters(force_id="essex"))
    plain = con.execute(
        """
        select count(distinct (crime_type, district)) from crimes
        where force_id = 'essex' and month between '2018-10-01' and '2019-02-01'
        """
    ).fetchall()[0][0]
    assert len(result) == plain
    assert result["q_value"].to_numpy() == pytest.approx(naive_bh(result["p_value"].tolist()))
    assert (result["q_value"] >= result["p_value"] - 1e-15).all()
    # a group with rows in only one period is kept, with a real zero on the other side
    one_sided = result[(result["pre_count"] == 0) | (result["post_count"] == 0)]
    assert len(one_sided) > 0
    total = con.execute(
        "select count(*) from crimes where month between '2018-10-01' and '2019-02-01'"
    ).fetchall()[0][0]
    assert int(result["pre_count"].sum() + result["post_count"].sum()) == total


def test_period_change_validates_input(essex_db, essex_dir):
    con = duckdb.connect(str(essex_db), read_only=True)
    with pytest.raises(ValueError, match="cannot group"):
        period_change(con, "crimes", ["crime_type; drop table crimes"], PRE, POST)
    with pytest.raises(ValueError, match="before it starts"):
        period_change(con, "crimes", None, (date(2019, 1, 1), date(2018, 1, 1)), POST)
    total = period_change(con, "crimes", [], PRE, POST)
    pre = _csv_counts(essex_dir, ["2018-10", "2018-11", "2018-12"])
    assert len(total) == 1 and int(total["pre_count"].iloc[0]) == sum(pre.values())


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
    assert essex["p_value"].iloc[0] == pytest.approx(
        stats.binomtest(by_quarter["2"], by_quarter["1"] + by_quarter["2"], 0.5).pvalue)

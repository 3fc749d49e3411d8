"""District and force rates per 1,000 residents and funnel limits (Spiegelhalter 2005 overdispersion), checked
against csv sums over the raw ONS/census files, scipy's Poisson quantiles and the paper's formulas by hand."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import Counter
from datetime import date

import duckdb
import pandas as pd
import pytest
from scipy import stats

from metrics.filters import Filters
from metrics.rates import district_rates, force_rates, funnel_limits, overdispersion
from tests.conftest import run_cli
from tests.test_metrics_cli import metrics_cli

START, END = date(2018, 10, 1), date(2019, 2, 1)


@pytest.fixture(scope="module")
def essex_lsoas(reference_data):
    """LSOA code -> (district, usual residents) for Essex, from the raw ONS lookup and census csv files."""
    lookup = {}
    with open(reference_data / "ons" / "lsoa11-to-local-authority-and-force.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["Police_force"] == "Essex":
                lookup[row["LSOA Code"]] = re.sub(r"\s+\d{3}[A-Z]$", "", row["LSOA Name"])
    residents = {}
    with open(reference_data / "ons" / "census2011-lsoa-usual-residents.csv", newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        code_at, persons_at = header.index("LSOA Code"), header.index("Persons")
        for row in reader:
            if row[code_at] in lookup:
                residents[row[code_at]] = int(row[persons_at].replace(",", ""))
    return {code: (district, residents[code]) for code, district in lookup.items()}


def _raw_district_counts(essex_dir, essex_lsoas) -> tuple[Counter, Counter]:
    counts = Counter()
    for month in ["2018-10", "2018-11", "2018-12", "2019-01", "2019-02"]:
        with open(essex_dir / month / f"{month}-essex-street.csv", newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row["LSOA code"] in essex_lsoas:
                    counts[essex_lsoas[row["LSOA code"]][0]] += 1
    residents = Counter()
    for district, people in essex_lsoas.values():
        residents[district] += people
    return counts, residents


def spiegelhalter_by_hand(observed: list[float], expected: list[float]) -> tuple[float, float]:
    """(phi, tau²) as Spiegelhalter (2005) defines them, written out: z = 2(√O − √E); Winsorise at the 10th and
    90th percentiles (linear interpolation between order statistics); phi = mean z² over E[z²] of a Winsorised
    standard normal (its integral worked out: 1 − 2f − 2c·pdf(c) + 2f·c², c = the 90% point); tau² from w = 4E."""
    z = [2 * (math.sqrt(o) - math.sqrt(e)) for o, e in zip(observed, expected)]
    ordered = sorted(z)

    def percentile(fraction: float) -> float:
        position = fraction * (len(ordered) - 1)
        below = math.floor(position)
        above = min(below + 1, len(ordered) - 1)
        return ordered[below] + (position - below) * (ordered[above] - ordered[below])

    low, high = percentile(0.10), percentile(0.90)
    c = stats.norm.ppf(0.9)
    consistency = 0.8 - 2 * c * math.exp(-c * c / 2) / math.sqrt(2 * math.pi) + 0.2 * c * c
    assert consistency == pytest.approx(0.6787, abs=1e-4)
    phi = sum(min(max(v, low), high) ** 2 for v in z) / len(z) / consistency
    w = [4 * e for e in expected]
    tau2 = (len(z) * phi - (len(z) - 1)) / (sum(w) - sum(x * x for x in w) / sum(w))
    return phi, max(tau2, 0.0)


def test_district_rates_match_the_raw_files(essex_db, essex_dir, essex_lsoas):
    con = duckdb.connect(str(essex_db), read_only=True)
    frame = district_rates(con, "crimes", START, END, Filters(force_id="essex")).set_index("district")
    assert len(frame) == 14
    counts, residents = _raw_district_counts(essex_dir, essex_lsoas)
    overall = sum(counts.values()) / sum(residents.values()) * 1000
    for district, row in frame.iterrows():
        assert row["count"] == counts[district]
        assert row["residents"] == residents[district]
        assert row["rate_per_1000"] == pytest.approx(counts[district] / residents[district] * 1000)
        assert row["rate_per_1000_per_year"] == pytest.approx(row["rate_per_1000"] * 12 / 5)
        assert row["expected_count"] == pytest.approx(overall / 1000 * residents[district])
    assert frame.attrs["overall_rate_per_1000"] == pytest.approx(overall)


def test_funnel_allows_for_overdispersion_on_real_essex(essex_db, essex_dir, essex_lsoas):
    con = duckdb.connect(str(essex_db), read_only=True)
    frame = district_rates(con, "crimes", START, END, Filters(force_id="essex")).set_index("district")
    counts, residents = _raw_district_counts(essex_dir, essex_lsoas)
    districts = sorted(counts)
    observed = [counts[d] for d in districts]
    rate = sum(observed) / sum(residents[d] for d in districts)
    expected = [rate * residents[d] for d in districts]
    # Pearson χ²/df ≈ 306: the districts differ far more than Poisson counts would
    pearson = sum((o - e) ** 2 / e for o, e in zip(observed, expected)) / (len(districts) - 1)
    assert pearson == pytest.approx(306.5, abs=0.05)
    assert frame.attrs["pearson_dispersion"] == pytest.approx(pearson)
    # with plain Poisson limits 12 of the 14 districts fall outside 99.8%
    poisson_outside = sum(o > stats.poisson.ppf(0.999, e) or o < stats.poisson.ppf(0.001, e)
                          for o, e in zip(observed, expected))
    assert poisson_outside == 12
    # Spiegelhalter's additive random effect, computed here by hand, puts none outside 99.8% (nor 95%)
    phi, tau2 = spiegelhalter_by_hand(observed, expected)
    assert len(districts) * phi > stats.chi2.ppf(0.95, len(districts) - 1)
    assert frame.attrs["overdispersed"] and frame.attrs["tau"] == pytest.approx(math.sqrt(tau2), rel=1e-9)
    outside_998 = outside_95 = 0
    for district, o, e in zip(districts, observed, expected):
        row = frame.loc[district]
        people = residents[district]
        for level, z in (("998", stats.norm.ppf(0.999)), ("95", stats.norm.ppf(0.975))):
            spread = z * math.sqrt(1 / (4 * e) + tau2)
            low, high = e * max(1 - spread, 0) ** 2, e * (1 + spread) ** 2
            assert row[f"lower_{level}"] == pytest.approx(low / people * 1000, rel=1e-9)
            assert row[f"upper_{level}"] == pytest.approx(high / people * 1000, rel=1e-9)
            outside = "above" if o > high else ("below" if o < low else None)
            assert row[f"outside_{level}"] == outside
            outside_998 += level == "998" and outside is not None
            outside_95 += level == "95" and outside is not None
        assert row["outside"] == row["outside_998"]
        assert row["z_score"] == pytest.approx((math.sqrt(o / e) - 1) / math.sqrt(1 / (4 * e) + tau2))
    assert outside_998 == 0 and outside_95 == 0
    # the lowest rates come nearest their lower limits
    nearest = (frame["rate_per_1000"] - frame["lower_95"]).sort_values().index[:2]
    assert set(nearest) == {"Maldon", "Rochford"} and (frame.loc[nearest, "z_score"] < -1.5).all()
    assert "Spiegelhalter (2005)" in frame.attrs["limits"] and (frame["limits"] == frame.attrs["limits"]).all()
    # a district filter keeps the chosen rows, with the force-wide rate and overdispersion
    two = district_rates(con, "crimes", START, END, Filters(force_id="essex", districts=("Maldon", "Harlow")))
    assert list(two["district"]) == ["Harlow", "Maldon"] and two.attrs["tau"] == pytest.approx(math.sqrt(tau2))
    assert two["upper_998"].tolist() == pytest.approx(frame.loc[["Harlow", "Maldon"], "upper_998"].tolist())


def test_no_overdispersion_gives_poisson_limits():
    # counts that match their expectations closely: I·phi is far below the χ² 95% point, τ = 0, Poisson limits
    expected = [100.0, 200.0, 400.0, 800.0, 1600.0, 3200.0]
    observed = [101, 198, 403, 796, 1607, 3195]
    spread = overdispersion(observed, expected)
    phi, _ = spiegelhalter_by_hand(observed, expected)
    assert spread.phi == pytest.approx(phi) and not spread.overdispersed and spread.tau == 0
    assert spread.pearson_dispersion == pytest.approx(sum((o - e) ** 2 / e for o, e in zip(observed, expected)) / 5)
    assert spread.limits.startswith("Poisson")
    assert not overdispersion([5, 500], [250, 255]).overdispersed  # too few units to estimate it


def test_funnel_limits_by_hand():
    funnel = funnel_limits(50.0, [2000, 100000], period_months=12)
    small = funnel.iloc[0]
    assert small["expected_count"] == pytest.approx(100)
    assert small["upper_95"] == stats.poisson.ppf(0.975, 100) / 2000 * 1000  # 120 → 60 per 1,000
    assert small["upper_95"] == pytest.approx(60.0)
    wide, narrow = funnel.iloc[0], funnel.iloc[1]
    assert wide["upper_998"] - wide["lower_998"] > narrow["upper_998"] - narrow["lower_998"]
    assert funnel.attrs["limits"].startswith("Poisson")
    # with τ = 0.1: rate × (1 ± z·√(1/(4E) + τ²))², E = 100 → 50 × (1 + 1.96·√(0.0125))² per 1,000
    widened = funnel_limits(50.0, [2000], tau=0.1).iloc[0]
    z = stats.norm.ppf(0.975)
    assert widened["upper_95"] == pytest.approx(50 * (1 + z * math.sqrt(0.0025 + 0.01)) ** 2)
    assert widened["lower_95"] == pytest.approx(50 * (1 - z * math.sqrt(0.0025 + 0.01)) ** 2)


def test_rates_cli(essex_db, essex_dir, essex_lsoas, capsys):
    result = run_cli("metrics", "rates", "--db", str(essex_db), "--by", "district", "--period", "2018-10:2019-02",
                     "--force", "essex", "--format", "csv")
    rows = pd.read_csv(io.StringIO(result.stdout))
    assert list(rows.columns[:11]) == [
        "district", "count", "residents", "rate_per_1000", "lower_95", "upper_95", "lower_998", "upper_998",
        "outside_95", "outside_998", "limits",
    ]
    counts, residents = _raw_district_counts(essex_dir, essex_lsoas)
    assert dict(zip(rows["district"], rows["count"])) == dict(counts)
    assert dict(zip(rows["district"], rows["residents"])) == dict(residents)
    assert rows["outside_998"].isna().all() and rows["outside_95"].isna().all()
    assert rows["limits"].str.contains("random effect").all()
    payload = json.loads(metrics_cli(capsys, "rates", "--db", str(essex_db), "--period", "2018-10:2019-02",
                                     "--format", "json").stdout)
    assert "Spiegelhalter" in payload["attrs"]["limits"] and len(payload["rows"]) == 14
    table = metrics_cli(capsys, "rates", "--db", str(essex_db), "--period", "2018-10:2019-02").stdout
    assert "Southend-on-Sea" in table and "Pearson" in table
    bad = metrics_cli(capsys, "rates", "--db", str(essex_db), "--period", "2019-13", check=False)
    assert bad.returncode != 0 and "YYYY-MM" in bad.stderr


def test_force_rates_from_crimes_and_home_office(essex_db, reference_data, tmp_path, essex_lsoas):
    con = duckdb.connect(str(essex_db), read_only=True)
    frame = force_rates(con, "crimes", START, END)
    assert frame["force_id"].tolist() == ["essex"]
    residents = sum(people for _, people in essex_lsoas.values())
    assert int(frame["residents"].iloc[0]) == residents
    assert int(frame["count"].iloc[0]) == 84233  # the README's row count of the five Essex files
    from etl.load import load_sources

    db = tmp_path / "ho.duckdb"
    load_sources([reference_data / "home-office" / "prc-pfa-2017-18-by-offence.csv",
                  reference_data / "ons" / "lsoa11-to-local-authority-and-force.csv",
                  reference_data / "ons" / "census2011-lsoa-usual-residents.csv"], db, progress=False)
    ho = duckdb.connect(str(db), read_only=True)
    table = force_rates(ho, "counts", date(2017, 4, 1), date(2018, 3, 1), categories=("Burglary",))
    expected = 0
    with open(reference_data / "home-office" / "prc-pfa-2017-18-by-offence.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["Force_Name"] == "Essex" and row["Policeuk_Cat"] == "Burglary":
                expected += int(row["Number_of_Offences"])
    essex = table.set_index("force_id").loc["essex"]
    assert essex["count"] == expected
    assert essex["rate_per_1000"] == pytest.approx(expected / residents * 1000)
    ranked = table.dropna(subset=["rate_per_1000"])
    assert list(ranked["rank"]) == sorted(ranked["rank"]) and ranked["rank"].iloc[0] == 1
    assert ranked["rate_per_1000"].is_monotonic_decreasing
    # the first quarter alone: only rows whose quarter ends inside the range
    first_quarter = force_rates(ho, "counts", date(2017, 4, 1), date(2017, 6, 1), categories=("Burglary",))
    assert first_quarter.set_index("force_id").loc["essex", "count"] < expected
    assert force_rates(ho, "counts", date(2017, 4, 1), date(2017, 5, 1)).empty

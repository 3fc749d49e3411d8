"""Priority 1 — more local, visible and accessible policing: all crime and ASB by district, rates per
1,000 residents with a funnel plot, the force's rank among the loaded forces, hotspots (map and top
LSOAs) and outcomes."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import charts
import page_blocks
import ui
from metrics import calendar, hotspots, outcomes, plan, rates, series
from metrics.expected import expected_vs_observed
from metrics.filters import Filters, add_months

SOURCE = "data.police.uk street-level crime"

ctx = ui.context()
ui.page_header(
    "1 · More local, visible and accessible policing", ctx,
    "All recorded crime and anti-social behaviour across the districts, rates per 1,000 residents (2011 Census), "
    "where crime concentrates, and how often crimes end in a charge or summons.",
)
if ctx.comparison is None or ctx.last_month is None:
    st.info("No street-level crime is loaded for this force: load data.police.uk files (see the **Data** view).")
    ui.not_loaded(plan.measure("all_crime"))
    st.stop()

chosen_types = ctx.filters.categories
crime_label = "Selected crime types" if chosen_types else "All crime (excluding ASB)"
MEASURES = {"crime": crime_label, "asb": "Anti-social behaviour"}
choice = ui.url_choice("Measure", list(MEASURES), key="measure", default="crime", format_func=MEASURES.get)
if choice == "asb":
    categories: tuple[str, ...] = (plan.ASB,)
    unit_noun = "ASB incidents"
    unit_title = "ASB incidents"
else:
    categories = tuple(c for c in chosen_types if c != plan.ASB) or plan.POLICE_UK_CRIME_TYPES
    unit_noun = "crimes"
    unit_title = "Crimes"
measure_filters = Filters(force_id=ctx.force_id, districts=ctx.filters.districts, categories=categories)
pre, post = ctx.comparison.pre, ctx.comparison.post
as_at = ctx.last_month

# --- headline numbers -------------------------------------------------------------------------------
page_blocks.headline_change(MEASURES[choice], "incidents" if unit_title == "ASB incidents" else "crimes", "crimes",
                            measure_filters, pre, post)

# --- trend with expected band --------------------------------------------------------------------------
monthly = ui.metric(series.monthly_series, "crimes", None, measure_filters)
expected = ui.metric(expected_vs_observed, "crimes", measure_filters, add_months(post[0], -1))
projected = expected[~expected["in_fit"].astype(bool)] if len(expected) else expected
ui.chart(
    charts.trend_chart(
        monthly, f"{MEASURES[choice]} per month — {ctx.area_label}", f"{unit_title} per month", SOURCE,
        as_at, expected=projected if len(projected) else None, lockdowns=calendar.lockdowns(),
        note=("Expected: " + expected.attrs.get("note", "")) if len(projected) else None,
    ),
    key="lp_trend",
)

# --- districts: rates and funnel -------------------------------------------------------------------------
st.subheader(f"Districts — rates per 1,000 residents, {plan.period_label(post)}")
try:
    district = ui.metric(rates.district_rates, "crimes", post[0], post[1], measure_filters)
except ValueError as problem:
    district = None
    st.info(f"District rates need the ONS LSOA lookup and census residents: {problem}.")
if district is not None and len(district):
    months = district.attrs.get("months", 12)
    ui.chart(
        charts.bar_chart(district, "rate_per_1000", "district", f"{MEASURES[choice]} per 1,000 residents by district",
                         f"{unit_title} per 1,000 residents ({months} months)", "", f"{SOURCE}; 2011 Census",
                         as_at, value_format=",.1f"),
        key="lp_district_bars",
    )
    populations = district["residents"].astype(float)
    curve = [populations.min() * 0.5 + i * (populations.max() * 1.1 - populations.min() * 0.5) / 120 for i in range(121)]
    limits = rates.funnel_limits(district.attrs["overall_rate_per_1000"], curve, months, tau=district.attrs["tau"])
    ui.chart(
        charts.funnel_plot(district, limits, f"Funnel plot: {MEASURES[choice]} per 1,000 residents by district",
                           f"{SOURCE}; 2011 Census", as_at, label="district", population="residents",
                           overall_rate=district.attrs["overall_rate_per_1000"], limits_population="population",
                           y_label=f"{unit_title} per 1,000 residents ({months} months)",
                           x_label="Usual residents (2011 Census)"),
        key="lp_funnel",
    )
    shown = district.assign(
        outside_998=district["outside"].fillna("within"), outside_95=district["outside_95"].fillna("within"),
    )[["district", "count", "residents", "rate_per_1000", "rate_per_1000_per_year", "outside_95", "outside_998"]]
    ui.table(
        shown, "district-rates",
        column_config={
            "district": "District", "count": st.column_config.NumberColumn(unit_title, format="localized"),
            "residents": st.column_config.NumberColumn("Residents (2011)", format="localized"),
            "rate_per_1000": st.column_config.NumberColumn("Per 1,000 (period)", format="%.1f"),
            "rate_per_1000_per_year": st.column_config.NumberColumn("Per 1,000 a year", format="%.1f"),
            "outside_95": "vs 95% limits", "outside_998": "vs 99.8% limits",
        },
        caption=district.attrs.get("note"),
    )

# --- rank among forces -------------------------------------------------------------------------------------
st.subheader("Rank among the forces loaded")
ranking = ui.metric(plan.force_ranking, categories, ctx.comparison.post)
if ranking is None:
    st.info(
        "Only one force is loaded, so there is nothing to rank against. Load data.police.uk street files for the "
        "most similar forces (e.g. `python -m etl load kent-street.zip hertfordshire-street.zip`) or the Home Office "
        "police recorded crime table by force area, together with the ONS lookup and census residents."
    )
else:
    frame, meta = ranking
    own = frame[frame["force_id"] == ctx.force_id]
    if len(own) and pd.notna(own["rank"].iloc[0]):
        st.markdown(f"**{ctx.force_name}** ranks **{int(own['rank'].iloc[0])} of {int(frame['rank'].notna().sum())}** "
                    f"forces by {meta['what']} per 1,000 residents ({meta['period']}; 1 = highest rate).")
    ui.chart(
        charts.bar_chart(frame.dropna(subset=["rate_per_1000"]), "rate_per_1000", "force_name",
                         f"{meta['what'].capitalize()} per 1,000 residents by force, {meta['period']}",
                         f"{meta['what'].capitalize()} per 1,000 residents", "", meta["source"], meta["as_at"],
                         highlight=ctx.force_name, value_format=",.1f"),
        key="lp_force_rank",
    )
    ui.table(frame[["rank", "force_name", "count", "residents", "rate_per_1000"]], "force-ranking",
             column_config={"rate_per_1000": st.column_config.NumberColumn("Per 1,000", format="%.1f")})

# --- hotspots -------------------------------------------------------------------------------------------
st.subheader(f"Hotspots — {plan.period_label(post)}")
lsoas = ui.metric(hotspots.lsoa_counts, post[0], post[1], measure_filters)
geojson = ui.metric(hotspots.boundaries, tuple(lsoas["lsoa_code"])) if len(lsoas) else None
if geojson is not None:
    figure = charts.choropleth_map(lsoas, geojson, f"{MEASURES[choice]} by LSOA, {plan.period_label(post)}",
                                   unit_title, f"{SOURCE}; ONS LSOA boundaries", as_at,
                                   note="LSOAs with no rows are shown at 0.")
else:
    density = ui.metric(hotspots.point_density, post[0], post[1], measure_filters)
    figure = charts.point_density_map(density, f"{MEASURES[choice]}: point density, {plan.period_label(post)}",
                                      f"{unit_title} per cell", SOURCE, as_at,
                                      note="Grid cells of 0.01° from the anonymised snap points; load the ONS LSOA "
                                           "boundaries (lsoa11-boundaries .geojson) for an LSOA map.")
ui.chart(figure, key="lp_map")
top = ui.metric(hotspots.top_lsoas, post[0], post[1], measure_filters, 20)
ui.table(
    top, "top-lsoas",
    column_config={
        "lsoa_code": "LSOA", "lsoa_name": "Name", "district": "District",
        "count": st.column_config.NumberColumn(unit_title, format="localized"),
        "residents": st.column_config.NumberColumn("Residents (2011)", format="localized"),
        "rate_per_1000": st.column_config.NumberColumn("Per 1,000 (period)", format="%.1f"),
    },
    caption="The 20 LSOAs with most rows in the current period.",
)

# --- outcomes ------------------------------------------------------------------------------------------
st.subheader(f"Outcomes of crimes recorded in {plan.period_label(post)}")
if choice == "asb":
    st.caption("ASB incidents have no outcomes: showing crimes (excluding ASB) in the area.")
outcome_filters = Filters(force_id=ctx.force_id, districts=ctx.filters.districts,
                          categories=tuple(c for c in categories if c != plan.ASB) or plan.POLICE_UK_CRIME_TYPES)
shares = ui.metric(outcomes.outcome_shares, post[0], post[1], outcome_filters)
if shares.empty:
    st.info("No crimes with outcomes in this period.")
else:
    ui.chart(
        charts.bar_chart(shares.assign(share_pct=shares["share"] * 100), "share_pct", "outcome_group",
                         "Share of crimes by outcome", "Share of crimes (%)", "", SOURCE + " (latest outcome)", as_at,
                         value_format=".1f", note="Latest outcome of each crime; recent crimes are often still under investigation."),
        key="lp_outcomes",
    )
    by_district = ui.metric(outcomes.positive_outcome_rate, post[0], post[1], outcome_filters, ("district",))
    force_districts = ui.metric(series.districts, "crimes", ctx.force_id)
    by_district = by_district[by_district["district"].isin(force_districts)]
    ui.table(
        by_district.assign(positive_outcome_pct=by_district["positive_outcome_rate"] * 100)
        .drop(columns=["positive_outcome_rate"]),
        "positive-outcomes-by-district",
        column_config={
            "district": "District", "crimes": st.column_config.NumberColumn("Crimes", format="localized"),
            "charged_summonsed": st.column_config.NumberColumn("Charged or summonsed", format="localized"),
            "positive_outcome_pct": st.column_config.NumberColumn("Charged or summonsed (%)", format="%.1f"),
        },
        caption="Share of crimes whose latest outcome is a charge or summons (including court results).",
    )

# 999 and 101 answer times, officer and special constable numbers: the force measures of this priority
page_blocks.force_measures_section(ctx, "local-policing", key="lp_fm")

"""Priority 4 — serious violence: violence and sexual offences, robbery and possession of weapons — trends,
expected against observed, change by category and by district with 95% intervals (Benjamini–Hochberg), and
the force measures mapped to serious violence."""

from __future__ import annotations

import streamlit as st

import page_blocks
import ui
from metrics import plan, series
from metrics.compare import period_change
from metrics.filters import Filters

ctx = ui.context()
ui.page_header(
    "4 · Reversing the trend in serious violence", ctx,
    "Violence and sexual offences, robbery and possession of weapons recorded by the police (data.police.uk): "
    "the trend against the expected seasonal pattern, and where and in which category the change is real.",
)
MEASURE = plan.measure("serious_violence")
SOURCE = MEASURE.source
violence = plan.measure_filters(MEASURE, ctx.area_filters)
first, last = ui.metric(series.data_range, "crimes", violence)
if ctx.comparison is None or last is None:
    page_blocks.not_loaded(MEASURE)
    page_blocks.force_measures_section(ctx, "serious-violence", key="sv_fm")
    st.stop()

pre, post = ctx.comparison.pre, ctx.comparison.post
as_at = last

# --- headline ---------------------------------------------------------------------------------------
page_blocks.headline_change("Serious violence", "crimes", "crimes", violence, pre, post)
st.caption(MEASURE.caveats)

# --- trends ------------------------------------------------------------------------------------------
page_blocks.trend_with_expected(ctx, "crimes", violence, f"Serious violence per month — {ctx.area_label}",
                                "Crimes per month", SOURCE, key="sv_trend")
category = ui.url_choice("Category", list(MEASURE.categories), key="sv_category", default=MEASURE.categories[0],
                         help="Each category's own trend and expected band (their sizes differ too much for one axis).")
page_blocks.trend_with_expected(ctx, "crimes", Filters(force_id=ctx.force_id, districts=ctx.filters.districts,
                                                       categories=(category,)),
                                f"{category} per month — {ctx.area_label}", "Crimes per month", SOURCE,
                                key="sv_by_type")

# --- change by category and district ------------------------------------------------------------------------
st.subheader(f"Change by category — {plan.period_label(post)} against {plan.period_label(pre)}")
by_category = ui.metric(period_change, "crimes", ["crime_type"], pre, post, violence)
page_blocks.change_section(by_category, "crime_type", "Category", "crimes", "Change in crimes per month by category",
                           SOURCE, as_at, "serious-violence-change-by-category", "sv_change_category")

st.subheader(f"Change by district — {plan.period_label(post)} against {plan.period_label(pre)}")
force_districts = ui.metric(series.districts, "crimes", ctx.force_id)
# only the force's own districts, so the Benjamini–Hochberg control is across the districts shown
in_force = Filters(force_id=ctx.force_id, districts=ctx.filters.districts or tuple(force_districts),
                   categories=violence.categories)
by_district = ui.metric(period_change, "crimes", ["district"], pre, post, in_force)
page_blocks.change_section(by_district, "district", "District", "crimes",
                           "Change in serious violence per month by district", SOURCE, as_at,
                           "serious-violence-change-by-district", "sv_change_district",
                           caption=by_district.attrs.get("note", "") + " Districts of the force only.")

page_blocks.force_measures_section(ctx, "serious-violence", key="sv_fm")

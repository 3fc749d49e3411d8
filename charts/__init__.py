"""Plotly figures from metric frames: one style (Okabe–Ito), lockdown shading, captions; and how numbers read
(`charts.formatting`, the one formatter). No Streamlit."""

from charts import formatting, theme  # noqa: F401  (theme registers the Plotly template)
from charts.figures import (  # noqa: F401
    add_lockdowns,
    bar_chart,
    caption_text,
    change_chart,
    choropleth_map,
    empty_figure,
    feature_collection,
    format_as_at,
    format_pct_change,
    funnel_plot,
    heatmap,
    point_density_map,
    screen_figure,
    significance_mark,
    sparkline,
    sparkline_values,
    trend_chart,
)

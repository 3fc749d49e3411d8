"""Weekly figures: the view defined in views/weekly.py, drawn by ui.render; printable on one page (no sidebar,
header or toolbars on paper)."""

import streamlit as st

import ui
from views import weekly

st.markdown(
    "<style>[data-testid='stTable'] th, [data-testid='stTable'] td { padding-top: 0.2rem; padding-bottom: 0.2rem; } "
    "@media print { section[data-testid='stSidebar'], header, [data-testid='stToolbar'], "
    "[data-testid='stElementToolbar'], .stDownloadButton, div[data-testid='stSelectbox'] { display: none !important; } "
    ".block-container { padding: 0 !important; max-width: 100% !important; } }</style>",
    unsafe_allow_html=True,
)
ui.render(weekly.VIEW)

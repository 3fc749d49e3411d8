"""Crime Plan Monitor: the Streamlit entry point. `streamlit run app.py`.

Navigation comes from the view definitions (`views.VIEWS`: one list, each view with an id); on every run the
shell draws the demo banner and the shared filter bar (kept in the URL), then the chosen page draws its view.
"""

from __future__ import annotations

import streamlit as st

import ui
import views

st.set_page_config(page_title="Crime Plan Monitor", page_icon=":material/monitoring:", layout="wide",
                   initial_sidebar_state="auto")

# The house style (in the sidebar, so it takes no room in the page): less empty space above every page, so a
# one-screen view (Weekly figures) fits a 1366 x 768 laptop; compact static tables; on a phone a static table reads
# as one card per row (ui.render draws both) and chart titles are smaller (they do not wrap); on paper no sidebar,
# toolbars or widgets.
STYLE = """<style>
[data-testid='stMainBlockContainer'] { padding-top: 2.5rem; }
[data-testid='stTable'] th, [data-testid='stTable'] td { padding-top: 0.2rem; padding-bottom: 0.2rem; }
@media (max-width: 640px) {
  [data-testid='stLayoutWrapper']:has(> [class*='st-key-wide_']) { display: none; }
  .js-plotly-plot .gtitle { font-size: 12px !important; }
}
@media (min-width: 641px) { [data-testid='stLayoutWrapper']:has(> [class*='st-key-narrow_']) { display: none; } }
@media print {
  section[data-testid='stSidebar'], header, [data-testid='stToolbar'], [data-testid='stElementToolbar'],
  .stDownloadButton, div[data-testid='stSelectbox'] { display: none !important; }
  .block-container { padding: 0 !important; max-width: 100% !important; }
}
</style>"""
st.sidebar.markdown(STYLE, unsafe_allow_html=True)
page = ui.navigation(views.VIEWS)
if ui.shell() is None:
    st.stop()
page.run()

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

# less empty space above every page, so a one-screen view (Weekly figures) fits a 1366 x 768 laptop
st.markdown("<style>[data-testid='stMainBlockContainer'] { padding-top: 2.5rem; }</style>", unsafe_allow_html=True)
page = ui.navigation(views.VIEWS)
if ui.shell() is None:
    st.stop()
page.run()

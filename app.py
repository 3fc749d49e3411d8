"""Crime Plan Monitor: the Streamlit entry point. `streamlit run app.py`.

Routes with st.navigation over the page files in pages/ (ui.VIEWS), renders the demo banner and the
shared filter bar (kept in the URL) on every page, then runs the selected page.
"""

from __future__ import annotations

import streamlit as st

import ui

st.set_page_config(page_title="Crime Plan Monitor", page_icon=":material/monitoring:", layout="wide",
                   initial_sidebar_state="expanded")

sections: dict[str, list] = {}
for view in ui.available_views():
    sections.setdefault(view.section, []).append(
        st.Page(view.path, title=view.title, icon=view.icon, url_path=view.url_path,
                default=view.url_path == "overview")
    )
page = st.navigation(sections, position="sidebar", expanded=True)

context = ui.shell()
if context is not None:
    page.run()
else:
    st.stop()

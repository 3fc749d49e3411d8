"""Crime Plan Monitor: the Streamlit entry point. `streamlit run app.py` (or `bash scripts/run.sh`).

Before any data is read or any navigation is built: the serve-address rule (`serve_guard`: without sign-in only
this computer), then who is here (`require_access`: with `[auth]` configured, the signed-out page — the product's
name and a sign-in button — or the not-authorised page stop the run; without it, a local session and a notice on
every page). Navigation comes from the view definitions (`views.VIEWS`), holding the views the user's role may see;
`ui.guard.run` refuses any other view reached by its URL, draws the shell (demo banner, shared filter bar kept in
the URL, briefing pack), audits the view with its filters and runs the page, showing an error id in place of any
failure. docs/SECURITY.md says who sees what.
"""

from __future__ import annotations

import streamlit as st

import ui
import views
from access.streamlit_side import render_unauthenticated_notice, require_access, serve_guard
from ui import guard, heap

st.set_page_config(page_title="Crime Plan Monitor", page_icon=":material/monitoring:", layout="wide",
                   initial_sidebar_state="auto")

# The house style (in the sidebar, so it takes no room in the page): less empty space above every page, so a
# one-screen view (Weekly figures) fits a 1366 x 768 laptop; compact static tables; on a phone a static table reads
# as one card per row (ui.render draws both) and chart titles are smaller (they do not wrap); on paper no sidebar,
# toolbars or widgets.
STYLE = """<style>
[data-testid='stMainBlockContainer'] { padding-top: 2.5rem; }
.cpm-table table { border-collapse: collapse; width: 100%; font-size: 0.875rem; margin-bottom: 0.5rem; }
.cpm-table th { font-weight: 400; opacity: 0.7; text-align: left; vertical-align: bottom; }
.cpm-table th, .cpm-table td { border: 1px solid rgba(128, 128, 128, 0.25); padding: 0.2rem 0.375rem; }
.cpm-table tr.marked td, .cpm-table p.marked { background-color: #FBE3D6; color: #31333F; font-weight: 600; }
.cpm-cards { display: none; }
.cpm-cards p { margin: 0 0 0.6rem 0; }
@media (max-width: 640px) {
  .cpm-table table.cpm-wide { display: none; }
  .cpm-cards { display: block; }
  .js-plotly-plot .gtitle { font-size: 12px !important; }
}
@media print {
  section[data-testid='stSidebar'], header, [data-testid='stToolbar'], [data-testid='stElementToolbar'],
  .stDownloadButton, div[data-testid='stSelectbox'] { display: none !important; }
  .block-container { padding: 0 !important; max-width: 100% !important; }
}
</style>"""
serve_guard()
access = require_access()
st.sidebar.markdown(STYLE, unsafe_allow_html=True)
page = ui.navigation(views.VIEWS, access.capabilities)
if not access.signed_in:
    render_unauthenticated_notice(access.role, st.sidebar)   # every page: beside the session box
guard.run(page, views.VIEWS, access)
heap.freeze_after_first_page()  # once per process: later full garbage collections walk only new objects

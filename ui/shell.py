"""The app shell: navigation built from the view definitions, the demo-data banner, the filter bar and the
state every page reads (`app_state()`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import streamlit as st

from metrics import inventory
from ui import store
from ui.filter_bar import FilterBar, filter_bar
from views.model import View

CONTEXT_KEY = "_app_state"
DEMO_BANNER = ("**Demo data — synthetic.** Every number on this page comes from a generated warehouse, not from "
               "police records.")


@dataclass(frozen=True)
class AppState(FilterBar):
    """What the shell decided for this run: the filter bar's filters, comparison, months and notices, whether
    the warehouse is the synthetic demo, its version and path."""

    is_demo: bool = False
    version: str = ""
    db: str = ""

    @property
    def force_id(self) -> str | None:
        return self.filters.force_id


def navigation(views: Sequence[View]):
    """st.navigation over the views, grouped as they say. The first view is the default page at "/" and is
    also reachable at its own path (`/overview`), hidden from the menu."""
    groups: dict[str, list] = {}
    for index, view in enumerate(views):
        page = st.Page(view.page, title=view.title, icon=view.icon, url_path="" if index == 0 else view.url_path,
                       default=index == 0)
        groups.setdefault(view.group, []).append(page)
    if views:
        groups[views[0].group].append(st.Page(views[0].page, title=views[0].title, icon=views[0].icon,
                                              url_path=views[0].url_path, visibility="hidden"))
    return st.navigation(groups, position="sidebar", expanded=True)


def shell() -> AppState | None:
    """The demo banner and the filter bar; stores the AppState for the page. None (after saying why) when
    there is no warehouse."""
    path = store.db_path()
    if not path.exists():
        st.error(f"No warehouse at `{path}`. Load data with `python -m etl load <files>` or build the synthetic demo "
                 "with `python -m etl demo`, then reload this page.")
        st.session_state.pop(CONTEXT_KEY, None)
        return None
    demo = bool(store.read(inventory.is_demo))
    if demo:
        st.warning(DEMO_BANNER, icon=":material/warning:")
    bar = filter_bar()
    state = AppState(**{f.name: getattr(bar, f.name) for f in fields(bar)}, is_demo=demo, version=store.db_version(),
                     db=str(path))
    st.session_state[CONTEXT_KEY] = state
    return state


def app_state() -> AppState:
    """The AppState the shell computed for this run (pages call this through ui.render)."""
    state = st.session_state.get(CONTEXT_KEY)
    if state is None:
        # The very first run of a fresh server treats the `pages/` folder as an old-style multipage app
        # (Streamlit runs the page file alone, without app.py) until app.py has called st.navigation once.
        # Switch that off and run again through app.py.
        from streamlit.runtime.pages_manager import PagesManager

        if PagesManager.uses_pages_directory:
            PagesManager.uses_pages_directory = False
            st.rerun()
        # another session may have switched it off while this one's page-alone run was starting
        if not st.session_state.get("_context_rerun"):
            st.session_state["_context_rerun"] = True
            st.rerun()
        raise RuntimeError("a page ran before ui.shell(): run the dashboard through app.py")
    return state


__all__ = ["AppState", "CONTEXT_KEY", "app_state", "navigation", "shell"]

"""The app shell: navigation built from the view definitions (per role), the demo-data banner, the filter bar, the
briefing pack and the state every page reads (`app_state()`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import streamlit as st

from metrics import expected, inventory
from ui import store
from ui.filter_bar import FilterBar, filter_bar
from ui.url_state import URL_KEYS
from views.model import View

CONTEXT_KEY = "_app_state"
# the model-fit workers start this long after the first page (or at the first fit wanted): their start, a few
# CPU-seconds, stays out of the first pages people open
FIT_WORKERS_DELAY_S = 60.0
MAX_CHOICES, MAX_CHOICE_TEXT = 12, 120   # a view's own URL choices kept for the audit log (keys, characters)
DEMO_BANNER = ("**Demo data — synthetic.** Every number on this page comes from a generated warehouse, not from "
               "police records.")


@dataclass(frozen=True)
class AppState(FilterBar):
    """What the shell decided for this run: the filter bar's filters, comparison, months and notices, whether
    the warehouse is the synthetic demo, its version and path; who is using the session (`access`: an
    `access.streamlit_side.Access`, None outside the app) and the view being drawn (`view_id`)."""

    is_demo: bool = False
    version: str = ""
    db: str = ""
    access: Any = None
    view_id: str = ""
    choices: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def capabilities(self) -> Any:
        """What the session's role may see (`access.roles.Capabilities`; None outside the app)."""
        return getattr(self.access, "capabilities", None)

    def filters_record(self) -> dict[str, Any]:
        """The shared filters of this run as plain values, for the audit log: force id, districts, crime types,
        and the current and baseline periods (first and last month, ISO dates)."""
        record: dict[str, Any] = {"force_id": self.filters.force_id}
        if self.filters.districts:
            record["districts"] = list(self.filters.districts)
        if self.filters.categories:
            record["crime_types"] = list(self.filters.categories)
        if self.comparison is not None:
            record["period"] = [m.isoformat() for m in self.comparison.post]
            record["baseline"] = [m.isoformat() for m in self.comparison.pre]
        if self.choices:
            record["choices"] = {key: list(values) for key, values in self.choices}
        return record

    @property
    def force_id(self) -> str | None:
        return self.filters.force_id


def navigation(views: Sequence[View], capabilities: Any = None):
    """st.navigation over the views, grouped as they say. The first view is the default page at "/" and is
    also reachable at its own path (`/overview`), hidden from the menu. With `capabilities` (a role's
    `access.roles.Capabilities`) the menu holds only the views the role may see; the others stay reachable by
    their URL only so that `ui.guard` can refuse them and audit the attempt."""
    groups: dict[str, list] = {}
    for index, view in enumerate(views):
        allowed = capabilities is None or capabilities.may_view(view.id)
        page = st.Page(view.page, title=view.title, icon=view.icon, url_path="" if index == 0 else view.url_path,
                       default=index == 0, visibility="visible" if allowed else "hidden")
        groups.setdefault(view.group, []).append(page)
    if views:
        groups[views[0].group].append(st.Page(views[0].page, title=views[0].title, icon=views[0].icon,
                                              url_path=views[0].url_path, visibility="hidden"))
    return st.navigation(groups, position="sidebar", expanded=True)


def shell(access: Any = None, view_id: str = "") -> AppState | None:
    """The demo banner, the filter bar and (for a role that has it) the briefing pack; stores the AppState for
    the page. None (after saying why) when there is no warehouse."""
    path = store.db_path()
    if not path.exists():
        st.error(f"No warehouse at `{path}`. Load data with `python -m etl load <files>` or build the synthetic demo "
                 "with `python -m etl demo`, then reload this page.")
        st.session_state.pop(CONTEXT_KEY, None)
        return None
    expected.warm_fit_pool(delay=FIT_WORKERS_DELAY_S)  # the model-fit workers, once per process, in the background
    demo = bool(store.read(inventory.is_demo))
    if demo:
        st.warning(DEMO_BANNER, icon=":material/warning:")
    bar = filter_bar()
    state = AppState(**{f.name: getattr(bar, f.name) for f in fields(bar)}, is_demo=demo, version=store.db_version(),
                     db=str(path), access=access, view_id=view_id, choices=view_choices())
    st.session_state[CONTEXT_KEY] = state
    if state.capabilities is None or state.capabilities.briefing_pack:
        from ui.downloads import pack_downloads

        pack_downloads(state)
    return state


def view_choices() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The link's parameters other than the shared filters (a view's own choices, e.g. `measure`, `week`), as the
    link gives them, cut to MAX_CHOICES keys of MAX_CHOICE_TEXT characters: what the audit log records of them."""
    keys = sorted(k for k in st.query_params.keys() if k not in URL_KEYS)[:MAX_CHOICES]
    return tuple((key[:MAX_CHOICE_TEXT], tuple(v[:MAX_CHOICE_TEXT] for v in st.query_params.get_all(key)[:MAX_CHOICES]))
                 for key in keys)


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


__all__ = ["AppState", "CONTEXT_KEY", "app_state", "navigation", "shell", "view_choices"]

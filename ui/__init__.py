"""The Streamlit side of the dashboard, split by concern:

- `ui.store`: the read-only warehouse connection and `read(function, *args)`, metrics calls cached per
  warehouse version;
- `ui.url_state`: the link's query parameters -> filter state and notices (pure, no Streamlit);
- `ui.filter_bar`: the shared filters in the sidebar, bound to the URL;
- `ui.shell`: navigation from the view definitions, the demo banner, the state pages read;
- `ui.widgets`: the views' own choices (bound to the URL) and progress bars;
- `ui.downloads`: download buttons, every file built only when clicked;
- `ui.render`: draws a view definition (`views/`) on screen.

app.py: `page = ui.navigation(views.VIEWS)`, `ui.shell()`, `page.run()`; a page: `ui.render(views.<id>.VIEW)`.
"""

from __future__ import annotations

from ui.render import render
from ui.shell import CONTEXT_KEY, AppState, app_state, navigation, shell
from ui.store import cursor, db_path, db_version, read


def available_views() -> list:
    """The views in navigation order (`views.VIEWS`)."""
    import views

    return list(views.VIEWS)


__all__ = [
    "AppState", "CONTEXT_KEY", "app_state", "available_views", "cursor", "db_path", "db_version", "navigation",
    "read", "render", "shell",
]

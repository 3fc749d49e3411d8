"""Overview: the view defined in views/overview.py, drawn by ui.render."""

import ui
from views import overview

ui.render(overview.VIEW)

"""7 · Roads: the view defined in views/roads.py, drawn by ui.render."""

import ui
from views import roads

ui.render(roads.VIEW)

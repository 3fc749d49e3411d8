"""6 · Children and vulnerable people: the view defined in views/children.py, drawn by ui.render."""

import ui
from views import children

ui.render(children.VIEW)

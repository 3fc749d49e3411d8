"""Data: the view defined in views/data.py, drawn by ui.render."""

import ui
from views import data

ui.render(data.VIEW)

"""Weekly figures: the view defined in views/weekly.py, drawn by ui.render (printable: app.py's style hides the
sidebar and toolbars on paper)."""

import ui
from views import weekly

ui.render(weekly.VIEW)

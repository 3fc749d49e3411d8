"""Audit log: the view defined in views/audit.py, drawn by ui.render (analysts only: app.py's navigation and
ui.guard refuse it to other roles)."""

import ui
from views import audit

ui.render(audit.VIEW)

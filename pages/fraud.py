"""Fraud: the view defined in views/fraud.py, drawn by ui.render."""

import ui
from views import fraud

ui.render(fraud.VIEW)

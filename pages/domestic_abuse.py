"""3 · Domestic abuse: the view defined in views/domestic_abuse.py, drawn by ui.render."""

import ui
from views import domestic_abuse

ui.render(domestic_abuse.VIEW)

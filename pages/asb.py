"""2 · Anti-social behaviour: the view defined in views/asb.py, drawn by ui.render."""

import ui
from views import asb

ui.render(asb.VIEW)

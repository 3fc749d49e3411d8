"""1 · Local policing: the view defined in views/local_policing.py, drawn by ui.render."""

import ui
from views import local_policing

ui.render(local_policing.VIEW)

"""5 · Gangs and organised crime: the view defined in views/gangs.py, drawn by ui.render."""

import ui
from views import gangs

ui.render(gangs.VIEW)

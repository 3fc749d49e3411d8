"""4 · Serious violence: the view defined in views/serious_violence.py, drawn by ui.render."""

import ui
from views import serious_violence

ui.render(serious_violence.VIEW)

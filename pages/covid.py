"""COVID-19 impact: the view defined in views/covid.py, drawn by ui.render."""

import ui
from views import covid

ui.render(covid.VIEW)

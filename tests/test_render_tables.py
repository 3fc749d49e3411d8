"""ui.render.table_html: a static table is one escaped HTML element — data cells are text, never markup."""

from __future__ import annotations

import pandas as pd

from briefing.export_spec import Column, ExportNotes
from tests.conftest import static_tables
from ui.render import table_html
from views.model import Table

HOSTILE = ['<script>alert(1)</script>', '<img src=x onerror="alert(2)">', '[Sign in](https://evil.example)',
           '**bold** & "quoted"']


class _Html:
    """What AppTest's Html element offers the test helper: the body passed to st.html."""

    def __init__(self, value: str):
        self.value = value


class _Page:
    def __init__(self, *bodies: str):
        self.html = [_Html(body) for body in bodies]


def _table(highlight: bool = False) -> Table:
    data = pd.DataFrame({"name": HOSTILE, "count": [1200, 5, 0, 31], "flag": [True, False, True, False]})
    return Table("hostile-<key>", data, (Column("name", "Name <b>", None), Column("count", "Count", 0)),
                 ExportNotes(title="t", source="s"), highlight="flag" if highlight else None)


def test_cells_and_labels_are_escaped_text_not_markup():
    body = table_html(_table().shown(), _table())
    assert "<script>" not in body and "<img" not in body and "<b>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in body
    (shown,) = static_tables(_Page(body))
    assert shown.key == "hostile-<key>"
    assert list(shown.value.columns) == ["Name <b>", "Count"]
    assert shown.value.to_dict("list") == {"Name <b>": HOSTILE, "Count": ["1,200", "5", "0", "31"]}


def test_highlighted_rows_and_phone_cards():
    table = _table(highlight=True)
    body = table_html(table.shown(), table)
    assert body.count('<tr class="marked">') == 2 and body.count('<p class="marked">') == 2
    cards = body[body.index('<div class="cpm-cards">'):]
    assert cards.count("<p") == 4
    assert "<strong>&lt;script&gt;alert(1)&lt;/script&gt; · 1,200</strong>" in cards
    plain = table_html(_table().shown(), _table())
    assert "marked" not in plain


def test_a_phone_card_leaves_out_empty_cells_but_keeps_dashes():
    data = pd.DataFrame({"series": ["Burglary", "Robbery"], "observed": [10, None], "note": ["", "no model"]})
    table = Table("notes", data, (Column("series", "Series", None), Column("observed", "Observed", 0),
                                  Column("note", "Note", None)), ExportNotes(title="t", source="s"))
    body = table_html(table.shown(), table)
    cards = body[body.index('<div class="cpm-cards">'):]
    assert "<strong>Burglary · 10</strong><br></p>" in cards  # the empty note is left out of the card
    assert "Note: no model" in cards
    assert static_tables(_Page(body))[0].value.to_dict("list") == {"Series": ["Burglary", "Robbery"],
                                                                   "Observed": ["10", "—"], "Note": ["", "no model"]}

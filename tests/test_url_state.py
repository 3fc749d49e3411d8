"""The link's query parameters -> filter state and notices (ui.url_state, pure), and text that stays literal in
markdown (views.text.md_literal): the notices render URL values as typed, never as links, images or HTML."""

from __future__ import annotations

import re
from datetime import date

import pytest

from ui.url_state import FilterOptions, check_choice, month_label, read_filter_params
from views.text import code_literal, md_literal, quoted

FORCES = {"essex": "Essex Police", "kent": "Kent Police"}
MONTHS = tuple(date(2018, m, 1) for m in range(10, 13)) + (date(2019, 1, 1), date(2019, 2, 1))
ESSEX = FilterOptions(("Basildon", "Harlow"), ("Burglary", "Robbery"), MONTHS)
KENT = FilterOptions(("Ashford", "Dover"), ("Burglary",), MONTHS[:2])


def options_for(force_id):
    return {"essex": ESSEX, "kent": KENT}.get(force_id, FilterOptions())


def read(**params):
    return read_filter_params({k: v if isinstance(v, list) else [v] for k, v in params.items()}, FORCES, "essex",
                              options_for)


def test_no_parameters_is_the_default_state():
    state, notices = read()
    assert (state.force_id, state.districts, state.crime_types, state.preset) == ("essex", (), (), "latest12")
    assert notices == []


def test_valid_values_are_kept_in_the_links_order():
    state, notices = read(force="Kent Police", district=["Dover", "Ashford", "Dover"], crime_type="Burglary",
                          compare="Custom periods", pre=["Oct 2018", "Oct 2018"], post=["Nov 2018", "Nov 2018"])
    assert state.force_id == "kent" and state.districts == ("Dover", "Ashford") and state.crime_types == ("Burglary",)
    assert state.preset == "custom"
    assert state.pre == (date(2018, 10, 1), date(2018, 10, 1)) and state.post == (date(2018, 11, 1), date(2018, 11, 1))
    assert notices == []


def test_each_invalid_value_gets_a_notice_and_falls_back():
    state, notices = read(force="Atlantis", district=["Harlow", "Nowhere"], crime_type="Piracy", compare="bogus")
    assert state.force_id == "essex" and state.districts == ("Harlow",) and state.crime_types == ()
    assert state.preset == "latest12"
    text = " ".join(notices)
    assert len(notices) == 4
    assert "“`Atlantis`”" in text and "which is not loaded: showing Essex Police instead" in text
    assert "“`Nowhere`”" in text and "“`Piracy`”" in text and "Unknown comparison “`bogus`”" in text


def test_districts_are_checked_against_the_forces_own():
    # Harlow is an Essex district: with the link's force Kent it is not one of the options
    state, notices = read(force="Kent Police", district="Harlow")
    assert state.districts == () and "not in the data for Kent Police" in notices[0]


def test_custom_periods_must_be_two_loaded_months_in_order():
    state, notices = read(compare="Custom periods", pre=["Feb 2019", "Oct 2018"], post="Jan 2019")
    assert state.pre is None and state.post is None and len(notices) == 2
    assert "not two loaded months in order" in notices[0] and "Oct 2018–Feb 2019" in notices[0]
    ignored, none = read(pre=["bogus"])  # periods only matter for custom comparisons
    assert ignored.pre is None and none == []


def test_a_views_own_choice():
    labels = {"crime": "Crime", "asb": "Anti-social behaviour"}
    chosen = check_choice(["Anti-social behaviour"], ["crime", "asb"], labels.get, "Measure", "measure", "crime")
    assert chosen == ("asb", None)
    assert check_choice([], ["crime", "asb"], labels.get, "Measure", "measure", "crime") == ("crime", None)
    value, notice = check_choice(["x", "Crime"], ["crime", "asb"], labels.get, "Measure", "measure", "crime")
    assert value == "crime" and notice is None  # the last value, as a bound widget reads it
    value, notice = check_choice(["bogus"], ["crime", "asb"], labels.get, "Measure", "measure", "crime")
    assert value == "crime" and notice == "“`bogus`” is not a valid Measure (link parameter `measure`): showing “Crime”."


def test_month_label_is_what_the_sliders_show():
    assert month_label(date(2019, 1, 1)) == "Jan 2019"


# --- URL values never become markdown ------------------------------------------------------------------
ATTACKS = [
    "[Session expired - sign in again](https://evil.example/login)",
    "![x](https://evil.example/pixel.png)",
    "<img src=https://evil.example/p.png>",
    "https://evil.example/login",
    "www.evil.example",
    ":red[alarm] :material/warning:",
    "**bold** _it_ `code` # heading",
    "line one\nline two\r\n\tthree",
    "$x^2$ \\[escaped\\]",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_md_literal_escapes_every_markdown_construct(attack):
    escaped = md_literal(attack, None)
    # every ASCII punctuation character is backslash-escaped, so nothing can open a link, image, tag or directive
    unescaped = re.sub(r"\\[!-/:-@\[-`{-~]", "", escaped)
    assert not any(c in unescaped for c in "[]()<>!:*_`#$\\"), (attack, escaped)
    assert "\n" not in escaped and "\r" not in escaped and "\t" not in escaped
    # bare URLs and www. names are broken (Streamlit's markdown links them even when escaped)
    assert not re.search(r"https?\\?://|www\\?\.", escaped.replace("\\:", ":").replace("\\/", "/"))
    # unescaping and removing the zero-width spaces gives the text back (control characters read as spaces)
    assert re.sub(r"\\(.)", r"\1", escaped).replace("\u200b", "") == re.sub(r"[\n\r\t]", " ", attack)


@pytest.mark.parametrize("value, span", [
    ("[a](https://x.y/z)", "`[a](https://x.y/z)`"),
    ("a`b", "``a`b``"),
    ("`start", "`` `start ``"),
    ("``two``", "``` ``two`` ```"),
    ("line\nbreak", "`line break`"),
    ("", ""),
])
def test_code_literal_shows_any_value_as_typed(value, span):
    assert code_literal(value, None) == span


def test_quoted_values_are_cut_short():
    long = "x" * 500
    assert quoted(long) == "“`" + "x" * 80 + "…`”"
    assert quoted("[a](b)") == "“`[a](b)`”"


def test_notices_quote_url_values_as_code():
    _, notices = read(force=ATTACKS[0], district=ATTACKS[1], compare=ATTACKS[2])
    assert len(notices) == 3
    assert "“`[Session expired - sign in again](https://evil.example/login)`”" in notices[0]
    assert "“`![x](https://evil.example/pixel.png)`”" in notices[1]
    assert "“`<img src=https://evil.example/p.png>`”" in notices[2]
    for notice in notices:  # outside the code spans: no URL at all
        assert "https://" not in re.sub(r"`[^`]*`", "", notice)


def test_the_filter_bar_offers_every_month_loaded():
    """The months a custom period can start and end on: every month from the first loaded to the last, each once,
    across a year's end (written out by hand here)."""
    from ui.filter_bar import _months

    assert _months(date(2019, 11, 15), date(2020, 2, 3)) == (date(2019, 11, 1), date(2019, 12, 1), date(2020, 1, 1),
                                                             date(2020, 2, 1))
    assert _months(date(2020, 5, 1), date(2020, 5, 31)) == (date(2020, 5, 1),)
    assert len(_months(date(2017, 1, 1), date(2021, 12, 1))) == 60
    assert _months(None, date(2020, 1, 1)) == () and _months(date(2021, 1, 1), date(2020, 1, 1)) == ()

"""The briefing pack draws the views' own definitions: on the demo warehouse, read back with python-pptx (and
pypdf): slides, titles, pictures with alt text, figures against plain SQL and scipy, provenance; the same sections
as the views on screen for every priority (AppTest); and the command line."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from scipy import stats
from streamlit.testing.v1 import AppTest

import views
from etl.warehouse import connect_read_only, load_fingerprint
from metrics.filters import Filters
from tests.conftest import PROJECT_ROOT, every_tab, run_cli

PACK_TITLE = "Police, Fire and Crime Panel briefing"
POST = (date(2021, 1, 1), date(2021, 12, 1))
PRE = (date(2020, 1, 1), date(2020, 12, 1))
PACK_PRIORITIES = ("asb", "roads")  # the rendered pack: two priorities keep the module fast


@pytest.fixture(scope="module")
def demo_pack(demo_db, tmp_path_factory):
    from briefing.pack import build_pack

    out = tmp_path_factory.mktemp("pack") / "briefing.pptx"
    con = connect_read_only(demo_db)
    try:
        path = build_pack(con, (PRE, POST), Filters(force_id="essex"), out, pdf=True, priority_ids=PACK_PRIORITIES)
        fingerprint = load_fingerprint(con)
    finally:
        con.close()
    return path, Presentation(path), fingerprint


def _title(slide) -> str:
    return next(s.text_frame.text for s in slide.shapes if s.name == "Title")


def _slide_text(slide) -> str:
    parts = [s.text_frame.text for s in slide.shapes if s.has_text_frame]
    for shape in slide.shapes:
        if shape.has_table:
            parts += [cell.text for row in shape.table.rows for cell in row.cells]
    return "\n".join(parts)


def _scalar(con, sql: str, params: list) -> float:
    return con.execute(sql, params).fetchall()[0][0]


POST_DAYS, PRE_DAYS = 365, 366  # 2021; 2020 is a leap year


def _exact_interval(post: int, pre: int) -> tuple[float, float]:
    """95% interval of the rate ratio per day (2021 against 2020) by the conditional binomial (Clopper–Pearson)
    method: the odds of a row falling in 2021, times PRE_DAYS / POST_DAYS."""
    lo_pi, hi_pi = stats.beta.ppf(0.025, post, pre + 1), stats.beta.ppf(0.975, post + 1, pre)
    return lo_pi / (1 - lo_pi) * PRE_DAYS / POST_DAYS, hi_pi / (1 - hi_pi) * PRE_DAYS / POST_DAYS


def test_slides_titles_pictures_and_alt_text(demo_pack):
    path, deck, _ = demo_pack
    titles = [_title(s) for s in deck.slides]
    assert titles[0] == PACK_TITLE and titles[1] == "Scorecard: every measure of the plan"
    assert titles[-1] == "About this pack"
    first_asb = titles.index("2. Cracking down on anti-social behaviour")
    first_roads = titles.index("7. Improving safety on our roads")
    assert 2 < first_asb < first_roads
    assert all(t.startswith("2. ") for t in titles[first_asb:first_roads])
    assert all(t.startswith("7. ") for t in titles[first_roads:-1])
    assert deck.slide_width * 9 == deck.slide_height * 16  # 16:9
    with_charts = 0
    for slide in deck.slides:
        pictures = [s for s in slide.shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]
        assert len(pictures) <= 1, _title(slide)
        if not pictures:
            continue
        with_charts += 1
        blob = pictures[0].image.blob
        assert blob[:8] == b"\x89PNG\r\n\x1a\n" and pictures[0].image.size == (2560, 1440)
        alt = pictures[0]._element.nvPicPr.cNvPr.get("descr")
        assert alt and len(alt) > 60 and "Source:" in alt, _title(slide)
        assert pictures[0].left + pictures[0].width <= deck.slide_width
        footer = next(s.text_frame.text for s in slide.shapes if s.name == "Footer")
        assert footer.startswith("Source: ") and "Data as at" in footer and "DEMO DATA" in footer
        notes = slide.notes_slide.notes_text_frame.text
        assert "Caveats:" in notes and "source:" in notes
    assert with_charts >= 10 and path.stat().st_size > 200_000


def test_title_slide_periods_and_as_at_dates(demo_pack, demo_db):
    _, deck, _ = demo_pack
    text = _slide_text(deck.slides[0])
    assert "Demo data — synthetic" in text
    assert "Current period Jan 2021–Dec 2021 compared with Jan 2020–Dec 2020" in text
    con = connect_read_only(demo_db)
    try:
        last_street = _scalar(con, "select max(month) from crimes where force_id = 'essex'", [])
        last_fraud = _scalar(con, "select max(month) from fraud where force_id = 'essex'", [])
    finally:
        con.close()
    assert f"data.police.uk street-level crime: {last_street:%B %Y}" in text
    assert f"Action Fraud (NFIB) reports by force area: {last_fraud:%B %Y}" in text


def test_key_figures_against_sql(demo_pack, demo_db):
    _, deck, _ = demo_pack
    slides = {_title(s): _slide_text(s) for s in deck.slides}
    con = connect_read_only(demo_db)
    try:
        asb = [int(_scalar(con, "select count(*) from crimes where force_id = 'essex' and crime_type = "
                                "'Anti-social behaviour' and month between ? and ?", list(p))) for p in (POST, PRE)]
        ksi = [int(_scalar(con, """select count(*) from casualties c join collisions k on k.collision_index = c.collision_index
                                    where c.force_id = 'essex' and c.severity in ('Fatal', 'Serious')
                                      and k.month between ? and ?""", list(p))) for p in (POST, PRE)]
    finally:
        con.close()
    post, pre = asb
    text = slides["2. Cracking down on anti-social behaviour"]
    match = re.search(re.escape(f"ASB incidents, Jan 2021–Dec 2021: {post:,} (") + r"([+-]\d+\.\d)% monthly rate vs "
                      r"Jan 2020–Dec 2020\)\n95% interval of the change: ([+-]\d+\.\d)% to ([+-]\d+\.\d)%", text)
    assert match, text
    pct, lo, hi = (float(g) for g in match.groups())
    ratio_lo, ratio_hi = _exact_interval(post, pre)
    assert pct == pytest.approx(round((post / POST_DAYS / (pre / PRE_DAYS) - 1) * 100, 1), abs=0.051)
    assert (lo, hi) == pytest.approx((round((ratio_lo - 1) * 100, 1), round((ratio_hi - 1) * 100, 1)), abs=0.051)
    roads = next(t for title, t in slides.items() if title.startswith("7. Improving"))
    per_day = ksi[0] / POST_DAYS / (ksi[1] / PRE_DAYS)
    assert f"KSI casualties: {ksi[0]:,} ({(per_day - 1) * 100:+.1f}% on previous 12)" in roads


def test_scorecard_slide_lists_every_measure(demo_pack, demo_db):
    _, deck, _ = demo_pack
    table = next(s.table for s in deck.slides[1].shapes if s.has_table)
    header = [c.text for c in table.rows[0].cells]
    assert header == ["Priority", "Measure", "Current period", "Change in monthly rate", "95% interval",
                      "Significance (BH)", "Expected"]
    rows = {r.cells[1].text: [c.text for c in r.cells] for r in list(table.rows)[1:]}
    con = connect_read_only(demo_db)
    try:
        fraud = int(_scalar(con, "select sum(reports) from fraud where force_id = 'essex' and month between ? and ?",
                            list(POST)))
    finally:
        con.close()
    assert rows["Fraud reports (Action Fraud)"][2] == f"{fraud:,}"
    assert len(rows) >= 14


def test_provenance_in_properties_about_slide_sidecar_and_pdf(demo_pack):
    from pypdf import PdfReader

    path, deck, fingerprint = demo_pack
    props = deck.core_properties
    assert f"load_fingerprint={fingerprint}" in props.keywords
    assert f"load_fingerprint={fingerprint}" in props.comments and "period=2021-01..2021-12" in props.comments
    about = _slide_text(deck.slides[len(deck.slides) - 1])
    assert fingerprint in about and "Version" in about and '"force_id": "essex"' in about
    assert "--period 2021-01..2021-12 --compare 2020-01..2020-12 --force essex" in about
    sidecar = json.loads(path.with_name(path.name + ".provenance.json").read_text())
    assert sidecar["load_fingerprint"] == fingerprint and sidecar["filters"]["force_id"] == "essex"
    assert sidecar["period"] == ["2021-01-01", "2021-12-01"] and sidecar["comparison"] == ["2020-01-01", "2020-12-01"]
    pdf_path = path.with_suffix(".pdf")
    reader = PdfReader(pdf_path)
    assert pdf_path.read_bytes()[:5] == b"%PDF-" and len(reader.pages) == len(deck.slides)
    assert json.loads(reader.metadata["/Provenance"])["load_fingerprint"] == fingerprint
    assert "Cracking down on anti-social behaviour" in "".join(p.extract_text() for p in reader.pages[3:6])


def test_pack_and_views_show_the_same_sections(demo_db, monkeypatch):
    """For every plan priority, the slides are the view's sections marked for the pack, and the view on screen
    shows the same sections in the same order (one definition drawn twice)."""
    from briefing.pack import pack_content

    con = connect_read_only(demo_db)
    try:
        content = pack_content(con, "latest12", Filters(force_id="essex"))
    finally:
        con.close()
    monkeypatch.setenv("CRIME_MONITOR_DB", str(demo_db))
    for view in views.PRIORITY_VIEWS:
        at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=300)
        at.switch_page(view.page)
        at.run()
        assert not at.exception, view.id
        on_screen = [re.sub(r"\\(.)", r"\1", s.value) for s in every_tab(at).subheader]  # escapes removed
        in_pack = content.sections[view.id]
        assert [title for title, _ in in_pack] == on_screen, view.id
        slides = [s.section for s in content.slides if s.view_id == view.id]
        assert slides == [title for title, shown in in_pack if shown] and slides, view.id


def test_cli_builds_a_pack_and_rejects_bad_periods(essex_db, tmp_path):
    out = tmp_path / "essex.pptx"
    result = run_cli("briefing", "--db", str(essex_db), "--period", "2019-02..2019-02", "--compare",
                     "2019-01..2019-01", "--priority", "serious-violence", "--out", str(out))
    assert "wrote" in result.stdout
    deck = Presentation(out)
    titles = [_title(s) for s in deck.slides]
    assert titles[:2] == [PACK_TITLE, "Scorecard: every measure of the plan"] and titles[-1] == "About this pack"
    violence = titles.index("4. Reversing the trend in serious violence")
    assert all(t.startswith("4. ") for t in titles[violence:-1]) and len(titles[violence:-1]) >= 3
    con = connect_read_only(essex_db)
    try:
        feb = int(_scalar(con, """select count(*) from crimes where force_id = 'essex' and month = date '2019-02-01'
                                 and crime_type in ('Violence and sexual offences', 'Robbery', 'Possession of weapons')""", []))
    finally:
        con.close()
    assert f"Violence and sexual offences, robbery and weapons, Feb 2019: {feb:,}" in _slide_text(deck.slides[violence])
    bad = run_cli("briefing", "--db", str(essex_db), "--period", "2019-13..2019-14", "--out", str(out), check=False)
    assert bad.returncode == 2 and "--period '2019-13..2019-14'" in bad.stderr
    outside = run_cli("briefing", "--db", str(essex_db), "--period", "2020-01..2020-02", "--out", str(out), check=False)
    assert outside.returncode == 2 and "not both within the loaded months" in outside.stderr
    missing = run_cli("briefing", "--db", str(tmp_path / "none.duckdb"), "--out", str(out), check=False)
    assert missing.returncode == 2 and "no warehouse" in missing.stderr


def test_roads_slide_carries_the_ksi_recording_caveat_and_the_casualty_intervals(demo_pack):
    _, deck, _ = demo_pack
    roads = next(_slide_text(s) for s in deck.slides if _title(s).startswith("7. Improving"))
    assert "CRASH" in roads and "recording change" in roads
    assert "quasi-Poisson for casualties" in roads or "quasi-Poisson for casualties" in " ".join(
        s.notes_slide.notes_text_frame.text for s in deck.slides if _title(s).startswith("7. Improving"))


def test_title_slide_warns_when_the_periods_cover_different_months(demo_db):
    from datetime import datetime, timezone

    from briefing.pack import title_slide
    from metrics.plan import Comparison

    con = connect_read_only(demo_db)
    try:
        different = title_slide(con, Comparison("custom", (date(2017, 1, 1), date(2017, 6, 1)),
                                                (date(2017, 7, 1), date(2017, 12, 1))), Filters(force_id="essex"),
                                "Essex Police", True, datetime.now(timezone.utc), {}, "")
        same = title_slide(con, Comparison("custom", PRE, POST), Filters(force_id="essex"), "Essex Police", True,
                           datetime.now(timezone.utc), {}, "")
    finally:
        con.close()
    warned = [text for tone, text in different.lines if tone == "warn" and "different months of the year" in text]
    assert warned and "Jan–Jun against Jul–Dec" in warned[0]
    assert not any("different months of the year" in text for _, text in same.lines)

"""The briefing pack on the demo warehouse, read back with python-pptx (and pypdf): slides, titles,
pictures with alt text, figures against plain SQL and scipy, provenance; and the command line."""

from __future__ import annotations

import json
import re
import struct
from datetime import date

import pytest
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from scipy import stats

from etl.warehouse import connect_read_only, load_fingerprint
from metrics.filters import Filters
from tests.conftest import run_cli

PRIORITY_TITLES = [  # the plan's seven priorities (PRODUCT.md)
    "1. More local, visible and accessible policing",
    "2. Cracking down on anti-social behaviour",
    "3. Breaking the cycle of domestic abuse",
    "4. Reversing the trend in serious violence",
    "5. Tackling gangs and organised crime",
    "6. Protecting children and vulnerable people",
    "7. Improving safety on our roads",
]
POST = (date(2021, 1, 1), date(2021, 12, 1))
PRE = (date(2020, 1, 1), date(2020, 12, 1))


@pytest.fixture(scope="module")
def demo_pack(demo_db, tmp_path_factory):
    from briefing.pack import build_pack

    out = tmp_path_factory.mktemp("pack") / "briefing.pptx"
    con = connect_read_only(demo_db)
    try:
        path = build_pack(con, (PRE, POST), Filters(force_id="essex"), out, pdf=True)
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


def _exact_interval(post: int, pre: int, post_months: int, pre_months: int) -> tuple[float, float]:
    """Rate-ratio 95% interval by the conditional binomial (Clopper–Pearson) method, from scipy's beta."""
    n = post + pre
    lo_pi = stats.beta.ppf(0.025, post, n - post + 1) if post > 0 else 0.0
    hi_pi = stats.beta.ppf(0.975, post + 1, n - post) if post < n else 1.0
    to_ratio = lambda pi: (pi / (1 - pi)) * (pre_months / post_months)  # noqa: E731
    return to_ratio(lo_pi), to_ratio(hi_pi)


def test_slides_titles_pictures_and_alt_text(demo_pack):
    path, deck, _ = demo_pack
    titles = [_title(s) for s in deck.slides]
    assert len(deck.slides) == 10
    assert titles[0] == "Police, Fire and Crime Panel briefing"
    assert titles[1].startswith("Scorecard")
    assert titles[2:9] == PRIORITY_TITLES
    assert titles[9] == "About this pack"
    assert deck.slide_width * 9 == deck.slide_height * 16  # 16:9
    for slide in list(deck.slides)[2:9]:
        pictures = [s for s in slide.shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]
        assert len(pictures) == 1, _title(slide)
        picture = pictures[0]
        blob = picture.image.blob
        assert blob[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", blob[16:24]) == (2560, 1440)
        alt = picture._element.nvPicPr.cNvPr.get("descr")
        assert alt and len(alt) > 60 and "Source:" in alt and "chart" in alt.lower()
        # the picture sits inside the slide
        assert picture.left + picture.width <= deck.slide_width and picture.top + picture.height <= deck.slide_height
        footer = next(s.text_frame.text for s in slide.shapes if s.name == "Footer")
        assert footer.startswith("Source: ") and "Data as at" in footer and "DEMO DATA" in footer
        notes = slide.notes_slide.notes_text_frame.text
        assert "Caveats:" in notes and "source:" in notes
    assert path.stat().st_size > 200_000


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
    slides = {(_title(s)): _slide_text(s) for s in deck.slides}
    con = connect_read_only(demo_db)
    try:
        def crimes(types_sql: str, period) -> int:
            return int(_scalar(con, f"select count(*) from crimes where force_id = 'essex' and {types_sql} "
                                    "and month between ? and ?", list(period)))

        def ksi(period) -> int:
            return int(_scalar(con, """
                select count(*) from casualties c join collisions k on k.collision_index = c.collision_index
                where c.force_id = 'essex' and c.severity in ('Fatal', 'Serious') and k.month between ? and ?""",
                list(period)))

        cases = [
            (PRIORITY_TITLES[0], "crimes", crimes("crime_type <> 'Anti-social behaviour'", POST),
             crimes("crime_type <> 'Anti-social behaviour'", PRE)),
            (PRIORITY_TITLES[1], "incidents", crimes("crime_type = 'Anti-social behaviour'", POST),
             crimes("crime_type = 'Anti-social behaviour'", PRE)),
            (PRIORITY_TITLES[4], "crimes", crimes("crime_type = 'Drugs'", POST), crimes("crime_type = 'Drugs'", PRE)),
            (PRIORITY_TITLES[6], "casualties", ksi(POST), ksi(PRE)),
        ]
    finally:
        con.close()
    for title, noun, post, pre in cases:
        text = slides[title]
        assert post > 100 and pre > 100
        assert f"{post:,} {noun} in Jan 2021–Dec 2021 ({post / 12:,.1f} per month)" in text, title
        match = re.search(re.escape(f"Change against Jan 2020–Dec 2020 ({pre:,}, {pre / 12:,.1f} per month): ")
                          + r"([+-]\d+\.\d)% \(95% CI ([+-]\d+\.\d)% to ([+-]\d+\.\d)%\)", text)
        assert match, (title, text)
        pct, lo, hi = (float(g) for g in match.groups())
        # the change is per day of exposure: 2021 has 365 days, 2020 has 366
        assert pct == pytest.approx(round(((post / 365) / (pre / 366) - 1) * 100, 1), abs=0.051)
        ratio_lo, ratio_hi = _exact_interval(post, pre, 365, 366)
        assert lo == pytest.approx(round((ratio_lo - 1) * 100, 1), abs=0.051)
        assert hi == pytest.approx(round((ratio_hi - 1) * 100, 1), abs=0.051)


def test_scorecard_slide_lists_every_measure(demo_pack, demo_db):
    _, deck, _ = demo_pack
    table = next(s.table for s in deck.slides[1].shapes if s.has_table)
    header = [c.text for c in table.rows[0].cells]
    assert header[:4] == ["Priority", "Measure", "Jan 2021–Dec 2021", "Jan 2020–Dec 2020"]
    rows = {r.cells[1].text: [c.text for c in r.cells] for r in list(table.rows)[1:]}
    con = connect_read_only(demo_db)
    try:
        fraud_post = int(_scalar(con, "select sum(reports) from fraud where force_id = 'essex' and month between ? and ?",
                                 list(POST)))
    finally:
        con.close()
    assert rows["Fraud reports (Action Fraud)"][2] == f"{fraud_post:,}"
    assert len(rows) >= 14


def test_provenance_in_properties_about_slide_sidecar_and_pdf(demo_pack):
    from pypdf import PdfReader

    path, deck, fingerprint = demo_pack
    props = deck.core_properties
    assert f"load_fingerprint={fingerprint}" in props.keywords
    assert f"load_fingerprint={fingerprint}" in props.comments and "period=2021-01..2021-12" in props.comments
    about = _slide_text(deck.slides[9])
    assert fingerprint in about and "Version" in about and '"force_id": "essex"' in about
    assert "--period 2021-01..2021-12 --compare 2020-01..2020-12 --force essex" in about
    sidecar = json.loads(path.with_name(path.name + ".provenance.json").read_text())
    assert sidecar["load_fingerprint"] == fingerprint
    assert sidecar["filters"]["force_id"] == "essex"
    assert sidecar["period"] == ["2021-01-01", "2021-12-01"] and sidecar["comparison"] == ["2020-01-01", "2020-12-01"]
    pdf_path = path.with_suffix(".pdf")
    reader = PdfReader(pdf_path)
    assert pdf_path.read_bytes()[:5] == b"%PDF-"
    assert len(reader.pages) == len(deck.slides)
    assert json.loads(reader.metadata["/Provenance"])["load_fingerprint"] == fingerprint
    page_text = reader.pages[2].extract_text()
    assert "More local, visible and accessible policing" in page_text


def test_cli_builds_a_pack_and_rejects_bad_periods(essex_db, tmp_path):
    out = tmp_path / "essex.pptx"
    result = run_cli("briefing", "--db", str(essex_db), "--period", "2019-02..2019-02", "--compare",
                     "2019-01..2019-01", "--priority", "serious-violence", "--out", str(out))
    assert "wrote" in result.stdout
    deck = Presentation(out)
    assert [_title(s) for s in deck.slides] == ["Police, Fire and Crime Panel briefing",
                                               "Scorecard: every measure of the plan", PRIORITY_TITLES[3],
                                               "About this pack"]
    con = connect_read_only(essex_db)
    try:
        feb = int(_scalar(con, """select count(*) from crimes where force_id = 'essex' and month = date '2019-02-01'
                                 and crime_type in ('Violence and sexual offences', 'Robbery', 'Possession of weapons')""", []))
    finally:
        con.close()
    assert f"{feb:,} crimes in Feb 2019" in _slide_text(deck.slides[2])
    bad = run_cli("briefing", "--db", str(essex_db), "--period", "2019-13..2019-14", "--out", str(out), check=False)
    assert bad.returncode == 2 and "--period '2019-13..2019-14'" in bad.stderr
    outside = run_cli("briefing", "--db", str(essex_db), "--period", "2020-01..2020-02", "--out", str(out), check=False)
    assert outside.returncode == 2 and "not both within the loaded months" in outside.stderr
    missing = run_cli("briefing", "--db", str(tmp_path / "none.duckdb"), "--out", str(out), check=False)
    assert missing.returncode == 2 and "no warehouse" in missing.stderr

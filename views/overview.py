"""Overview: the plan scorecard — one row per priority measure with its latest month, trend, change against the
comparison period (95% interval, Benjamini–Hochberg significance), expected-vs-observed flag and as-at month
— the change of every measure as a forest plot, the measures not loaded, and how fresh each source is."""

from __future__ import annotations

import pandas as pd

import charts
from charts import formatting as fmt
from metrics import inventory, plan, registry
from views.blocks import load_hint
from views.model import Chart, Column, Section, Table, Text, View, ViewContext, in_tab
from views.text import md_literal

FLAG_TEXT = {"above": "▲ above expected", "below": "▼ below expected", "within": "within expected"}
SCORECARD_COLUMNS = (
    Column("priority", "Priority", None), Column("measure", "Measure", None),
    Column("latest_value", "Latest month", 0), Column("trend", "Last 12 months", None),
    Column("post_count", "Current period", 0), Column("pct_change", "Change in monthly rate", 1, True),
    Column("interval", "95% interval", None), Column("significance", "Significance (BH)", None),
    Column("expected", "Expected", None), Column("as_at_text", "As at", None),
)
SCORECARD_EXPORT = (
    *SCORECARD_COLUMNS[:3], Column("as_at_text", "Latest month (as at)", None), Column("pre_count", "Baseline period", 0),
    Column("post_count", "Current period", 0), Column("pct_change", "Change in monthly rate", 1, True),
    Column("ci_lower_pct", "95% interval, lower (%)", 1, True), Column("ci_upper_pct", "95% interval, upper (%)", 1, True),
    Column("q_value", "q-value (Benjamini–Hochberg)", 3), Column("significance", "Significance (BH)", None),
    Column("expected_latest", "Expected (latest month)", 0), Column("expected_lower", "Expected range, lower", 0),
    Column("expected_upper", "Expected range, upper", 0), Column("expected", "Latest month against expected", None),
    Column("expected_basis", "Expected: months fitted and left out", None), Column("source", "Source", None),
)


def measure_label(label: str, is_proxy: bool) -> str:
    """A measure's label, marked when it is a public proxy."""
    return label + (" (proxy)" if is_proxy and "proxy" not in label.lower() else "")


def _significance(q_value: float, rate_ratio: float) -> str:
    """'▲ rise (q < 0.001)', '▼ fall (q = 0.011)' or 'not significant (q = 0.676)'."""
    if fmt.is_missing(q_value):
        return "not tested"
    q_text = "q < 0.001" if q_value < 0.001 else f"q = {q_value:.3f}"
    mark = fmt.significance(q_value, rate_ratio)
    word = "▲ rise" if mark.startswith("▲") else "▼ fall" if mark.startswith("▼") else "not significant"
    return f"{word} ({q_text})"


def _priority_text(priority_id: str) -> str:
    """The priority's number ('4'), or its title for a view outside the seven ('Fraud')."""
    prio = registry.priority(priority_id)
    return str(prio.number) if prio.number else prio.short_title


def _expected_text(row: pd.Series) -> str:
    if not row["available"]:
        return "not loaded"
    if isinstance(row["expected_flag"], str):
        return FLAG_TEXT.get(row["expected_flag"], row["expected_flag"])
    return "no expected range"


def scorecard_frame(card: pd.DataFrame) -> pd.DataFrame:
    """The scorecard with the text columns people read (priority label, trend, interval, significance,
    expected, as-at) beside its numbers."""
    return card.assign(
        priority=[_priority_text(plan.measure(m).priority_id) for m in card["measure_id"]],
        measure=[measure_label(label, proxy) for label, proxy in zip(card["label"], card["is_proxy"])],
        trend=[fmt.sparkline_text(list(values)[-12:]) for values in card["sparkline"]],
        interval=[fmt.pct_change(r, lo, hi)[1] for r, lo, hi in zip(card["rate_ratio"], card["ci_lower"], card["ci_upper"])],
        ci_lower_pct=(card["ci_lower"].astype(float) - 1) * 100, ci_upper_pct=(card["ci_upper"].astype(float) - 1) * 100,
        significance=[_significance(q, r) for q, r in zip(card["q_value"], card["rate_ratio"])],
        expected=[_expected_text(row) for _, row in card.iterrows()],
        as_at_text=[fmt.month(v) if ok else "not loaded" for v, ok in zip(card["as_at"], card["available"])],
    )


def expected_caption(card: pd.DataFrame) -> str:
    """How the Expected column was computed, each distinct fit basis once with how many measures it covers
    (each measure's own basis is in the CSV/XLSX)."""
    bases = [b for b in card.get("expected_basis", pd.Series(dtype=object)) if isinstance(b, str) and b]
    text = ("Expected: the latest month against a seasonal model on log counts (chosen by AICc) fitted on the "
            "months before the current period, with its 95% prediction interval.")
    if not bases:
        return text + " No expected range where fewer than 24 months of history precede the current period."
    counts = pd.Series(bases).value_counts(sort=False)
    return text + " " + " ".join(f"{basis.rstrip('.')} ({n} measure{'s' if n != 1 else ''})." for basis, n in counts.items())


def scorecard_card(ctx: ViewContext) -> pd.DataFrame:
    """Every measure's scorecard row with its expected flag (the measures' models read, or fitted together in
    one call: the progress bar says what is being done, not how far)."""
    card = ctx.read(plan.scorecard, ctx.area_filters, ctx.comparison, with_expected=False)
    available = tuple(m for m, ok in zip(card["measure_id"], card["available"]) if ok)
    ctx.progress(0.0, f"Expected values: the models of {len(available)} measures")
    flags = ctx.read(plan.expected_flags, available, ctx.area_filters, ctx.comparison)
    ctx.progress(1.0, "")
    return plan.add_expected(card, flags)


def scorecard(ctx: ViewContext) -> Section:
    """The scorecard table (the pack's scorecard slide)."""
    title = "Scorecard: every measure of the plan"
    if ctx.comparison is None:
        return Section(title, (Text("Nothing is loaded for this force yet: see the **Data** view for what to load.",
                                    "info"),))
    card = scorecard_card(ctx)
    data = scorecard_frame(card)
    notes = [row["label"] + ": " + row["note"] for _, row in card.iterrows() if row["available"] and row["note"]]
    caption = (card.attrs.get("note", "") + " " + expected_caption(card) + (" " + " ".join(notes) if notes else ""))
    table = Table("scorecard", data, SCORECARD_COLUMNS,
                  ctx.notes(f"Scorecard, {ctx.comparison.label}", "; ".join(sorted(set(card["source"]))),
                            units="counts per period; change in the rate per month (%)", period=ctx.comparison.label),
                  caption=caption, formats={"pct_change": lambda v: fmt.percent(v, 1, sign=True)},
                  export_columns=SCORECARD_EXPORT, slide_columns=("priority", "measure", "post_count", "pct_change",
                                                                  "interval", "significance", "expected"))
    return Section(title, (Text(f"**{ctx.comparison.label}** · {md_literal(ctx.area_label, None)}", "caption"), table))


def change_by_measure(ctx: ViewContext) -> Section | None:
    """The change of every tested measure as a forest plot."""
    if ctx.comparison is None:
        return None
    card = ctx.read(plan.scorecard, ctx.area_filters, ctx.comparison, with_expected=False)
    tested = card[card["q_value"].notna()]
    title = f"Change by measure, {ctx.comparison.label}"
    if tested.empty:
        return None
    source = "; ".join(sorted(set(tested["source"])))
    labels = [measure_label(plan.measure(m).chart_label, p) for m, p in zip(tested["measure_id"], tested["is_proxy"])]
    figure = charts.change_chart(tested.assign(label=labels),
                                 "label", title, source, tested["as_at"].max(), note=f"Area: {ctx.area_label}.")
    return Section(title, (Chart(figure, "overview_changes", ctx.notes(title, source, units="change in the rate per "
                                                                       "month (%)", period=ctx.comparison.label)),))


def not_loaded(ctx: ViewContext) -> Section | None:
    """Which measures need a file the warehouse does not hold yet, and how to load each."""
    missing = [m for m in registry.MEASURES if m.in_scorecard and not m.is_proxy
               and not ctx.read(plan.measure_available, m, ctx.force_filters)]
    if not missing:
        return None
    hints = tuple(load_hint(ctx, m, tuple(registry.proxies_for(m.id))) for m in missing)
    return Section("Measures not loaded", (Text("Their public proxies, where one exists, are in the scorecard, "
                                                "labelled as proxies.", "caption"), *hints), in_pack=False)


def freshness(ctx: ViewContext) -> Section:
    """How fresh each source is."""
    title = "How fresh each source is"
    sources = ctx.read(inventory.source_inventory)
    if sources.empty:
        return Section(title, (Text("Nothing has been loaded yet.", "info"),), in_pack=False)
    data = sources.assign(
        force=sources["force_id"].fillna("—"),
        months=[f"{a:%b %Y}–{b:%b %Y}" if pd.notna(a) else "reference (no months)"
                for a, b in zip(sources["first_month"], sources["last_month"])],
        gaps=[f"{int(n)} missing" if n else "none" for n in sources["missing_count"]],
        loaded_at=sources["last_loaded_at"].dt.strftime("%d %b %Y %H:%M"),
    )
    columns = (Column("source", "Source", None), Column("force", "Force", None), Column("months", "Months", None),
               Column("gaps", "Gaps", None), Column("rows_loaded", "Rows", 0),
               Column("loaded_at", "Last loaded (UTC)", None))
    table = Table("source-freshness", data, columns, ctx.notes(title, "Crime Plan Monitor load log", units="rows"))
    return Section(title, (table,), in_pack=False)


VIEW = View(
    id="overview", title="Overview", heading="Police and Crime Plan scorecard", icon=":material/dashboard:",
    group="Overview",
    intro=("Each row is a measure of the plan. **Change** compares the rate per month in the current period with the "
           "baseline; a change is marked significant only when its Benjamini–Hochberg q-value is below 0.05 across "
           "every measure tested here. **Expected** says whether the latest month is inside the range a seasonal "
           "model fitted on the months before the current period predicts."),
    sections=(scorecard, *in_tab("Change by measure", change_by_measure), not_loaded,
              *in_tab("Data as at", freshness)),
)

"""Fraud: reports to Action Fraud (NFIB) by residents of the force area and their reported losses — whether
reports changed (with interval and significance), the monthly trend against the expected band, losses, the
types of fraud, and the rise in the first COVID year."""

from __future__ import annotations

import charts
from charts import formatting as fmt
from metrics import calendar, fraud, periods, plan, registry, series
from views.blocks import measure_change_figures, measure_trend, priority_view
from views.model import Chart, Column, Figures, Kpi, LoadHint, Section, Table, Text, ViewContext, in_tab, only_when

INTRO = ("Fraud reported to Action Fraud by people living in the force area (not crimes recorded by the force): "
         "whether reports rose or fell, the losses reported, which types of fraud, and how reports changed when "
         "COVID-19 moved life online.")
MEASURE = registry.measure("fraud_reports")
SOURCE = MEASURE.source


def _range(ctx: ViewContext):
    return ctx.read(series.data_range, "fraud", ctx.force_filters)


def _loaded(ctx: ViewContext) -> bool:
    return _range(ctx)[1] is not None


def reports(ctx: ViewContext) -> Section:
    """Whether fraud reports changed, the losses in the same months, and the monthly trend."""
    first, last = _range(ctx)
    if last is None:
        return Section(MEASURE.label, (LoadHint(MEASURE.label, MEASURE.needs_file, MEASURE.load_command_for(ctx.db)),
                                       Text("No public proxy: police.uk street-level crime does not include fraud "
                                            "reported to Action Fraud.", "caption")))
    figures, note = measure_change_figures(ctx, MEASURE, label="Fraud reports")
    comparison = periods.comparison_for(ctx.comparison, first, last)
    totals = ctx.read(fraud.fraud_totals, ctx.force_filters, *comparison.post).iloc[0]
    losses = Figures((Kpi(f"Reported losses, {plan.period_label(comparison.post)}",
                          fmt.pounds_millions(totals["reported_loss_gbp"]) if totals["loss_months"] else fmt.DASH,
                          help="Losses as reported by victims."),))
    blocks = [figures, losses] + ([Text(note, "caption")] if note else []) + [Text(MEASURE.caveats, "caption")]
    if ctx.filters.districts:
        blocks.append(Text("Fraud is published by force area: the district filter does not apply here.", "caption"))
    blocks.append(measure_trend(ctx, MEASURE, "fraud_reports_trend", filters=ctx.force_filters,
                                title=f"Fraud reports per month — {ctx.force_name}"))
    return Section("Fraud reports", tuple(blocks))


def losses(ctx: ViewContext) -> Section:
    first, last = _range(ctx)
    monthly = ctx.read(fraud.fraud_monthly, ctx.force_filters)
    title = f"Reported losses per month — {ctx.force_name}"
    figure = charts.trend_chart(monthly.assign(loss_m=monthly["reported_loss_gbp"] / 1e6), title,
                                "Reported losses (£ million per month)", SOURCE, last, y="loss_m",
                                lockdowns=calendar.lockdowns(),
                                note="Losses as reported by victims; months without a published figure count as 0.")
    return Section("Reported losses", (Chart(figure, "fraud_loss_trend", ctx.notes(title, SOURCE, units="£ million per "
                                                                                   "month", as_at=last)),))


def by_type(ctx: ViewContext) -> Section:
    first, last = _range(ctx)
    twelve = periods.latest_months(first, last)
    label = plan.period_label(twelve)
    frame = ctx.read(fraud.fraud_by_type, ctx.force_filters, *twelve)
    data = frame.assign(fraud_type=frame["fraud_type"].fillna("Not recorded"))
    title = f"Fraud reports by type, {label}"
    figure = charts.bar_chart(data, "reports", "fraud_type", title, "Reports", "", SOURCE, last)
    notes = ctx.notes(title, SOURCE, units="reports; reported loss (£)", period=twelve, as_at=last)
    columns = (Column("fraud_type", "Fraud type", None), Column("reports", "Reports", 0),
               Column("share_of_reports_pct", "Share of reports", 1, True),
               Column("reported_loss_gbp", "Reported loss (£)", 0))
    return Section(f"By type of fraud, {label}", (Chart(figure, "fraud_by_type", notes),
                                                  Table("fraud-by-type", data, columns, notes)))


def covid_rise(ctx: ViewContext) -> Section:
    """Reports and losses in March 2020–February 2021 against the 12 months before, by type."""
    first, last = _range(ctx)
    title = "The COVID rise: March 2020–February 2021 against the 12 months before"
    rise = ctx.read(fraud.covid_rise, ctx.force_filters)
    if rise.empty or rise["reports_during"].isna().all() or rise["reports_before"].isna().all():
        return Section(title, (Text(f"The COVID comparison needs Mar 2019–Feb 2021; the fraud data loaded cover "
                                    f"{plan.period_label((first, last))}.", "info"),), in_pack=False)
    blocks: list = []
    before, during = int(rise["months_before"].max()), int(rise["months_during"].max())
    if before < 12 or during < 12:
        blocks.append(Text(f"Incomplete: {before} months before and {during} months during are loaded, so the change "
                           "is not like for like.", "warning"))
    total = rise[rise["fraud_type"] == "All fraud"]
    if len(total):
        t = total.iloc[0]
        blocks.append(Figures((Kpi("Reports, Mar 2020–Feb 2021", fmt.number(t["reports_during"])),
                               Kpi("Reports, Mar 2019–Feb 2020", fmt.number(t["reports_before"])),
                               Kpi("Change in reports", fmt.percent(t["reports_change_pct"], sign=True)))))
    types_only = rise[rise["fraud_type"] != "All fraud"].dropna(subset=["reports_change_pct"])
    chart_title = "Change in fraud reports by type, first COVID year against the year before"
    figure = charts.bar_chart(types_only, "reports_change_pct", "fraud_type", chart_title, "Change in reports (%)", "",
                              SOURCE, last, value_format="+.1f")
    notes = ctx.notes(chart_title, SOURCE, units="reports; losses (£); change (%)", period="Mar 2020–Feb 2021 against "
                      "Mar 2019–Feb 2020", as_at=last)
    data = rise.assign(fraud_type=rise["fraud_type"].fillna("Not recorded"))
    columns = (Column("fraud_type", "Fraud type", None), Column("reports_before", "Reports before", 0),
               Column("reports_during", "Reports during", 0), Column("reports_change_pct", "Change in reports", 1, True),
               Column("loss_before_gbp", "Loss before (£)", 0), Column("loss_during_gbp", "Loss during (£)", 0),
               Column("loss_change_pct", "Change in losses", 1, True))
    signed = {name: (lambda v: fmt.percent(v, 1, sign=True)) for name in ("reports_change_pct", "loss_change_pct")}
    blocks += [Chart(figure, "fraud_covid", notes),
               Table("fraud-covid-rise", data, columns, notes, formats=signed,
                     caption="Before: March 2019–February 2020; during: March 2020–February 2021 (the first COVID year).")]
    return Section(title, tuple(blocks))


VIEW = priority_view("fraud", ":material/credit_card:", INTRO, (
    reports,
    *in_tab("Losses", *only_when(_loaded, losses)),
    *in_tab("By type", *only_when(_loaded, by_type)),
    *in_tab("COVID-19 rise", *only_when(_loaded, covid_rise)),
))

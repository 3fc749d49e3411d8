"""The Police and Crime Plan as data: its priorities, every measure (monthly and weekly), and the file
that supplies each measure with the command that loads it. The one registry: views, the scorecard, the
weekly table, the briefing pack and every "not loaded — load it with …" notice read it.

- `PRIORITIES`: the seven plan priorities (number 1–7) and the extra views that carry measures (Fraud).
- `DATA_FILES`: what file supplies a family of measures and how to load it (`DataFile.load_command(db)`).
- `MEASURES`: each measure: family and categories (or flag) in `metrics.series`, unit, source, caveats,
  proxy status, the file that supplies it; `weekly` when a dated source counts it per week (the SQL
  condition is fixed text from this module, never user input), `weekly_note` when it has no weekly figures.
- `WEEKLY_MEASURES`: the weekly counts `metrics.weekly.weekly_table` runs, derived from `MEASURES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from metrics.filters import Filters
from metrics.roads import KSI_SEVERITY_CAVEAT

POLICE_UK_CRIME_TYPES: tuple[str, ...] = (
    "Bicycle theft", "Burglary", "Criminal damage and arson", "Drugs", "Other crime", "Other theft",
    "Possession of weapons", "Public order", "Robbery", "Shoplifting", "Theft from the person", "Vehicle crime",
    "Violence and sexual offences",
)
ASB = "Anti-social behaviour"
SERIOUS_VIOLENCE_TYPES: tuple[str, ...] = ("Violence and sexual offences", "Robbery", "Possession of weapons")


# ---------------------------------------------------------------------------------------------
# priorities
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Priority:
    """A plan priority (number 1–7) or an extra view with measures of its own (number None)."""

    id: str
    number: int | None
    title: str
    short_title: str = ""  # for narrow table columns and the navigation

    @property
    def label(self) -> str:
        """'1 · Local policing' (or the short title alone for the extra views)."""
        short = self.short_title or self.title
        return f"{self.number} · {short}" if self.number else short


PRIORITIES: tuple[Priority, ...] = (
    Priority("local-policing", 1, "More local, visible and accessible policing", "Local policing"),
    Priority("asb", 2, "Cracking down on anti-social behaviour", "Anti-social behaviour"),
    Priority("domestic-abuse", 3, "Breaking the cycle of domestic abuse", "Domestic abuse"),
    Priority("serious-violence", 4, "Reversing the trend in serious violence", "Serious violence"),
    Priority("gangs", 5, "Tackling gangs and organised crime", "Gangs and organised crime"),
    Priority("children", 6, "Protecting children and vulnerable people", "Children and vulnerable people"),
    Priority("roads", 7, "Improving safety on our roads", "Roads"),
    Priority("fraud", None, "Fraud", "Fraud"),
)
PRIORITY_BY_ID: dict[str, Priority] = {p.id: p for p in PRIORITIES}
PLAN_PRIORITY_IDS: tuple[str, ...] = tuple(p.id for p in PRIORITIES if p.number is not None)


def priority(priority_id: str) -> Priority:
    """The priority `priority_id`; ValueError listing the ids otherwise."""
    try:
        return PRIORITY_BY_ID[priority_id]
    except KeyError:
        raise ValueError(f"unknown priority {priority_id!r}; one of: {', '.join(PRIORITY_BY_ID)}") from None


# ---------------------------------------------------------------------------------------------
# the files that supply measures, and how to load them
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataFile:
    """What file supplies a family of measures (`needs_file`, in words) and the arguments of
    `python -m etl load` that load it (`load_args`, example paths)."""

    id: str
    needs_file: str
    load_args: str

    def load_command(self, db: str | Path | None = None) -> str:
        """`python -m etl load [--db DB] …` for this file (DB: the warehouse the reader uses)."""
        target = f"--db {db} " if db else ""
        return f"python -m etl load {target}{self.load_args}"


DATA_FILES: dict[str, DataFile] = {f.id: f for f in (
    DataFile(
        "police_uk_street",
        "data.police.uk street-level CSVs for the force (the download zip, or its month folders "
        "`YYYY-MM/YYYY-MM-<force>-street.csv`) from https://data.police.uk/data/",
        "path/to/police-uk-download.zip",
    ),
    DataFile(
        "police_uk_stop_search",
        "data.police.uk stop-and-search CSVs (`YYYY-MM/YYYY-MM-<force>-stop-and-search.csv` in the download zip; "
        "tick 'Include stop and search data' when downloading)",
        "path/to/police-uk-download.zip",
    ),
    DataFile(
        "force_extract",
        "the force's incident-level crime extract (CSV with incident_ref, recorded_at, offence_code and the "
        "domestic_abuse, hate_crime and child_victim flags; a TOML mapping file when its column names differ — "
        "see docs/CONVENTIONS.md, 'Force incident extract')",
        "--mapping path/to/extract-mapping.toml path/to/force-extract.csv",
    ),
    DataFile(
        "stats19",
        "DfT STATS19 road-safety open data: the collision and casualty CSVs for the years wanted "
        "(dft-road-casualty-statistics-collision-YYYY.csv, dft-road-casualty-statistics-casualty-YYYY.csv)",
        "dft-road-casualty-statistics-collision-2020.csv dft-road-casualty-statistics-casualty-2020.csv --force Essex",
    ),
    DataFile(
        "action_fraud",
        "Action Fraud (NFIB) reports by force area as a tidy CSV with the header "
        "`month,force,fraud_type,reports,reported_loss_gbp`",
        "path/to/action-fraud-by-force.csv",
    ),
    DataFile(
        "force_measures",
        "the force's own measures as a tidy CSV with the header `measure,period_start,period_end,value,unit,target` "
        "(optional `force`); `metrics/measure_priorities.toml` says which view shows each measure",
        "path/to/force-measures.csv",
    ),
    DataFile(
        "ons_lookup",
        "the ONS LSOA to local authority and force lookup and the 2011 Census residents by LSOA",
        "lsoa11-to-local-authority-and-force.csv census2011-lsoa-usual-residents.csv",
    ),
)}


def data_file(file_id: str) -> DataFile:
    """The data file `file_id`; ValueError listing the ids otherwise."""
    try:
        return DATA_FILES[file_id]
    except KeyError:
        raise ValueError(f"unknown data file {file_id!r}; one of: {', '.join(DATA_FILES)}") from None


# ---------------------------------------------------------------------------------------------
# measures
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WeeklyCount:
    """How a dated source counts a measure per week: `id` names the weekly row (a plain identifier: it is a
    SQL column alias), `table` is a dated table of `metrics.weekly.SOURCES` and `condition` a fixed SQL
    condition on it (code, never user input)."""

    id: str
    table: str
    condition: str


@dataclass(frozen=True)
class Measure:
    """One measure of the plan.

    family: a metrics.series family; categories: Filters.categories within it (empty = all);
    flag: a boolean column of the family (e.g. incidents.domestic_abuse) that must be true.
    is_proxy / proxy_for: a public stand-in for a measure whose real source is not public.
    data_file: the DATA_FILES entry that supplies it (its needs_file and load_command).
    weekly: its weekly count on a dated source (None: no weekly figures; weekly_note says why).
    in_scorecard: False for measures shown only where a view or the weekly table asks for them.
    """

    id: str
    priority_id: str
    label: str
    family: str
    unit: str
    source: str
    data_file: str
    categories: tuple[str, ...] = ()
    flag: str | None = None
    caveats: str = ""
    is_proxy: bool = False
    proxy_for: str | None = None
    in_scorecard: bool = True
    weekly: WeeklyCount | None = None
    weekly_note: str = ""
    short_label: str = ""  # for chart axes; the label when empty

    @property
    def chart_label(self) -> str:
        """The label on a chart axis (at most about two lines of 26 characters)."""
        return self.short_label or self.label

    @property
    def needs_file(self) -> str:
        """The file that supplies the measure, in words."""
        return DATA_FILES[self.data_file].needs_file

    @property
    def load_command(self) -> str:
        """`python -m etl load …` for the file that supplies the measure."""
        return DATA_FILES[self.data_file].load_command()

    def load_command_for(self, db: str | Path | None) -> str:
        """The load command aimed at the warehouse `db`."""
        return DATA_FILES[self.data_file].load_command(db)


STREET_SOURCE = "data.police.uk street-level crime"
STREET_CAVEATS = (
    "Crimes are counted in the month recorded; locations are anonymised snap points; months can be revised "
    "when re-published; about 1% of rows fall in LSOAs outside the force."
)
EXTRACT_SOURCE = "force crime extract"
STATS19_SOURCE = "DfT STATS19 road casualties"
SERIOUS_VIOLENCE_LABEL = "Serious violence (violence and sexual offences incl. common assault, robbery, weapons)"


def _street(measure_id: str, priority_id: str, label: str, categories: tuple[str, ...], caveats: str = "",
            **extra) -> Measure:
    """A measure counted in data.police.uk street-level crime."""
    unit = "incidents per month" if categories == (ASB,) else "crimes per month"
    return Measure(measure_id, priority_id, label, "crimes", unit, STREET_SOURCE, "police_uk_street",
                   categories=categories, caveats=caveats or STREET_CAVEATS, **extra)


def _extract(measure_id: str, priority_id: str, label: str, flag: str | None, caveats: str,
             weekly: tuple[str, str], **extra) -> Measure:
    """A measure counted in the force's incident extract (flagged crimes), with its weekly count (id, condition)."""
    source = EXTRACT_SOURCE + (f" ({flag.replace('_', ' ')} flag)" if flag else "")
    return Measure(measure_id, priority_id, label, "incidents", "crimes per month", source, "force_extract",
                   flag=flag, caveats=caveats, weekly=WeeklyCount(weekly[0], "incidents", weekly[1]), **extra)


MEASURES: tuple[Measure, ...] = (
    _street("all_crime", "local-policing", "All recorded crime (excluding ASB)", POLICE_UK_CRIME_TYPES),
    _extract("incidents_all", "local-policing", "All recorded crimes (force extract)", None,
             "Every crime in the force's incident extract.", ("incidents_all", "true"), in_scorecard=False),
    _street("asb_incidents", "asb", "Anti-social behaviour incidents", (ASB,),
            "ASB incidents reported to the police (not crimes); " + STREET_CAVEATS,
            weekly_note="ASB has no dated source: data.police.uk publishes ASB incidents by month only."),
    _extract("domestic_abuse_crimes", "domestic-abuse", "Domestic abuse crimes", "domestic_abuse",
             "Counts crimes flagged as domestic abuse in the force's records system.",
             ("incidents_domestic_abuse", "domestic_abuse")),
    _street("violence_sexual_proxy", "domestic-abuse", "Violence and sexual offences (proxy for domestic abuse)",
            ("Violence and sexual offences",),
            "Proxy: public data carry no domestic-abuse flag. Most recorded domestic abuse is violence against "
            "the person, but this category also holds every non-domestic violent and sexual offence, so it "
            "cannot show domestic abuse on its own.",
            is_proxy=True, proxy_for="domestic_abuse_crimes", short_label="Violence and sexual offences (proxy)"),
    _street("serious_violence", "serious-violence", SERIOUS_VIOLENCE_LABEL, SERIOUS_VIOLENCE_TYPES,
            "police.uk categories: violence and sexual offences (including common assault), robbery and "
            "possession of weapons — not only the most serious violence. " + STREET_CAVEATS,
            short_label="Violence and sexual offences, robbery, weapons"),
    _extract("incidents_violence", "serious-violence", "Violence and sexual offences", None,
             "Crimes in the extract whose offence code maps to violence and sexual offences.",
             ("incidents_violence", "crime_type = 'Violence and sexual offences'"), in_scorecard=False),
    _street("robbery", "serious-violence", "Robbery", ("Robbery",)),
    _street("drug_offences", "gangs", "Drug offences", ("Drugs",),
            "Drug offences are mostly found by proactive policing: a rise can mean more enforcement. "
            + STREET_CAVEATS),
    _street("weapon_possession", "gangs", "Possession of weapons", ("Possession of weapons",)),
    Measure("stop_searches", "gangs", "Stops and searches", "stop_search", "searches per month",
            "data.police.uk stop and search", "police_uk_stop_search",
            caveats="Searches recorded by the force; locations are approximate and some have none.",
            weekly=WeeklyCount("stop_search_all", "stop_search", "true")),
    Measure("stop_search_arrests", "gangs", "Stops and searches ending in arrest", "stop_search",
            "searches per month", "data.police.uk stop and search", "police_uk_stop_search",
            categories=(), caveats="Searches whose outcome is an arrest.", in_scorecard=False,
            weekly=WeeklyCount("stop_search_arrests", "stop_search", "outcome = 'Arrest'")),
    _extract("child_victim_crimes", "children", "Crimes with a child victim", "child_victim",
             "Counts crimes flagged as having a victim under 18. No public source carries this flag.",
             ("incidents_child_victim", "child_victim")),
    _extract("hate_crimes", "children", "Hate crimes", "hate_crime",
             "Counts crimes flagged as hate crimes in the force's records system.",
             ("incidents_hate_crime", "hate_crime")),
    _street("public_order_proxy", "children", "Public order offences (proxy for hate crime)", ("Public order",),
            "Proxy: public data carry no hate-crime flag. Racially or religiously aggravated public order "
            "offences are in this category, but most public order offences are not hate crimes.",
            is_proxy=True, proxy_for="hate_crimes"),
    Measure("ksi_casualties", "roads", "Killed or seriously injured (KSI) casualties", "casualties",
            "casualties per month", STATS19_SOURCE, "stats19", categories=("Fatal", "Serious"),
            caveats="Severity as recorded by the police; STATS19 is published a year in arrears (provisional figures "
                    "earlier). " + KSI_SEVERITY_CAVEAT),
    Measure("road_casualties", "roads", "All road casualties", "casualties", "casualties per month",
            STATS19_SOURCE, "stats19", caveats="Injury collisions reported to the police only."),
    Measure("collisions_all", "roads", "Injury road collisions", "collisions", "collisions per month",
            "DfT STATS19 road collisions", "stats19", caveats="Injury collisions reported to the police only.",
            in_scorecard=False, weekly=WeeklyCount("collisions_all", "collisions", "true")),
    Measure("collisions_ksi", "roads", "Fatal or serious (KSI) collisions", "collisions", "collisions per month",
            "DfT STATS19 road collisions", "stats19", categories=("Fatal", "Serious"),
            caveats="Collisions by their most severe casualty.", in_scorecard=False,
            weekly=WeeklyCount("collisions_ksi", "collisions", "severity in ('Fatal', 'Serious')")),
    Measure("fraud_reports", "fraud", "Fraud reports (Action Fraud)", "fraud", "reports per month",
            "Action Fraud (NFIB) reports by force area", "action_fraud",
            caveats="Reports to Action Fraud by residents of the force area, not crimes recorded by the force; "
                    "losses are as reported by victims.",
            weekly_note="Action Fraud publishes reports by month only."),
)
MEASURE_BY_ID: dict[str, Measure] = {m.id: m for m in MEASURES}
# families whose district column holds police.uk district names (the shared district filter applies)
DISTRICT_FAMILIES = frozenset({"crimes", "outcomes", "incidents"})


def measure(measure_id: str) -> Measure:
    """The measure `measure_id`; ValueError listing the ids otherwise."""
    try:
        return MEASURE_BY_ID[measure_id]
    except KeyError:
        raise ValueError(f"unknown measure {measure_id!r}; one of: {', '.join(MEASURE_BY_ID)}") from None


def measures_for(priority_id: str, *, scorecard_only: bool = True) -> list[Measure]:
    """The measures of one priority, in plan order (only those in the scorecard unless told otherwise)."""
    priority(priority_id)
    return [m for m in MEASURES if m.priority_id == priority_id and (m.in_scorecard or not scorecard_only)]


def proxies_for(measure_id: str) -> list[Measure]:
    """The public proxies shown when `measure_id` is not loaded."""
    return [m for m in MEASURES if m.proxy_for == measure_id]


def measure_filters(item: Measure, filters: Filters | None) -> Filters:
    """The filters a measure is computed under: the shared force (and districts, where the family has
    police.uk districts), and the measure's own categories (the user's crime-type choice does not apply)."""
    base = filters or Filters()
    return Filters(
        force_id=base.force_id,
        districts=base.districts if item.family in DISTRICT_FAMILIES else (),
        categories=item.categories,
    )


# ---------------------------------------------------------------------------------------------
# weekly counts (metrics.weekly reads these)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WeeklyMeasure:
    """A dated measure as `metrics.weekly.weekly_table` counts it: its dated table (`source`), the SQL
    condition (fixed text from MEASURES), its priority and label."""

    id: str
    priority: str
    label: str
    source: str
    condition: str


WEEKLY_MEASURES: tuple[WeeklyMeasure, ...] = tuple(
    WeeklyMeasure(m.weekly.id, m.priority_id, m.label, m.weekly.table, m.weekly.condition) for m in MEASURES if m.weekly
)


def weekly_gaps() -> list[tuple[Priority, str]]:
    """(priority, why) for each plan priority with no weekly measure (e.g. ASB: monthly data only)."""
    weekly_priorities = {m.priority for m in WEEKLY_MEASURES}
    gaps = []
    for prio in PRIORITIES:
        if prio.number is None or prio.id in weekly_priorities:
            continue
        notes = [m.weekly_note for m in MEASURES if m.priority_id == prio.id and m.weekly_note]
        gaps.append((prio, " ".join(notes) or "No dated source counts its measures."))
    return gaps


__all__ = [
    "ASB", "DATA_FILES", "DISTRICT_FAMILIES", "DataFile", "MEASURES", "MEASURE_BY_ID", "Measure",
    "PLAN_PRIORITY_IDS", "POLICE_UK_CRIME_TYPES", "PRIORITIES", "PRIORITY_BY_ID", "Priority",
    "SERIOUS_VIOLENCE_LABEL", "SERIOUS_VIOLENCE_TYPES", "STREET_SOURCE", "WEEKLY_MEASURES", "WeeklyCount",
    "WeeklyMeasure", "data_file", "measure", "measure_filters", "measures_for", "priority", "proxies_for",
    "weekly_gaps",
]

"""What a view is made of, as data: a `View` is a list of section functions; each takes a `ViewContext` and
returns a `Section` of blocks — key figures (`Figures`), `Chart`s, `Table`s, `Text` and `LoadHint`s.
No Streamlit here: `ui.render` draws a view on screen and `briefing.pack` draws the same sections as slides,
so a section added to a view reaches the Panel's pack without touching either.

The context hides where numbers come from: `ctx.read(function, *args)` calls a metrics function with the
warehouse connection first (cached per warehouse version in the app, memoised in the pack);
`ctx.choose(Choice)` is a widget kept in the URL on screen and the default in the pack; `ctx.progress` a
progress bar on screen and nothing in the pack.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from briefing.export_spec import Column, ExportNotes
from charts import formatting as fmt
from metrics.filters import Filters
from metrics.plan import Comparison, period_label
from views.text import md_literal

Reader = Callable[..., Any]  # read(function, *args, **kwargs) = function(con, *args, **kwargs)


# ---------------------------------------------------------------------------------------------
# choices (page-level widgets kept in the URL)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Choice:
    """A single choice a section offers. `key` is its URL parameter; the URL holds the option's label."""

    key: str
    label: str
    options: tuple
    default: Any
    labels: Mapping[Any, str] | None = None
    widget: str = "segmented"  # 'segmented' | 'radio' | 'selectbox'
    help: str | None = None

    def label_for(self, option: Any) -> str:
        """The text shown for an option (and kept in the URL)."""
        return str(self.labels.get(option, option)) if self.labels else str(option)


def _default_choice(choice: Choice) -> Any:
    return choice.default


def _no_progress(fraction: float, text: str) -> None:
    return None


# ---------------------------------------------------------------------------------------------
# the context a view is built in
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ViewContext:
    """The shared filters and periods, and how to read data, choose and report progress.

    filters: force, districts and crime types chosen (crime types apply only where a view says so);
    comparison: the periods compared (None when nothing is loaded); first_month/last_month: the force's
    loaded street-level months (another family's when it has none); db: the warehouse path that load
    commands aim at; provenance: the record every export carries; raw_rows: the reader may see raw rows
    (analysts on screen; False in the pack and for every other role), see docs/SECURITY.md.
    """

    filters: Filters
    comparison: Comparison | None
    force_name: str
    first_month: date | None
    last_month: date | None
    is_demo: bool
    read: Reader
    db: str = ""
    choose: Callable[[Choice], Any] = _default_choice
    progress: Callable[[float, str], None] = _no_progress
    provenance: Mapping[str, Any] | None = field(default=None, compare=False)
    raw_rows: bool = False  # may show raw rows (rejected source rows, incident-level tables): analysts on screen only

    @property
    def force_id(self) -> str | None:
        return self.filters.force_id

    @property
    def force_filters(self) -> Filters:
        """Only the force (all districts, all categories)."""
        return Filters(force_id=self.force_id)

    @property
    def area_filters(self) -> Filters:
        """Force and districts, without the crime-type choice (for measures with their own categories)."""
        return Filters(force_id=self.force_id, districts=self.filters.districts)

    @property
    def area_label(self) -> str:
        """'Essex Police' or 'Essex Police: Basildon, Harlow and 2 more' (plain text)."""
        if self.filters.districts:
            return f"{self.force_name}: {fmt.join_labels(list(self.filters.districts))}"
        return self.force_name

    def filters_text(self, crime_types: bool = False) -> str:
        """The filters that apply, in words (for export notes)."""
        parts = [self.force_name, "districts: " + ", ".join(self.filters.districts) if self.filters.districts
                 else "all districts"]
        if crime_types and self.filters.categories:
            parts.append("crime types: " + ", ".join(self.filters.categories))
        return "; ".join(parts)

    def notes(self, title: str, source: str, *, units: str = "", period: str | tuple[date, date] = "",
              caveats: str = "", as_at: date | None = None, crime_types: bool = False,
              sensitive: bool | None = None) -> ExportNotes:
        """The notes an export of this view carries (filters in words, as-at date, demo marking)."""
        if isinstance(period, tuple):
            period = period_label(period)
        return ExportNotes(title=title, source=source, units=units, period=period,
                           filters=self.filters_text(crime_types), as_at=as_at or self.last_month,
                           caveats=caveats, is_demo=self.is_demo, provenance=self.provenance, sensitive=sensitive)


# ---------------------------------------------------------------------------------------------
# blocks
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Kpi:
    """One key figure: label, value (text), optional delta text and colour ('normal', 'inverse', 'off'),
    and help (the tooltip on screen)."""

    label: str
    value: str
    delta: str | None = None
    delta_color: str = "off"
    help: str | None = None

    def sentence(self) -> str:
        """The figure as one line of text (the pack)."""
        return f"{self.label}: {self.value}" + (f" ({self.delta})" if self.delta else "")


@dataclass(frozen=True)
class Figures:
    """A row of key figures."""

    items: tuple[Kpi, ...]


@dataclass(frozen=True, eq=False)
class Chart:
    """A Plotly figure with the notes its image exports carry; `caption` (markdown) is shown under it;
    `filters` are the data's filters (disclosure control decides from them); `release` the published LSOA table
    (`briefing.disclosure.published_lsoa_counts`) an LSOA chart was drawn from: its exports and the Panel's screen
    take their LSOA values from it."""

    figure: Any
    key: str
    notes: ExportNotes
    caption: str = ""
    filters: Filters | None = None
    release: pd.DataFrame | None = None


@dataclass(frozen=True, eq=False)
class Table:
    """A table: `data` holds the values, `columns` which of them are shown and exported, headed in words
    with units and rounded as on screen; `formats` overrides how a column reads on screen (e.g. a signed
    change); a `static` table (the default) wraps its text and shows every column, and reads as cards on a
    phone; `static=False` for long tables (a scrolling grid, `widths` by column label); `export_columns`
    (default `columns`) are what the CSV/XLSX hold."""

    key: str
    data: pd.DataFrame
    columns: tuple[Column, ...]
    notes: ExportNotes
    caption: str = ""
    static: bool = True
    formats: Mapping[str, Callable[[Any], str]] = field(default_factory=dict)
    widths: Mapping[str, Any] = field(default_factory=dict)
    export_columns: tuple[Column, ...] | None = None
    filters: Filters | None = None
    highlight: str | None = None  # a boolean column of `data`: its true rows are highlighted on screen
    slide_columns: tuple[str, ...] | None = None  # the columns a briefing slide shows (default: the first ones)

    def shown(self) -> pd.DataFrame:
        """The table as text cells, as people read it (no 'None'/'nan': missing reads '—')."""
        return display_frame(self.data, self.columns, self.formats)


@dataclass(frozen=True)
class Text:
    """Markdown written in code. Values from data or the URL inside it go through `views.text.md_literal`.
    tone: 'plain', 'caption', 'info', 'warning', 'success', 'error'."""

    body: str
    tone: str = "plain"


@dataclass(frozen=True)
class LoadHint:
    """A measure that is not loaded: which file supplies it and the command that loads it, and the public
    proxies shown instead."""

    what: str
    needs_file: str
    command: str
    proxies: tuple[str, ...] = ()


Block = Figures | Chart | Table | Text | LoadHint


@dataclass(frozen=True, eq=False)
class Section:
    """A titled part of a view. `in_pack`: whether the briefing pack shows it (a slide); `help`: a tooltip on
    its title."""

    title: str
    blocks: tuple[Block, ...]
    in_pack: bool = True
    help: str | None = None  # a tooltip on the title (on screen)

    def charts(self) -> list[Chart]:
        return [b for b in self.blocks if isinstance(b, Chart)]

    def tables(self) -> list[Table]:
        return [b for b in self.blocks if isinstance(b, Table)]


SectionFunction = Callable[[ViewContext], "Section | Sequence[Section] | None"]


@dataclass(frozen=True)
class View:
    """One view: its id (URL path and page file stem), navigation title, heading, icon, navigation group,
    the sentence that introduces it, and its sections in order. `priority_id` ties a view to a plan
    priority (the pack shows the plan priorities' views); `uses_crime_types`: the shared crime-type filter
    applies; `uses_comparison`: the shared comparison periods apply (its notices are shown)."""

    id: str
    title: str
    heading: str
    icon: str
    group: str
    intro: str
    sections: tuple[SectionFunction, ...]
    priority_id: str | None = None
    uses_crime_types: bool = False
    uses_comparison: bool = True

    @property
    def page(self) -> str:
        """The page file, relative to the project root."""
        return f"pages/{self.id}.py"

    @property
    def url_path(self) -> str:
        return self.id

    def build(self, ctx: ViewContext) -> Iterator[Section]:
        """The view's sections for `ctx`, one at a time (a section function may give none or several)."""
        for make in self.sections:
            yield from as_sections(make(ctx))


def only_when(condition: Callable[[ViewContext], bool], *sections: SectionFunction) -> tuple[SectionFunction, ...]:
    """Section functions that run only when `condition(ctx)` holds (typically: the data they show are loaded),
    so each can assume its data are there. The condition is kept as the function's `condition` (see `applies`)."""
    def guarded(make: SectionFunction) -> SectionFunction:
        inner = getattr(make, "condition", None)

        @functools.wraps(make)
        def section(ctx: ViewContext) -> Section | Sequence[Section] | None:
            return make(ctx) if condition(ctx) else None

        section.condition = condition if inner is None else (lambda ctx: bool(inner(ctx)) and bool(condition(ctx)))
        return section

    return tuple(guarded(make) for make in sections)


def in_tab(label: str, *sections: SectionFunction) -> tuple[SectionFunction, ...]:
    """Section functions shown on screen under the tab `label` of their view: only the open tab's sections run
    and reach the browser, so a view's later parts cost nothing until someone opens them. The briefing pack
    and `View.build` see them as any other section."""
    def tabbed(make: SectionFunction) -> SectionFunction:
        @functools.wraps(make)  # keeps an only_when condition
        def section(ctx: ViewContext) -> Section | Sequence[Section] | None:
            return make(ctx)

        section.tab = label
        return section

    return tuple(tabbed(make) for make in sections)


def applies(make: SectionFunction, ctx: ViewContext) -> bool:
    """Whether a section function's only_when condition holds (True when it has none): cheap, no section
    built."""
    condition = getattr(make, "condition", None)
    return condition is None or bool(condition(ctx))


@dataclass(frozen=True)
class ScreenLayout:
    """How a view's sections sit on screen: `lead` (drawn first, always), then `tabs` [(label, section
    functions)] in order of first appearance, then `tail` (untabbed sections after the first tabbed one)."""

    lead: tuple[SectionFunction, ...]
    tabs: tuple[tuple[str, tuple[SectionFunction, ...]], ...]
    tail: tuple[SectionFunction, ...]


def screen_layout(sections: Sequence[SectionFunction]) -> ScreenLayout:
    """Split a view's section functions by their `in_tab` labels (see ScreenLayout)."""
    lead: list[SectionFunction] = []
    tail: list[SectionFunction] = []
    tabs: dict[str, list[SectionFunction]] = {}
    for make in sections:
        label = getattr(make, "tab", None)
        if label is not None:
            tabs.setdefault(label, []).append(make)
        else:
            (tail if tabs else lead).append(make)
    return ScreenLayout(tuple(lead), tuple((label, tuple(makes)) for label, makes in tabs.items()), tuple(tail))


def as_sections(result: Section | Sequence[Section] | None) -> list[Section]:
    """A section function's result as a list."""
    if result is None:
        return []
    if isinstance(result, Section):
        return [result]
    return [s for s in result if s is not None]


# ---------------------------------------------------------------------------------------------
# tables as people read them
# ---------------------------------------------------------------------------------------------
def cell_text(value: Any, column: Column) -> str:
    """One value as it reads on screen: rounded to the column's decimals, '%' for percentages, '—' when
    missing, text as it is."""
    if fmt.is_missing(value):
        return fmt.DASH
    if isinstance(value, str) or column.decimals is None:
        return str(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if column.percent:
        return fmt.percent(value, column.decimals)
    return fmt.number(value, column.decimals)


def display_frame(data: pd.DataFrame, columns: Sequence[Column],
                  formats: Mapping[str, Callable[[Any], str]] | None = None) -> pd.DataFrame:
    """The columns of `data` as text, headed by their labels. Text values (e.g. a disclosure marker '<5')
    and missing values are never passed to a column's format."""
    formats = formats or {}
    out = {}
    for column in columns:
        render = formats.get(column.name)
        out[column.label] = [
            cell_text(value, column) if render is None or isinstance(value, str) or fmt.is_missing(value)
            else render(value) for value in data[column.name]
        ]
    return pd.DataFrame(out, columns=[c.label for c in columns])


def memo_reader(con: Any) -> Reader:
    """A `read(function, *args, **kwargs)` calling `function(con, ...)` once per distinct call (the briefing pack
    and other readers outside the app: frames are shared, never change them in place)."""
    results: dict[tuple, Any] = {}

    def read(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        key = (function.__module__, function.__qualname__, repr(args), repr(sorted(kwargs.items())))
        if key not in results:
            results[key] = function(con, *args, **kwargs)
        return results[key]

    return read


__all__ = [
    "Block", "Chart", "Choice", "Column", "ExportNotes", "Figures", "Kpi", "LoadHint", "Reader", "Section", "Table",
    "ScreenLayout", "Text", "View", "ViewContext", "applies", "as_sections", "cell_text", "display_frame", "in_tab",
    "md_literal", "memo_reader", "only_when", "screen_layout",
]

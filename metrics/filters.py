"""The shared filter object every metric accepts, and how it becomes bound SQL parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Filters:
    """Which rows a metric looks at.

    force_id: data.police.uk force id ("essex"); None = every force loaded.
    districts: district names ("Basildon"); empty = all.
    categories: crime types / categories of the family ("Burglary"); empty = all.
    """

    force_id: str | None = None
    districts: tuple[str, ...] = field(default_factory=tuple)
    categories: tuple[str, ...] = field(default_factory=tuple)

    def where(
        self,
        *,
        force_column: str | None = "force_id",
        district_column: str | None = "district",
        category_column: str | None = None,
    ) -> tuple[str, list]:
        """A SQL boolean expression and its bound parameters. Column names are trusted identifiers
        chosen by the metric (never user input); every value is a parameter."""
        clauses: list[str] = ["true"]
        params: list = []
        if self.force_id and force_column:
            clauses.append(f"{force_column} = ?")
            params.append(self.force_id)
        if self.districts and district_column:
            clauses.append(f"list_contains(?, {district_column})")
            params.append(list(self.districts))
        if self.categories and category_column:
            clauses.append(f"list_contains(?, {category_column})")
            params.append(list(self.categories))
        return " and ".join(clauses), params


def month_start(value: date) -> date:
    return date(value.year, value.month, 1)


def add_months(value: date, months: int) -> date:
    """First day of the month `months` after `value`'s month (negative goes back)."""
    index = value.year * 12 + value.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_range(first: date, last: date) -> tuple[date, ...]:
    """Every month from `first`'s to `last`'s inclusive, as first days (empty when `last` is before `first`)."""
    start = month_start(first)
    return tuple(add_months(start, step) for step in range(months_between(start, month_start(last))))


def months_between(start: date, end: date) -> int:
    """Number of months in the inclusive range start..end (both first-of-month)."""
    return (end.year - start.year) * 12 + end.month - start.month + 1

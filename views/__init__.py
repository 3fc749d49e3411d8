"""The dashboard's views as data: one definition per view (its sections, charts, tables and captions), drawn on
screen by `ui.render` and as slides by `briefing.pack`. No Streamlit here.

`VIEWS` is the one list of views, in navigation order; the plan's priorities come in the order of
`metrics.registry.PRIORITIES`. A new view: a module here with a `VIEW`, listed below, and a page file
`pages/<id>.py` that renders it; which roles see it is `access.roles.CAPABILITIES` (a view no role lists is
refused to everyone).
"""

from __future__ import annotations

from metrics.registry import PLAN_PRIORITY_IDS
from views import (
    asb,
    audit,
    children,
    covid,
    data,
    domestic_abuse,
    fraud,
    gangs,
    local_policing,
    overview,
    roads,
    serious_violence,
    weekly,
)
from views.model import View

PRIORITY_VIEWS: tuple[View, ...] = tuple(
    sorted((local_policing.VIEW, asb.VIEW, domestic_abuse.VIEW, serious_violence.VIEW, gangs.VIEW, children.VIEW,
            roads.VIEW), key=lambda v: PLAN_PRIORITY_IDS.index(v.priority_id))
)
VIEWS: tuple[View, ...] = (overview.VIEW, *PRIORITY_VIEWS, fraud.VIEW, covid.VIEW, weekly.VIEW, data.VIEW, audit.VIEW)
VIEW_BY_ID: dict[str, View] = {v.id: v for v in VIEWS}


def view(view_id: str) -> View:
    """The view `view_id`; ValueError listing the ids otherwise."""
    try:
        return VIEW_BY_ID[view_id]
    except KeyError:
        raise ValueError(f"unknown view {view_id!r}; one of: {', '.join(VIEW_BY_ID)}") from None


__all__ = ["PRIORITY_VIEWS", "VIEWS", "VIEW_BY_ID", "view"]

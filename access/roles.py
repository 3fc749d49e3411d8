"""The product's roles, what each may see, and how a signed-in user gets one (pure: no Streamlit).

Roles (PRODUCT.md, issue 15):
- **analyst**: every view, incident-level detail, the Data view with rejected rows, raw downloads, the audit view;
- **officer**: every aggregate view and the weekly figures (the Data view shows load status only); no raw rejected
  rows, no incident-level tables;
- **panel**: the aggregate views and the briefing pack only, with disclosure control applied on screen as in files,
  and no raw data export.

A user's role comes from one claim of their ID token (groups or roles), mapped by `config/roles.toml`
(`$CRIME_MONITOR_ROLES` overrides the path). A user holding values for several roles gets the first role of the
file's `[precedence] order`; a user holding none gets no role: signed in, but not authorised (`role_for` -> None).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ROLES_FILE = PROJECT_ROOT / "config" / "roles.toml"
ROLES: tuple[str, ...] = ("analyst", "officer", "panel")

# view ids (the pages' url paths): the plan's priorities and the three other views, then the analysts' audit view
AGGREGATE_VIEWS: tuple[str, ...] = (
    "overview", "local_policing", "asb", "domestic_abuse", "serious_violence", "gangs", "children", "roads",
    "fraud", "covid",
)
WEEKLY_VIEW = "weekly"
DATA_VIEW = "data"
AUDIT_VIEW = "audit"
VIEW_IDS: tuple[str, ...] = (*AGGREGATE_VIEWS, WEEKLY_VIEW, DATA_VIEW)


@dataclass(frozen=True)
class Capabilities:
    """What one role may see and do.

    views: view ids the role's navigation holds (any other view refuses a direct URL).
    incident_level: tables of force-extract incidents (one row per incident).
    rejected_rows: the raw text of rejected source rows (victim keys, LSOAs, flags) in the Data view.
    raw_downloads: downloads of raw rows (rejected rows, incident-level tables).
    disclosure_on_screen: disclosure control applies to what is sent to the browser (tables, chart values, hover
        text), not only to files; every export is disclosure-controlled for every role.
    builtin_table_export: Streamlit's own CSV download / copy on tables may stay on. The switch
        (`client.disableDataExport`) is server-wide, so `.streamlit/config.toml` turns it off whenever any role
        must not have it (see `builtin_table_export_allowed`).
    briefing_pack: the one-click briefing pack (always disclosure-controlled).
    """

    role: str
    views: frozenset[str]
    incident_level: bool
    rejected_rows: bool
    raw_downloads: bool
    disclosure_on_screen: bool
    builtin_table_export: bool
    briefing_pack: bool = True

    def may_view(self, view_id: str) -> bool:
        """True when the view is in this role's navigation."""
        return view_id in self.views


CAPABILITIES: dict[str, Capabilities] = {
    "analyst": Capabilities(
        "analyst", frozenset((*VIEW_IDS, AUDIT_VIEW)), incident_level=True, rejected_rows=True, raw_downloads=True,
        disclosure_on_screen=False, builtin_table_export=True,
    ),
    "officer": Capabilities(
        "officer", frozenset(VIEW_IDS), incident_level=False, rejected_rows=False, raw_downloads=False,
        disclosure_on_screen=False, builtin_table_export=False,
    ),
    "panel": Capabilities(
        "panel", frozenset(AGGREGATE_VIEWS), incident_level=False, rejected_rows=False, raw_downloads=False,
        disclosure_on_screen=True, builtin_table_export=False,
    ),
}


def capabilities_for(role: str) -> Capabilities:
    """The capabilities of a product role ('analyst', 'officer' or 'panel')."""
    try:
        return CAPABILITIES[role]
    except KeyError:
        raise ValueError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}") from None


def builtin_table_export_allowed() -> bool:
    """Whether Streamlit's table export may stay on server-wide: only when every role may have it."""
    return all(c.builtin_table_export for c in CAPABILITIES.values())


class RoleMappingError(ValueError):
    """A role-mapping file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class RoleMapping:
    """claim: the ID-token claim (dotted path) holding groups/roles; provider: the [auth] provider name for
    st.login ('' = default); values: role -> claim values granting it (case-folded); order: precedence."""

    claim: str
    provider: str
    values: Mapping[str, frozenset[str]]
    order: tuple[str, ...]
    source: str = ""


def _string_list(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RoleMappingError(f"{where} must be a list of strings, not {value!r}")
    return value


def parse_role_mapping(data: Mapping[str, Any], source: str = "role mapping") -> RoleMapping:
    """A RoleMapping from the parsed TOML of a roles file (see config/roles.toml); errors name `source`."""
    unknown = sorted(set(data) - {"oidc", "roles", "precedence"})
    if unknown:
        raise RoleMappingError(f"{source}: unknown section(s) {', '.join(unknown)}; "
                               "expected [oidc], [roles], [precedence]")
    oidc = data.get("oidc", {})
    claim = oidc.get("claim", "groups")
    if not isinstance(claim, str) or not claim.strip():
        raise RoleMappingError(f"{source}: [oidc] claim must be the name of an ID-token claim, not {claim!r}")
    provider = oidc.get("provider", "")
    if not isinstance(provider, str):
        raise RoleMappingError(f"{source}: [oidc] provider must be a provider name or \"\", not {provider!r}")
    roles = data.get("roles")
    if not isinstance(roles, Mapping) or not roles:
        raise RoleMappingError(f"{source}: [roles] is missing: map each of {', '.join(ROLES)} to a list of groups")
    values: dict[str, frozenset[str]] = {}
    for role, groups in roles.items():
        if role not in ROLES:
            raise RoleMappingError(f"{source}: [roles] {role!r} is not a role: expected {', '.join(ROLES)}")
        values[role] = frozenset(g.strip().casefold() for g in _string_list(groups, f"{source}: [roles] {role}")
                                 if g.strip())
    order = tuple(_string_list(data.get("precedence", {}).get("order", list(ROLES)), f"{source}: [precedence] order"))
    wrong = [r for r in order if r not in ROLES]
    if wrong or len(set(order)) != len(order) or set(values) - set(order):
        raise RoleMappingError(f"{source}: [precedence] order must list each role of [roles] once, "
                               f"from {', '.join(ROLES)}; got {list(order)}")
    return RoleMapping(claim.strip(), provider.strip(), values, order, source)


def roles_file_path(path: str | os.PathLike | None = None) -> Path:
    """`path`, else `$CRIME_MONITOR_ROLES`, else config/roles.toml."""
    return Path(path or os.environ.get("CRIME_MONITOR_ROLES") or DEFAULT_ROLES_FILE)


def load_role_mapping(path: str | os.PathLike | None = None) -> RoleMapping:
    """Read and check a roles file (default `roles_file_path()`)."""
    file = roles_file_path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RoleMappingError(f"{file}: role-mapping file not found") from None
    except tomllib.TOMLDecodeError as error:
        raise RoleMappingError(f"{file}: not valid TOML: {error}") from None
    return parse_role_mapping(data, str(file))


def claim_values(claims: Mapping[str, Any], claim: str) -> list[str]:
    """The values of a (dotted) claim: a list of strings, or one string split on spaces/commas; [] if absent."""
    value: Any = claims
    for part in claim.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return []
        value = value[part]
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").split() if v]
    if isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        return [str(v) for v in value if isinstance(v, (str, int))]
    return []


def role_for(claims: Mapping[str, Any] | None, mapping: RoleMapping) -> str | None:
    """The product role of a user with these ID-token claims: the first role in the precedence order whose
    values the claim holds; None when it holds none (signed in but not authorised)."""
    held = {v.strip().casefold() for v in claim_values(claims or {}, mapping.claim)}
    for role in mapping.order:
        if held & mapping.values.get(role, frozenset()):
            return role
    return None

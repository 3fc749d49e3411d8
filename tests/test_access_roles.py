"""Roles: the shipped mapping file, claim reading, precedence, the no-role outcome, and the capability table
against the issue's wording (written out here by hand)."""

from __future__ import annotations

import tomllib

import pytest

from access.roles import (
    AGGREGATE_VIEWS,
    CAPABILITIES,
    DEFAULT_ROLES_FILE,
    RoleMappingError,
    builtin_table_export_allowed,
    capabilities_for,
    claim_values,
    load_role_mapping,
    parse_role_mapping,
    role_for,
)

PROJECT_VIEWS = {"overview", "local_policing", "asb", "domestic_abuse", "serious_violence", "gangs", "children",
                 "roads", "fraud", "covid", "weekly", "data"}


def test_shipped_mapping_file_maps_each_role_and_refuses_strangers():
    mapping = load_role_mapping(DEFAULT_ROLES_FILE)
    assert mapping.claim == "groups" and mapping.order == ("analyst", "officer", "panel")
    assert role_for({"groups": ["crime-monitor-analysts"]}, mapping) == "analyst"
    assert role_for({"groups": ["Crime-Monitor-Officers "]}, mapping) == "officer"  # case and spaces ignored
    assert role_for({"groups": ["crime-monitor-panel"]}, mapping) == "panel"
    assert role_for({"groups": ["finance"]}, mapping) is None          # signed in, not authorised
    assert role_for({"sub": "x"}, mapping) is None                       # no claim at all
    assert role_for(None, mapping) is None


def test_precedence_first_role_of_the_order_wins():
    data = {"roles": {"analyst": ["a"], "officer": ["o"], "panel": ["p"]}}
    most_privileged_first = parse_role_mapping(data)
    assert role_for({"groups": ["p", "o"]}, most_privileged_first) == "officer"
    assert role_for({"groups": ["p", "a", "o"]}, most_privileged_first) == "analyst"
    least_first = parse_role_mapping({**data, "precedence": {"order": ["panel", "officer", "analyst"]}})
    assert role_for({"groups": ["p", "a"]}, least_first) == "panel"


def test_claim_forms_nested_string_and_list():
    claims = {"realm_access": {"roles": ["x", "crime-panel"]}, "roles": "a, b c", "groups": ["g1", 7, None]}
    assert claim_values(claims, "realm_access.roles") == ["x", "crime-panel"]
    assert claim_values(claims, "roles") == ["a", "b", "c"]
    assert claim_values(claims, "groups") == ["g1", "7"]
    assert claim_values(claims, "missing.path") == []
    mapping = parse_role_mapping({"oidc": {"claim": "realm_access.roles"}, "roles": {"panel": "crime-panel"}})
    assert role_for(claims, mapping) == "panel"


@pytest.mark.parametrize(("data", "message"), [
    ({"roles": {"boss": ["x"]}}, "'boss' is not a role"),
    ({"roles": {"analyst": 5}}, "[roles] analyst must be a list of strings, not 5"),
    ({}, "[roles] is missing"),
    ({"roles": {"analyst": ["a"]}, "precedence": {"order": ["officer"]}}, "[precedence] order must list each role"),
    ({"roles": {"analyst": ["a"]}, "oidc": {"claim": ""}}, "[oidc] claim must be the name"),
    ({"roles": {"analyst": ["a"]}, "extra": {}}, "unknown section(s) extra"),
])
def test_bad_mapping_files_name_the_file_and_key(data, message):
    with pytest.raises(RoleMappingError) as error:
        parse_role_mapping(data, "config/roles.toml")
    assert str(error.value).startswith("config/roles.toml: ") and message in str(error.value)


def test_unreadable_mapping_file(tmp_path):
    broken = tmp_path / "roles.toml"
    broken.write_text("[roles\nanalyst = 1\n")
    with pytest.raises(RoleMappingError, match=r"roles.toml: not valid TOML: .*line 1"):
        load_role_mapping(broken)
    with pytest.raises(RoleMappingError, match="role-mapping file not found"):
        load_role_mapping(tmp_path / "absent.toml")


def test_environment_variable_chooses_the_file(tmp_path, monkeypatch):
    custom = tmp_path / "r.toml"
    custom.write_text('[oidc]\nclaim = "roles"\n[roles]\npanel = ["P"]\n[precedence]\norder = ["panel"]\n')
    monkeypatch.setenv("CRIME_MONITOR_ROLES", str(custom))
    assert role_for({"roles": ["p"]}, load_role_mapping()) == "panel"


def test_capability_table_follows_the_issue():
    analyst, officer, panel = (capabilities_for(r) for r in ("analyst", "officer", "panel"))
    # analyst: every view incl. the audit view, incident-level detail, rejected rows, raw downloads
    assert analyst.views == PROJECT_VIEWS | {"audit"}
    assert analyst.incident_level and analyst.rejected_rows and analyst.raw_downloads
    assert not analyst.disclosure_on_screen
    # officer: every aggregate view and the weekly figures; no rejected rows, no incident-level tables
    assert officer.views == PROJECT_VIEWS and "audit" not in officer.views
    assert not (officer.incident_level or officer.rejected_rows or officer.raw_downloads)
    # panel: aggregate views and the pack only, disclosure control on screen, no raw data export
    assert panel.views == PROJECT_VIEWS - {"weekly", "data"} == set(AGGREGATE_VIEWS)
    assert panel.disclosure_on_screen and panel.briefing_pack
    assert not (panel.incident_level or panel.rejected_rows or panel.raw_downloads or panel.builtin_table_export)
    assert not panel.may_view("weekly") and panel.may_view("roads")
    with pytest.raises(ValueError, match="unknown role 'admin'"):
        capabilities_for("admin")


def test_streamlit_table_export_is_off_server_wide_because_some_role_must_not_have_it():
    assert not builtin_table_export_allowed()
    assert any(not c.builtin_table_export for c in CAPABILITIES.values())
    config = tomllib.loads((DEFAULT_ROLES_FILE.parents[1] / ".streamlit" / "config.toml").read_text())
    assert config["client"]["disableDataExport"] is True
    assert config["client"]["showErrorDetails"] == "none"
    assert config["server"]["enableAgentApi"] is False
    # nothing maps request headers into st.user, and no user attribute is published on /_stcore/metrics
    assert "trustedUserHeaders" not in config["server"] and "unsafeMetricsUserAttributes" not in config["server"]

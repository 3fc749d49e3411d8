"""A corpus of bad source files, generated into a temporary folder by the tests (no binaries in git).

Each `Case` is a set of files (relative path -> bytes) plus what loading them must do: either fail with
an exact `LoadError` text (the database unchanged) or succeed with exact rejects (file, line, reason) and
exact row counts (rows read = loaded + rejected). Expected values are written by hand from the file
contents below, never read back from the loaders.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

STREET_HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,"
    "Last outcome category,Context"
)
OUTCOMES_HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Outcome type"
)
STOP_SEARCH_HEADER = (
    "Type,Date,Part of a policing operation,Policing operation,Latitude,Longitude,Gender,Age range,"
    "Self-defined ethnicity,Officer-defined ethnicity,Legislation,Object of search,Outcome,"
    "Outcome linked to object of search,Removal of more than just outer clothing"
)
LOOKUP_HEADER = (
    ",Region code,Region name,Local authority code,Local authority name,MSOA Code,MSOA Name,LSOA Code,"
    "LSOA Name,Police_force"
)
CENSUS_HEADER = (
    "Region code,Region name,Local authority code,Local authority name,MSOA Code,MSOA Name,LSOA Code,"
    "LSOA Name,,Persons,Persons,Persons,Hectares,Persons per hectare,Households,Persons per household"
)
STATS19_COLLISION_HEADER = (
    "accident_index,accident_year,accident_reference,location_easting_osgr,location_northing_osgr,longitude,"
    "latitude,police_force,accident_severity,number_of_vehicles,number_of_casualties,date,day_of_week,time,"
    "local_authority_district,local_authority_ons_district,local_authority_highway,first_road_class,"
    "first_road_number,road_type,speed_limit,junction_detail,junction_control,second_road_class,"
    "second_road_number,pedestrian_crossing_human_control,pedestrian_crossing_physical_facilities,"
    "light_conditions,weather_conditions,road_surface_conditions,special_conditions_at_site,carriageway_hazards,"
    "urban_or_rural_area,did_police_officer_attend_scene_of_accident,trunk_road_flag,lsoa_of_accident_location"
)


def street_row(n: int, month: str = "2019-01", crime_type: str = "Burglary", lon: str = "0.470000",
               lat: str = "51.740000", crime_id: str | None = None, lsoa_name: str = "Chelmsford 001A") -> str:
    """One valid data.police.uk street row (n makes the Crime ID unique)."""
    cid = f"{n:064x}" if crime_id is None else crime_id
    return (
        f"{cid},{month},Essex Police,Essex Police,{lon},{lat},On or near High Street,E01021{n % 1000:03d},"
        f"{lsoa_name},{crime_type},Under investigation,"
    )


def street_file(rows: list[str], header: str = STREET_HEADER, newline: str = "\n", final_newline: bool = True) -> bytes:
    text = newline.join([header, *rows]) + (newline if final_newline else "")
    return text.encode("utf-8")


def good_street(month: str = "2019-01", count: int = 3, start: int = 1) -> bytes:
    return street_file([street_row(start + i, month) for i in range(count)])


def zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


@dataclass
class Reject:
    file: str  # path relative to the case folder; '!' separates a zip and its member
    line: int | None
    reason: str  # exact; a reason ending in '…' is a prefix (the rest is not yet right, see the report)

    def matches(self, reason: str) -> bool:
        if self.reason.endswith("…"):
            return any(reason.startswith(expected[:-1]) for expected in as_of_now(self.reason))
        return reason in as_of_now(self.reason)


@dataclass
class Case:
    """One fault. `error` is the exact LoadError text with `{root}` for the case folder; or `rejects` and
    `counts` ({file: (read, loaded, rejected)}) describe a load that succeeds."""

    name: str
    fault: str
    files: dict[str, bytes]
    error: str | None = None
    rejects: list[Reject] = field(default_factory=list)
    counts: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    sources: list[str] | None = None  # relative paths to load; default: the case folder
    options: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)

    def load_options(self, root: Path) -> dict:
        """The options to load with, `{root}` in a text option replaced by the case folder."""
        return {key: value.format(root=root) if isinstance(value, str) else value for key, value in self.options.items()}

    def write(self, root: Path) -> list[Path]:
        """Write the files under root; return the sources to pass to the loader."""
        for relative, data in self.files.items():
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return [root / s for s in self.sources] if self.sources else [root]


def _default_window(today: date) -> str:
    """The default plausible date window (docs/PLAUSIBILITY.md) of a load run on `today`: 2000-01-01 to the
    day after."""
    return f"2000-01-01 to {today + timedelta(days=1):%Y-%m-%d}"


WINDOW = _default_window(date.today())  # as of the day these cases were built


def as_of_now(text: str) -> set[str]:
    """An expected text as written, and with the default window as of today: a run that crosses midnight
    builds its cases on one day and loads on the next."""
    return {text, text.replace(WINDOW, _default_window(date.today()))}
OUTSIDE = " is outside the plausible date window " + WINDOW + " (see docs/PLAUSIBILITY.md)"

S = "2019-01/2019-01-essex-street.csv"  # the usual place of a street file in the corpus (a month the baseline lacks)
# a file whose only rows are rejected fails the load unless the rejects are accepted (etl.plausibility)
ACCEPT = {"accept_rejects": True}


def _latin1_street_file() -> bytes:
    """A street file with one Latin-1 byte (é, 0xe9) on line 3."""
    return street_file([street_row(1), street_row(2).replace("High Street", "Caf\u00e9 Street")]).replace(
        "Café".encode(), b"Caf\xe9")


def _headers_cases(add) -> None:
    """Cases: headers."""
    rows3 = [street_row(i) for i in (1, 2, 3)]
    add(Case("wrong_header", "a header that is not a data.police.uk header",
             {S: b"id,when,where\n1,2019-01,Chelmsford\n"}, error="{root}/2019-01/2019-01-essex-street.csv, line 1: header not recognised as any known source: 'id,when,where'"))
    add(Case("reordered_header", "two columns swapped",
             {S: street_file(rows3, header=STREET_HEADER.replace("Crime ID,Month", "Month,Crime ID"))}, error="{root}/2019-01/2019-01-essex-street.csv, line 1: header not recognised as any known source: 'Month,Crime ID,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context'. Closest is street (data.police.uk street-level crime and ASB, outcomes, and stop and search CSVs): columns out of order: column 1 is 'Month', expected 'Crime ID'"))
    add(Case("extra_header_column", "a column data.police.uk does not publish",
             {S: street_file([r + ",x" for r in rows3], header=STREET_HEADER + ",Notes")}, error="{root}/2019-01/2019-01-essex-street.csv, line 1: header not recognised as any known source: 'Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context,Notes'. Closest is street (data.police.uk street-level crime and ASB, outcomes, and stop and search CSVs): unexpected column(s): 'Notes'"))
    add(Case("missing_header_column", "the Context column is missing",
             {S: street_file([r.rsplit(",", 1)[0] for r in rows3], header=STREET_HEADER.rsplit(",", 1)[0])}, error="{root}/2019-01/2019-01-essex-street.csv, line 1: header not recognised as any known source: 'Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category'. Closest is street (data.police.uk street-level crime and ASB, outcomes, and stop and search CSVs): missing column(s): 'Context'"))
    add(Case("header_case_changed", "header in lower case",
             {S: street_file(rows3, header=STREET_HEADER.lower())}, error="{root}/2019-01/2019-01-essex-street.csv, line 1: header not recognised as any known source: 'crime id,month,reported by,falls within,longitude,latitude,location,lsoa code,lsoa name,crime type,last outcome category,context'"))


def _encodings_cases(add) -> None:
    """Cases: encodings."""
    rows3 = [street_row(i) for i in (1, 2, 3)]
    latin1 = _latin1_street_file()
    add(Case("not_utf8", "a Latin-1 byte on line 3", {S: latin1}, error='{root}/2019-01/2019-01-essex-street.csv, line 3: the file is not UTF-8: byte 0xe9 at byte '
             + str(latin1.index(b"\xe9")) + " cannot be decoded (save it as UTF-8)"))
    add(Case("utf16", "the file saved as UTF-16 (with BOM)",
             {S: "\n".join([STREET_HEADER, *rows3]).encode("utf-16")}, error='{root}/2019-01/2019-01-essex-street.csv, line 1: the file is UTF-16 encoded; save it as UTF-8 (data.police.uk files are UTF-8)'))
    add(Case("utf16_no_bom", "UTF-16-LE without a byte-order mark",
             {S: "\n".join([STREET_HEADER, *rows3]).encode("utf-16-le")}, error='{root}/2019-01/2019-01-essex-street.csv, line 1: the file contains NUL bytes: it looks like UTF-16 without a byte-order mark, or is not text; save it as UTF-8'))
    add(Case("utf8_bom", "a UTF-8 byte-order mark (Excel) loads normally",
             {S: b"\xef\xbb\xbf" + street_file(rows3)}, counts={S: (3, 3, 0)}))
    add(Case("crlf", "Windows line endings load normally",
             {S: street_file(rows3, newline="\r\n")}, counts={S: (3, 3, 0)}))


def _quoting_and_lines_cases(add) -> None:
    """Cases: quoting and lines."""
    rows3 = [street_row(i) for i in (1, 2, 3)]
    quoted = street_row(2).replace("On or near High Street", '"On or near ""The"" Street, North"')
    add(Case("embedded_quotes", "doubled quotes and a comma inside a quoted field load normally",
             {S: street_file([street_row(1), quoted, street_row(3)])}, counts={S: (3, 3, 0)}))
    multiline = street_row(2).replace("On or near High Street", '"On or near\nHigh Street"')
    add(Case("embedded_newline", "a quoted field spanning two lines; the next bad row keeps its physical line",
             {S: street_file([street_row(1), multiline, street_row(3, month="2019-13")])},
             rejects=[Reject(S, 5, "Month '2019-13' is not a month in the form YYYY-MM")], counts={S: (3, 2, 1)}))
    add(Case("truncated_last_line", "the last line cut off mid-row, no newline",
             {S: street_file([street_row(1), street_row(2), street_row(3)[:70]], final_newline=False)},
             rejects=[Reject(S, 4, 'too few columns (the line may be truncated): 2 found, 12 expected')], counts={S: (3, 2, 1)}))
    add(Case("truncated_in_quote", "the last line cut off inside a quoted field",
             {S: street_file([street_row(1), street_row(2).replace("On or near High Street", '"On or near Hi')],
                             final_newline=False)},
             rejects=[Reject(S, 3, 'badly quoted value (an unterminated or stray quote; the line may be truncated): Value with unterminated quote found.')], counts={S: (2, 1, 1)}))
    add(Case("no_final_newline", "a complete last row without a newline loads normally",
             {S: street_file(rows3, final_newline=False)}, counts={S: (3, 3, 0)}))
    add(Case("row_extra_column", "one row with a stray comma",
             {S: street_file([street_row(1), street_row(2) + ",extra", street_row(3)])},
             rejects=[Reject(S, 3, 'too many columns: 13 found, 12 expected')], counts={S: (3, 2, 1)}))
    add(Case("row_missing_column", "one row one column short",
             {S: street_file([street_row(1), street_row(2).rsplit(",", 1)[0], street_row(3)])},
             rejects=[Reject(S, 3, 'too few columns (the line may be truncated): 11 found, 12 expected')], counts={S: (3, 2, 1)}))
    add(Case("blank_lines", "blank lines between rows are not rows",
             {S: street_file([street_row(1), "", street_row(2), "", street_row(3)])}, counts={S: (3, 3, 0)}))
    add(Case("gigantic_line", "a 2 MB line (larger than any real row)",
             {S: street_file([street_row(1), street_row(2).replace("High Street", "X" * 2_000_000), street_row(3)])},
             rejects=[Reject(S, 3, 'line too long: Maximum line size of 1048576 bytes exceeded. Actual Size:2000185 bytes.')], counts={S: (3, 2, 1)}))


def _empty_cases(add) -> None:
    """Cases: empty."""
    add(Case("empty_file", "a 0-byte CSV", {S: b""}, error='{root}/2019-01/2019-01-essex-street.csv: the file is empty (0 bytes); expected a CSV with a header line'))
    add(Case("whitespace_file", "a file of blank lines", {S: b"\n\n\n"}, error='{root}/2019-01/2019-01-essex-street.csv, line 1: the first line is empty; expected a CSV header'))
    add(Case("header_only", "a header and no rows", {S: street_file([])}, error='{root}/2019-01/2019-01-essex-street.csv: the file has a header but no rows; loading it would empty its month. Leave it out of the load (data.police.uk month files always have rows)'))


def _values_cases(add) -> None:
    """Cases: values."""
    add(Case("non_numeric_coordinates", "Longitude 'abc'",
             {S: street_file([street_row(1), street_row(2, lon="abc"), street_row(3)])},
             rejects=[Reject(S, 3, 'value of the wrong type: Error when converting column "Longitude". Could not convert string "abc" to \'DOUBLE\'')], counts={S: (3, 2, 1)}))
    add(Case("coordinates_outside_uk", "a point in the Atlantic",
             {S: street_file([street_row(1), street_row(2, lon="-30.5", lat="40.1"), street_row(3)])},
             rejects=[Reject(S, 3, "coordinates (-30.5, 40.1) are outside the UK")], counts={S: (3, 2, 1)}))
    add(Case("one_coordinate", "Latitude without Longitude",
             {S: street_file([street_row(1), street_row(2, lon=""), street_row(3)])},
             rejects=[Reject(S, 3, "only one of Longitude and Latitude is given")], counts={S: (3, 2, 1)}))
    add(Case("impossible_month", "Month 2019-13",
             {S: street_file([street_row(1), street_row(2, month="2019-13"), street_row(3)])},
             rejects=[Reject(S, 3, "Month '2019-13' is not a month in the form YYYY-MM")], counts={S: (3, 2, 1)}))
    add(Case("month_not_a_date", "Month 'January'",
             {S: street_file([street_row(1), street_row(2, month="January"), street_row(3)])},
             rejects=[Reject(S, 3, "Month 'January' is not a month in the form YYYY-MM")], counts={S: (3, 2, 1)}))
    add(Case("month_file_mismatch", "a row for 2019-02 in the 2019-01 file",
             {S: street_file([street_row(1), street_row(2, month="2019-02"), street_row(3)])},
             rejects=[Reject(S, 3, "Month 2019-02 disagrees with the file's month 2019-01 (from its name or folder)")],
             counts={S: (3, 2, 1)}))
    add(Case("name_folder_mismatch", "the 2019-01 file inside the 2019-02 folder",
             {"2019-02/2019-01-essex-street.csv": good_street("2019-01")}, error='{root}/2019-02/2019-01-essex-street.csv: the file name says month 2019-01 but its folder says 2019-02; put the file in the folder of its month'))
    add(Case("empty_crime_type", "Crime type empty",
             {S: street_file([street_row(1), street_row(2, crime_type=""), street_row(3)])},
             rejects=[Reject(S, 3, "Crime type is empty")], counts={S: (3, 2, 1)}))
    add(Case("duplicate_rows", "the same row twice",
             {S: street_file([street_row(1), street_row(2), street_row(2), street_row(3)])},
             rejects=[Reject(S, 4, "duplicate row: Crime ID " + f"{2:064x}" + " already appears earlier in this file")],
             counts={S: (4, 3, 1)}))
    add(Case("same_force_month_twice", "2019-01 Essex in two folders of one load",
             {S: good_street(), "copy/" + S: good_street(start=10)}, error='{root}/copy/2019-01/2019-01-essex-street.csv: the same force-month (essex 2019-01, street) is in two files of this load; the other is {root}/2019-01/2019-01-essex-street.csv. Load one of them.'))


def _zips_cases(add) -> None:
    """Cases: zips."""
    latin1 = _latin1_street_file()
    Z = "download.zip"
    add(Case("zip_good", "a data.police.uk zip with a top folder loads",
             {Z: zip_bytes({"download/" + S: good_street()})}, counts={Z + "!download/" + S: (3, 3, 0)}))
    add(Case("zip_nested_folders", "members two folders deep",
             {Z: zip_bytes({"a/b/" + S: good_street()})}, error="{root}/download.zip: unexpected member 'a/b/2019-01/2019-01-essex-street.csv': a data.police.uk zip holds only YYYY-MM/YYYY-MM-<force>-street|outcomes|stop-and-search.csv files"))
    add(Case("zip_unrelated_member", "a README beside the month folders",
             {Z: zip_bytes({S: good_street(), "README.txt": b"hello\n"})}, error="{root}/download.zip: unexpected member 'README.txt': a data.police.uk zip holds only YYYY-MM/YYYY-MM-<force>-street|outcomes|stop-and-search.csv files"))
    add(Case("zip_path_traversal", "a member named ../../evil.csv",
             {Z: zip_bytes({"../../2019-01/2019-01-essex-street.csv": good_street()})}, error="{root}/download.zip: unsafe member path '../../2019-01/2019-01-essex-street.csv' (absolute or '..'); refusing to extract"))
    add(Case("zip_absolute_path", "a member with an absolute path",
             {Z: zip_bytes({"/tmp/2019-01/2019-01-essex-street.csv": good_street()})}, error="{root}/download.zip: unsafe member path '/tmp/2019-01/2019-01-essex-street.csv' (absolute or '..'); refusing to extract"))
    add(Case("zip_empty_file", "a 0-byte .zip", {Z: b""}, error='{root}/download.zip: the zip file is empty (0 bytes)'))
    add(Case("zip_not_a_zip", "a CSV renamed .zip", {Z: good_street()}, error='{root}/download.zip: not a valid zip file (File is not a zip file)'))
    add(Case("zip_only_folders", "a zip holding only folders",
             {Z: zip_bytes({"2019-01/": b""})}, error='{root}/download.zip: the zip holds no files'))
    bomb = zip_bytes({S: STREET_HEADER.encode() + b"\n" + b"0" * (64 * 1024**2)})
    bomb_info = zipfile.ZipFile(io.BytesIO(bomb)).infolist()[0]
    add(Case("zip_bomb_ratio", "a 64 MB member of zeros (about 64 kB compressed)", {Z: bomb},
             error=f"{{root}}/download.zip: member '{S}' expands "
                   f"{bomb_info.file_size / bomb_info.compress_size:.0f}-fold; refusing a likely zip bomb"))
    add(Case("zip_bomb_total", "members whose total exceeds the configured limit",
             {Z: zip_bytes({S: good_street(count=200), "2019-02/2019-02-essex-street.csv": good_street("2019-02", 200)})},
             error='{root}/download.zip: uncompressed contents exceed the limit of 60000 bytes (set CRIME_MONITOR_MAX_ZIP_BYTES to raise it); refusing a likely zip bomb', env={"zip_limit": 60_000}))
    add(Case("zip_member_not_utf8", "a zip member with a Latin-1 byte",
             {Z: zip_bytes({S: latin1})}, error='{root}/download.zip!2019-01/2019-01-essex-street.csv, line 3: the file is not UTF-8: byte 0xe9 at byte '
             + str(latin1.index(b"\xe9")) + " cannot be decoded (save it as UTF-8)"))


def _reference_loaders_cases(add) -> None:
    """Cases: reference loaders."""
    C = "census.csv"
    census_ok = "E12000006,EAST,E07000070,Chelmsford,E02004480,Chelmsford 001,E01021{n},Chelmsford 001{x},,\"1,563\",\"1,517\",46,650,2.4,666,2.3"
    add(Case("census_non_numeric", "Persons 'n/a'",
             {C: "\n".join([CENSUS_HEADER, census_ok.format(n="001", x="A"),
                            census_ok.format(n="002", x="B").replace('"1,563"', "n/a")]).encode() + b"\n"},
             rejects=[Reject(C, 3, "Persons 'n/a' / '1,517' / '46' is not a whole number")], counts={C: (2, 1, 1)}))
    add(Case("census_negative", "Persons -5",
             {C: "\n".join([CENSUS_HEADER, census_ok.format(n="001", x="A").replace('"1,563"', "-5")]).encode() + b"\n"},
             rejects=[Reject(C, 2, "Persons -5 is negative")], counts={C: (1, 0, 1)}, options=ACCEPT))
    L = "lookup.csv"
    lookup_ok = "1,E12000006,EAST,E07000070,Chelmsford,E02004480,Chelmsford 001,E01021{n},Chelmsford 001{x},Essex"
    add(Case("lookup_short_row", "a lookup row with 9 of 10 columns",
             {L: "\n".join([LOOKUP_HEADER, lookup_ok.format(n="001", x="A"),
                            lookup_ok.format(n="002", x="B").rsplit(",", 1)[0]]).encode() + b"\n"},
             rejects=[Reject(L, 3, "expected 10 columns, found 9")], counts={L: (2, 1, 1)}))
    add(Case("lookup_duplicate_lsoa", "the same LSOA twice in the lookup",
             {L: "\n".join([LOOKUP_HEADER, lookup_ok.format(n="001", x="A"), lookup_ok.format(n="001", x="A")]).encode() + b"\n"},
             error='{root}/lookup.csv: LSOA E01021001 appears 2 times'))
    add(Case("census_gigantic_line", "a census row with a 1 MB field",
             {C: "\n".join([CENSUS_HEADER, census_ok.format(n="001", x="A"),
                            census_ok.format(n="002", x="B").replace("Chelmsford 001,", "Y" * 1_000_000 + ",")]).encode() + b"\n"},
             error='{root}/census.csv, line 3: cannot read the CSV: field larger than field limit (131072); a field is'
                   ' longer than 131,072 characters, more than any real value (an unterminated quote makes the rest of'
                   ' the file one field)'))
    add(Case("lookup_not_utf8", "a Latin-1 byte in the lookup",
             {L: (LOOKUP_HEADER + "\n" + lookup_ok.format(n="001", x="A")).encode().replace(b"EAST", b"\xc9AST") + b"\n"},
             error='{root}/lookup.csv, line 2: the file is not UTF-8: byte 0xc9 at byte 132 cannot be decoded (save it as UTF-8)'))


def _outcomes_and_stop_and_search_cases(add) -> None:
    """Cases: outcomes and stop and search."""
    O = "2019-01/2019-01-essex-outcomes.csv"
    outcome_row = "{cid},2019-01,Essex Police,Essex Police,0.47,51.74,On or near High Street,E01021001,Chelmsford 001A,{outcome}"
    add(Case("outcome_without_crime_id", "an outcome row with no Crime ID",
             {O: "\n".join([OUTCOMES_HEADER, outcome_row.format(cid=f"{1:064x}", outcome="Offender fined"),
                            outcome_row.format(cid="", outcome="Offender fined")]).encode() + b"\n"},
             rejects=[Reject(O, 3, "Crime ID is empty (an outcome must name its crime)")], counts={O: (2, 1, 1)}))
    add(Case("outcome_empty_type", "an outcome row with no Outcome type",
             {O: "\n".join([OUTCOMES_HEADER, outcome_row.format(cid=f"{1:064x}", outcome="")]).encode() + b"\n"},
             rejects=[Reject(O, 2, "Outcome type is empty")], counts={O: (1, 0, 1)}, options=ACCEPT))
    SS = "2019-01/2019-01-essex-stop-and-search.csv"
    stop_row = "Person search,{date},False,,51.74,0.47,Male,18-24,White - English,White,Misuse of Drugs Act 1971 (section 23),Controlled drugs,Arrest,True,False"
    add(Case("stop_search_impossible_date", "a stop on 30 February",
             {SS: "\n".join([STOP_SEARCH_HEADER, stop_row.format(date="2019-01-05T10:00:00+00:00"),
                             stop_row.format(date="2019-02-30T10:00:00+00:00")]).encode() + b"\n"},
             rejects=[Reject(SS, 3, "Date '2019-02-30T10:00:00+00:00' is not a date-time (YYYY-MM-DDTHH:MM:SS+HH:MM)")], counts={SS: (2, 1, 1)}))
    add(Case("stop_search_month_mismatch", "a stop dated in another month than its file",
             {SS: "\n".join([STOP_SEARCH_HEADER, stop_row.format(date="2019-01-05T10:00:00+00:00"),
                             stop_row.format(date="2019-03-05T10:00:00+00:00")]).encode() + b"\n"},
             rejects=[Reject(SS, 3, "Date 2019-03-05T10:00:00+00:00 disagrees with the file's month 2019-01 (from its name or folder)")], counts={SS: (2, 1, 1)}))
    add(Case("stop_search_no_force", "a stop and search file whose name does not say the force",
             {"stops.csv": "\n".join([STOP_SEARCH_HEADER, stop_row.format(date="2019-01-05T10:00:00+00:00")]).encode() + b"\n"},
             error='{root}/stops.csv: cannot tell which force this file belongs to: name it YYYY-MM-<force>-stop-and-search.csv as data.police.uk does, or pass --force'))


def _stats19_cases(add) -> None:
    """Cases: STATS19."""
    T = "dft-road-casualty-statistics-collision-2022.csv"
    collision = ("2022420{n:06d},2022,420{n:06d},525199,177928,0.47,51.74,42,{severity},2,1,{date},4,16:40,-1,"
                 "E07000070,E07000070,3,3218,6,30,6,4,6,0,0,0,4,1,1,0,0,1,1,2,E01021001")
    add(Case("stats19_impossible_date", "a collision on 31/02/2022",
             {T: "\n".join([STATS19_COLLISION_HEADER, collision.format(n=1, severity=3, date="05/01/2022"),
                            collision.format(n=2, severity=3, date="31/02/2022")]).encode() + b"\n"},
             rejects=[Reject(T, 3, "date '31/02/2022' is not a date (dd/mm/yyyy)")], counts={T: (2, 1, 1)}))
    add(Case("stats19_bad_severity", "collision severity 7",
             {T: "\n".join([STATS19_COLLISION_HEADER, collision.format(n=1, severity=7, date="05/01/2022")]).encode() + b"\n"},
             rejects=[Reject(T, 2, "collision severity '7' is not 1 (fatal), 2 (serious) or 3 (slight)")], counts={T: (1, 0, 1)}, options=ACCEPT))
    add(Case("stats19_duplicate_collision", "the same collision twice",
             {T: "\n".join([STATS19_COLLISION_HEADER, collision.format(n=1, severity=3, date="05/01/2022"),
                            collision.format(n=1, severity=3, date="05/01/2022")]).encode() + b"\n"},
             rejects=[Reject(T, 3, 'duplicate row: collision_index already appears earlier in this file')], counts={T: (2, 1, 1)}))
    add(Case("stats19_truncated", "the last collision cut off",
             {T: ("\n".join([STATS19_COLLISION_HEADER, collision.format(n=1, severity=3, date="05/01/2022"),
                             collision.format(n=2, severity=3, date="05/01/2022")[:40]])).encode()},
             rejects=[Reject(T, 3, 'too few columns (the line may be truncated): 5 found, 36 expected')], counts={T: (2, 1, 1)}))


def _fraud_cases(add) -> None:
    """Cases: fraud."""
    F = "fraud.csv"
    fraud_head = "month,force,fraud_type,reports,reported_loss_gbp"
    add(Case("fraud_negative_reports", "reports -3",
             {F: "\n".join([fraud_head, "2020-04,Essex Police,Online shopping and auctions,120,35000.50",
                            "2020-04,Essex Police,Investment fraud,-3,1000"]).encode() + b"\n"},
             rejects=[Reject(F, 3, "reports '-3' is not a whole number >= 0")], counts={F: (2, 1, 1)}))
    add(Case("fraud_non_numeric_loss", "reported_loss_gbp 'about 1000'",
             {F: "\n".join([fraud_head, "2020-04,Essex Police,Investment fraud,3,about 1000"]).encode() + b"\n"},
             rejects=[Reject(F, 2, "reported_loss_gbp 'about 1000' is not a number >= 0")], counts={F: (1, 0, 1)}, options=ACCEPT))
    add(Case("fraud_impossible_month", "month 2020-13",
             {F: "\n".join([fraud_head, "2020-13,Essex Police,Investment fraud,3,100"]).encode() + b"\n"},
             rejects=[Reject(F, 2, "month '2020-13' is not YYYY-MM")], counts={F: (1, 0, 1)}, options=ACCEPT))
    add(Case("fraud_duplicate_row", "the same month, force and type twice",
             {F: "\n".join([fraud_head, "2020-04,Essex Police,Investment fraud,3,100",
                            "2020-04,Essex Police,Investment fraud,3,100"]).encode() + b"\n"},
             rejects=[Reject(F, 3, "duplicate row: essex 2020-04 'Investment fraud' already on line 2")], counts={F: (2, 1, 1)}))
    add(Case("fraud_unknown_force", "a force that does not exist",
             {F: "\n".join([fraud_head, "2020-04,Atlantis Police,Investment fraud,3,100"]).encode() + b"\n"},
             rejects=[Reject(F, 2, "force 'Atlantis Police' is not a police force of England and Wales")], counts={F: (1, 0, 1)}, options=ACCEPT))


def _force_measures_cases(add) -> None:
    """Cases: force measures."""
    M = "measures.csv"
    measures_head = "measure,period_start,period_end,value,unit,target,force"
    add(Case("measures_impossible_date", "period_start 2020-02-30",
             {M: "\n".join([measures_head, "999 calls answered within 10 seconds,2020-02-30,2020-02-29,91.5,%,90,Essex"]).encode() + b"\n"},
             rejects=[Reject(M, 2, "period_start '2020-02-30' is not a date (YYYY-MM-DD)")], counts={M: (1, 0, 1)}, options=ACCEPT))
    add(Case("measures_non_numeric_value", "value 'ninety'",
             {M: "\n".join([measures_head, "999 calls answered within 10 seconds,2020-02-01,2020-02-29,ninety,%,90,Essex"]).encode() + b"\n"},
             rejects=[Reject(M, 2, "value 'ninety' is not a number")], counts={M: (1, 0, 1)}, options=ACCEPT))
    add(Case("measures_end_before_start", "period_end before period_start",
             {M: "\n".join([measures_head, "999 calls answered within 10 seconds,2020-03-01,2020-02-01,91,%,90,Essex"]).encode() + b"\n"},
             rejects=[Reject(M, 2, 'period_end 2020-02-01 is before period_start 2020-03-01')], counts={M: (1, 0, 1)}, options=ACCEPT))


def _aggregate_counts_cases(add) -> None:
    """Cases: aggregate counts."""
    K = "counts.csv"
    add(Case("counts_non_numeric", "count '12a'",
             {K: "\n".join(["period,area,category,count", "2020-04,Chelmsford,Burglary,40", "2020-04,Chelmsford,Robbery,12a"]).encode() + b"\n"},
             rejects=[Reject(K, 3, "count '12a' is not a whole number ≥ 0")], counts={K: (2, 1, 1)}))
    add(Case("counts_negative", "count -4 in a tidy file",
             {K: "\n".join(["period,area,category,count", "2020-04,Chelmsford,Burglary,-4"]).encode() + b"\n"},
             rejects=[Reject(K, 2, "count '-4' is not a whole number ≥ 0")], counts={K: (1, 0, 1)}, options=ACCEPT))
    add(Case("counts_bad_period", "period 2020-00",
             {K: "\n".join(["period,area,category,count", "2020-00,Chelmsford,Burglary,4"]).encode() + b"\n"},
             rejects=[Reject(K, 2, "period '2020-00' is not a month in the form YYYY-MM (or YYYY-MM-01)")], counts={K: (1, 0, 1)}, options=ACCEPT))


def _force_incident_extract_cases(add) -> None:
    """Cases: force incident extract."""
    X = "extract.csv"
    extract_head = ("incident_ref,recorded_at,offence_code,offence_description,district,lsoa_code,domestic_abuse,"
                    "hate_crime,child_victim,outcome,outcome_date,victim_key")
    extract_row = "{ref},{at},008N,Assault with injury,Chelmsford,E01021001,{flag},N,N,Charged,,V1"
    add(Case("extract_impossible_datetime", "recorded_at 2020-04-31 10:00",
             {X: "\n".join([extract_head, extract_row.format(ref="A1", at="2020-04-30 10:00", flag="Y"),
                            extract_row.format(ref="A2", at="2020-04-31 10:00", flag="Y")]).encode() + b"\n"},
             rejects=[Reject(X, 3, "recorded_at '2020-04-31 10:00' is not a date-time (YYYY-MM-DD HH:MM[:SS])")], counts={X: (2, 1, 1)}, options={"force": "Essex"}))
    add(Case("extract_bad_flag", "domestic_abuse 'maybe'",
             {X: "\n".join([extract_head, extract_row.format(ref="A1", at="2020-04-30 10:00", flag="maybe")]).encode() + b"\n"},
             rejects=[Reject(X, 2, "domestic_abuse 'maybe' is not a yes/no value (true: y, yes, true, t, 1; false: n, no, false, f, 0)")], counts={X: (1, 0, 1)}, options={"force": "Essex", **ACCEPT}))
    add(Case("extract_duplicate_ref", "the same incident_ref twice",
             {X: "\n".join([extract_head, extract_row.format(ref="A1", at="2020-04-30 10:00", flag="Y"),
                            extract_row.format(ref="A1", at="2020-04-30 11:00", flag="Y")]).encode() + b"\n"},
             rejects=[Reject(X, 3, 'duplicate incident: A1 already on line 2')], counts={X: (2, 1, 1)}, options={"force": "Essex"}))
    for case in _replacement_cases():
        add(case)
    for case in _pattern_and_encoding_cases():
        add(case)
    for case in _mapping_cases():
        add(case)
    for case in _plausibility_cases():
        add(case)
    G = "boundaries.geojson"
    add(Case("geojson_invalid", "a GeoJSON file cut off", {G: b'{"type": "FeatureCollection", "features": [{"type":'},
             error='{root}/boundaries.geojson: not a readable GeoJSON file (Expecting value: line 1 column 52 (char 51))'))
    add(Case("geojson_no_features", "a GeoJSON object without features", {G: b'{"type": "Feature"}'}, error="{root}/boundaries.geojson: GeoJSON has no 'features' list"))


def _cases() -> list[Case]:
    cases: list[Case] = []
    for section in (_headers_cases, _encodings_cases, _quoting_and_lines_cases, _empty_cases, _values_cases,
                    _zips_cases, _reference_loaders_cases, _outcomes_and_stop_and_search_cases, _stats19_cases,
                    _fraud_cases, _force_measures_cases, _aggregate_counts_cases, _force_incident_extract_cases):
        section(cases.append)
    return cases


TAIL = "Fix the file, or pass --accept-rejects to "
X_HEAD = ("incident_ref,recorded_at,offence_code,offence_description,district,lsoa_code,domestic_abuse,hate_crime,"
          "child_victim,outcome,outcome_date,victim_key")


def _replacement_cases() -> list[Case]:
    """Files that would replace data with nothing or with far fewer rows than they read, and the same data
    twice in one load (issue 12)."""
    december = "2018-12/2018-12-essex-street.csv"  # the baseline holds 4 rows for essex 2018-12
    wrong_month = street_file([street_row(i, month="2018-11") for i in (1, 2, 3)])
    one_bad_in_ten = street_file([street_row(i, month="2018-12") for i in range(1, 5)] + [street_row(5, month="2018-11")]
                                 + [street_row(i, month="2018-12") for i in range(6, 11)])
    fraud_a = "month,force,fraud_type,reports,reported_loss_gbp\n2020-04,Essex Police,Investment fraud,3,100\n"
    fraud_b = "month,force,fraud_type,reports,reported_loss_gbp\n2020-04,Essex,Investment fraud,4,120\n"
    collision = ("2022420000001,2022,420000001,525199,177928,0.47,51.74,42,3,2,1,05/01/2022,4,16:40,-1,E07000070,"
                 "E07000070,3,3218,6,30,6,4,6,0,0,0,4,1,1,0,0,1,1,2,E01021001")
    Z = "download.zip"
    return [
        Case("all_rows_rejected_replacing_a_month", "November's rows in December's file (the issue's example)",
             {december: wrong_month},
             error="{root}/2018-12/2018-12-essex-street.csv: all 3 rows of this file were rejected (first: line 2: Month"
                   " 2018-11 disagrees with the file's month 2018-12 (from its name or folder)); loading it would replace"
                   " the 4 rows already in the warehouse (crimes of essex 2018-12) with nothing. " + TAIL
                   + "load it anyway (the rejects are then kept with their reasons)"),
        Case("a_tenth_rejected_replacing_a_month", "1 row of 10 rejected in a file replacing a month already loaded",
             {december: one_bad_in_ten},
             error="{root}/2018-12/2018-12-essex-street.csv: 1 of 10 rows of this file (10.0%) were rejected (first:"
                   " line 6: Month 2018-11 disagrees with the file's month 2018-12 (from its name or folder)); a file may"
                   " replace data already in the warehouse only when at most 5% of its rows are rejected, and this one"
                   " would replace 4 rows (crimes of essex 2018-12) with 9. " + TAIL + "load its accepted rows anyway"),
        Case("all_rows_rejected_new_month", "a new month whose every row is rejected",
             {S: street_file([street_row(i, month="2019-02") for i in (1, 2)])},
             error="{root}/2019-01/2019-01-essex-street.csv: all 2 rows of this file were rejected (first: line 2: Month"
                   " 2019-02 disagrees with the file's month 2019-01 (from its name or folder)); nothing would be loaded"
                   " from it. " + TAIL + "load it anyway (the rejects are then kept with their reasons)"),
        Case("zip_two_members_same_month", "a/2019-01/… (100 rows) and b/2019-01/… (50 rows) in one zip",
             {Z: zip_bytes({"a/" + S: good_street(count=100), "b/" + S: good_street(count=50, start=200)})},
             error="{root}/download.zip!b/2019-01/2019-01-essex-street.csv: the same force-month (essex 2019-01, street)"
                   " is in two files of this load; the other is {root}/download.zip!a/2019-01/2019-01-essex-street.csv."
                   " Load one of them."),
        Case("fraud_same_key_in_two_files", "two fraud files with Essex 2020-04 investment fraud",
             {"fraud-a.csv": fraud_a.encode(), "fraud-b.csv": fraud_b.encode()},
             error="{root}/fraud-b.csv: rows with the same force_id, month, fraud_type (force_id essex, month 2020-04-01,"
                   " fraud_type Investment fraud) are also in {root}/fraud-a.csv; two files for the same fraud rows in"
                   " one load would replace one with the other. Load one of them"),
        Case("stats19_collision_in_two_files", "the same collision in two collision files",
             {"collisions-a.csv": (STATS19_COLLISION_HEADER + "\n" + collision + "\n").encode(),
              "collisions-b.csv": (STATS19_COLLISION_HEADER + "\n" + collision + "\n").encode()},
             error="{root}/collisions-b.csv: rows with the same collision_index (collision_index 2022420000001) are also"
                   " in {root}/collisions-a.csv; two files for the same collisions rows in one load would replace one"
                   " with the other. Load one of them"),
    ]


def _pattern_and_encoding_cases() -> list[Case]:
    """Names DuckDB would read as patterns, CR-only line endings, NUL bytes after 64 kB, 128 kB fields."""
    glob_folder = "[x]*?"  # as a pattern it matches the sibling folder "xab"
    glob_collisions = "dft-collision-[2022]*.csv"  # as a pattern it matches "dft-collision-2.csv"
    collision = ("2022420{n:06d},2022,420{n:06d},525199,177928,0.47,51.74,42,3,2,1,05/01/2022,4,16:40,-1,E07000070,"
                 "E07000070,3,3218,6,30,6,4,6,0,0,0,4,1,1,0,0,1,1,2,E01021001")
    big = good_street(count=400)  # about 70 kB: the NUL byte below is past the first 64 kB
    nul_row = street_row(401).replace("High Street", "High\x00Street")
    with_nul = big + (nul_row + "\n").encode()
    cr_only = street_file([street_row(1), street_row(2)], newline="\r")
    huge = "x" * 200_000
    measures_head = "measure,period_start,period_end,value,unit,target,force"
    field_error = (": cannot read the CSV: field larger than field limit (131072); a field is longer than 131,072"
                   " characters, more than any real value (an unterminated quote makes the rest of the file one field)")
    return [
        Case("glob_characters_in_folder_name", "a month folder inside a folder named '[x]*?' (a sibling 'xab' exists)",
             {glob_folder + "/" + S: good_street(count=3), "xab/" + S: good_street(count=2, start=50)},
             sources=[glob_folder], counts={glob_folder + "/" + S: (3, 3, 0)}),
        Case("glob_characters_in_stats19_name", "a collision file named 'dft-collision-[2022]*.csv'",
             {glob_collisions: (STATS19_COLLISION_HEADER + "\n" + collision.format(n=1) + "\n").encode(),
              "dft-collision-2.csv": "\n".join([STATS19_COLLISION_HEADER, collision.format(n=7), collision.format(n=8)]).encode()},
             sources=[glob_collisions], counts={glob_collisions: (1, 1, 0)}),
        Case("month_from_the_rows", "a street file whose name and folder do not say its month (3 January rows, 1 February)",
             {"essex-street.csv": street_file([street_row(1), street_row(2), street_row(3, month="2019-02"), street_row(4)])},
             rejects=[Reject("essex-street.csv", 4, "Month 2019-02 disagrees with the file's month 2019-01 (the month of"
                                                    " most of its rows)")],
             counts={"essex-street.csv": (4, 3, 1)}),
        Case("name_says_another_force", "'2019-01-ess*-street.csv' (Essex rows) beside the Essex file",
             {S: good_street(count=3), "2019-01/2019-01-ess*-street.csv": good_street(count=2, start=20)},
             error="{root}/2019-01/2019-01-ess*-street.csv: the file name says force 'ess*' but its rows are reported by"
                   " 'Essex Police' (essex); rename the file after its force or fix its rows"),
        Case("cr_only_line_endings", "a street file whose lines end with CR only", {S: cr_only},
             error="{root}/2019-01/2019-01-essex-street.csv, line 1: the lines end with a carriage return only (CR, as"
                   " old Mac OS wrote text): CSV readers see one endless line. Save the file with LF or CRLF line endings"),
        Case("cr_only_fraud", "a fraud file whose lines end with CR only",
             {"fraud.csv": b"month,force,fraud_type,reports,reported_loss_gbp\r2020-04,Essex,Investment fraud,3,100\r"},
             error="{root}/fraud.csv, line 1: the lines end with a carriage return only (CR, as old Mac OS wrote text):"
                   " CSV readers see one endless line. Save the file with LF or CRLF line endings"),
        Case("nul_byte_after_64kb", "a NUL byte on line 402, past the first 64 kB", {S: with_nul},
             error="{root}/2019-01/2019-01-essex-street.csv, line 402: the file contains a NUL byte (at byte "
                   + str(with_nul.index(b"\x00")) + "); a text CSV has none: the file may be damaged or not text."
                   " Remove the NUL bytes or fetch the file again"),
        Case("fraud_field_over_128kb", "a 200 kB fraud_type on line 3",
             {"fraud.csv": ("month,force,fraud_type,reports,reported_loss_gbp\n2020-04,Essex,Investment fraud,3,100\n"
                            f"2020-04,Essex,{huge},3,100\n").encode()},
             error="{root}/fraud.csv, line 3" + field_error),
        Case("measures_field_over_128kb", "a 200 kB measure name on line 2",
             {"measures.csv": f"{measures_head}\n{huge},2020-02-01,2020-02-29,91,%,90,Essex\n".encode()},
             error="{root}/measures.csv, line 2" + field_error),
        Case("extract_field_over_128kb", "a 200 kB offence description on line 2",
             {"extract.csv": f"{X_HEAD}\nA1,2020-04-30 10:00,008N,{huge},Chelmsford,E01021001,Y,N,N,,,V1\n".encode()},
             error="{root}/extract.csv, line 2" + field_error, options={"force": "Essex"}),
    ]


MAPPING = """[extract]
force = "Essex Police"
recorded_at_format = "%d/%m/%Y %H:%M"
true_values = ["Y"]
false_values = ["N"]
[columns]
incident_ref = "Ref"
recorded_at = "When"
offence_code = "Code"
"""


def _mapping_cases() -> list[Case]:
    """Mapping files that are not UTF-8 or whose values have the wrong type (each a clear error with its line)."""
    extract = b"Ref,When,Code\nA1,30/04/2020 10:00,8N\n"
    options = {"mapping": "{root}/mapping.toml"}

    def case(name: str, fault: str, mapping: bytes, error: str) -> Case:
        return Case(name, fault, {"extract.csv": extract, "mapping.toml": mapping}, error="{root}/mapping.toml, " + error,
                    options=options)

    return [
        case("mapping_not_utf8", "a Latin-1 byte in a comment on line 5",
             MAPPING.replace("false_values", "# caf\u00e9\nfalse_values").encode("latin-1"),
             "line 5: the mapping file is not UTF-8: byte 0xe9 at byte "
             + str(MAPPING.index("false_values") + 5) + " cannot be decoded (save it as UTF-8)"),
        case("mapping_force_is_a_number", "force = 42", MAPPING.replace('"Essex Police"', "42").encode(),
             "line 2: [extract] force must be text in quotes, not 42 (a whole number)"),
        case("mapping_format_is_a_number", "recorded_at_format = 5",
             MAPPING.replace('"%d/%m/%Y %H:%M"', "5").encode(),
             "line 3: [extract] recorded_at_format must be text in quotes, not 5 (a whole number)"),
        case("mapping_true_values_is_text", 'true_values = "Yes" (must not become y, e, s)',
             MAPPING.replace('["Y"]', '"Yes"').encode(),
             "line 4: [extract] true_values must be a list of texts such as [\"Y\", \"Yes\", \"1\"], not 'Yes' (text)"),
        case("mapping_format_not_strptime", "recorded_at_format = 'dd/mm/yyyy hh:mm'",
             MAPPING.replace('"%d/%m/%Y %H:%M"', '"dd/mm/yyyy hh:mm"').encode(),
             "line 3: [extract] recorded_at_format 'dd/mm/yyyy hh:mm' is not a strptime format that reads a date"
             " (e.g. '%d/%m/%Y %H:%M')"),
    ]


def _plausibility_cases() -> list[Case]:
    """Dates outside the plausible window, outcomes before their crime, a five-digit year (rejects with reasons)."""
    X = "extract.csv"
    row = "{ref},{at},008N,Assault with injury,Chelmsford,E01021001,Y,N,N,Charged,{outcome},V1"
    SS = "2019-01/2019-01-essex-stop-and-search.csv"
    stop = ("Person search,{date},False,,51.74,0.47,Male,18-24,White - English,White,"
            "Misuse of Drugs Act 1971 (section 23),Controlled drugs,Arrest,True,False")
    T = "dft-road-casualty-statistics-collision-1999.csv"
    collision = ("1999420{n:06d},1999,420{n:06d},525199,177928,0.47,51.74,42,3,2,1,{date},4,16:40,-1,E07000070,"
                 "E07000070,3,3218,6,30,6,4,6,0,0,0,4,1,1,0,0,1,1,2,E01021001")
    fraud_head = "month,force,fraud_type,reports,reported_loss_gbp"
    measures_head = "measure,period_start,period_end,value,unit,target,force"
    return [
        Case("extract_implausible_dates", "recorded in year 1, 1900 and 2099; an outcome before its crime",
             {X: "\n".join([X_HEAD, row.format(ref="A1", at="2020-04-30 10:00", outcome="2020-05-02"),
                            row.format(ref="A2", at="0001-01-01 10:00", outcome=""),
                            row.format(ref="A3", at="1900-05-01 10:00", outcome=""),
                            row.format(ref="A4", at="2099-01-01 10:00", outcome=""),
                            row.format(ref="A5", at="2020-04-30 10:00", outcome="2020-04-01")]).encode() + b"\n"},
             rejects=[Reject(X, 3, "recorded_at '0001-01-01 10:00'" + OUTSIDE),
                      Reject(X, 4, "recorded_at '1900-05-01 10:00'" + OUTSIDE),
                      Reject(X, 5, "recorded_at '2099-01-01 10:00'" + OUTSIDE),
                      Reject(X, 6, "outcome_date '2020-04-01' is before the incident was recorded (recorded_at"
                                   " '2020-04-30 10:00'): an outcome cannot precede its crime")],
             counts={X: (5, 1, 4)}, options={"force": "Essex"}),
        Case("stop_search_five_digit_year", "a stop dated 12018-12-15 (a valid timestamp, never a month)",
             {SS: "\n".join([STOP_SEARCH_HEADER, stop.format(date="2019-01-05T10:00:00+00:00"),
                             stop.format(date="12018-12-15T10:00:00+00:00")]).encode() + b"\n"},
             rejects=[Reject(SS, 3, "Date '12018-12-15T10:00:00+00:00' is not a date-time (YYYY-MM-DDTHH:MM:SS+HH:MM)")],
             counts={SS: (2, 1, 1)}),
        Case("stats19_collision_before_2000", "a collision dated 05/01/1999 (the default window starts in 2000)",
             {T: "\n".join([STATS19_COLLISION_HEADER, collision.format(n=1, date="05/01/2022"),
                            collision.format(n=2, date="05/01/1999")]).encode() + b"\n"},
             rejects=[Reject(T, 3, "date 05/01/1999" + OUTSIDE)], counts={T: (2, 1, 1)}),
        Case("fraud_month_before_2000", "fraud month 1999-12",
             {"fraud.csv": "\n".join([fraud_head, "2020-04,Essex,Investment fraud,3,100",
                                      "1999-12,Essex,Investment fraud,3,100"]).encode() + b"\n"},
             rejects=[Reject("fraud.csv", 3, "month 1999-12" + OUTSIDE)], counts={"fraud.csv": (2, 1, 1)}),
        Case("measures_period_in_the_future", "a measure for January 2099",
             {"measures.csv": "\n".join([measures_head, "Police officers,2020-03-31,2020-03-31,3755,officers,,Essex",
                                         "Police officers,2099-01-01,2099-01-31,3900,officers,,Essex"]).encode() + b"\n"},
             rejects=[Reject("measures.csv", 3, "period_start 2099-01-01" + OUTSIDE)], counts={"measures.csv": (2, 1, 1)}),
        Case("counts_period_before_2000", "a counts period 1999-01",
             {"counts.csv": "\n".join(["period,area,category,count", "2020-04,Chelmsford,Burglary,40",
                                       "1999-01,Chelmsford,Burglary,12"]).encode() + b"\n"},
             rejects=[Reject("counts.csv", 3, "period 1999-01" + OUTSIDE)], counts={"counts.csv": (2, 1, 1)}),
        Case("street_month_in_the_future", "a month folder 2099-01 (every row outside the window)",
             {"2099-01/2099-01-essex-street.csv": good_street("2099-01", count=2)},
             error="{root}/2099-01/2099-01-essex-street.csv: all 2 rows of this file were rejected (first: line 2: Month"
                   " 2099-01" + OUTSIDE + "); nothing would be loaded from it. " + TAIL
                   + "load it anyway (the rejects are then kept with their reasons)"),
    ]


CASES: list[Case] = _cases()


# ---- running a case ------------------------------------------------------------------------------
BASELINE_FILES = {
    "2018-11/2018-11-essex-street.csv": good_street("2018-11", count=2, start=900),
    "2018-12/2018-12-essex-street.csv": good_street("2018-12", count=4, start=500),
}


def build_baseline(folder: Path, db: Path) -> None:
    """A small warehouse the cases load on top of: 2 rows for 2018-11 and 4 for 2018-12 (Essex). The cases'
    street files are for 2019-01 (new to it) unless a case is about replacing a month it holds."""
    from etl.load import load_sources

    for relative, data in BASELINE_FILES.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(data)
    load_sources([folder], db, progress=False)


def table_snapshot(db: Path) -> dict[str, list[tuple]]:
    """Every table's rows (sorted), read with a plain read-only connection."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1").fetchall()]
        # table names come from the catalogue, not from input
        return {t: sorted(con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}
    finally:
        con.close()

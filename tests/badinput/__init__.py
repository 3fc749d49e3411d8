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
    reason: str


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

    def write(self, root: Path) -> list[Path]:
        """Write the files under root; return the sources to pass to the loader."""
        for relative, data in self.files.items():
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return [root / s for s in self.sources] if self.sources else [root]


S = "2019-01/2019-01-essex-street.csv"  # the usual place of a street file in the corpus


def _cases() -> list[Case]:
    cases: list[Case] = []
    add = cases.append
    rows3 = [street_row(i) for i in (1, 2, 3)]

    # ---- headers -------------------------------------------------------------------------------
    add(Case("wrong_header", "a header that is not a data.police.uk header",
             {S: b"id,when,where\n1,2019-01,Chelmsford\n"}, error=""))
    add(Case("reordered_header", "two columns swapped",
             {S: street_file(rows3, header=STREET_HEADER.replace("Crime ID,Month", "Month,Crime ID"))}, error=""))
    add(Case("extra_header_column", "a column data.police.uk does not publish",
             {S: street_file([r + ",x" for r in rows3], header=STREET_HEADER + ",Notes")}, error=""))
    add(Case("missing_header_column", "the Context column is missing",
             {S: street_file([r.rsplit(",", 1)[0] for r in rows3], header=STREET_HEADER.rsplit(",", 1)[0])}, error=""))
    add(Case("header_case_changed", "header in lower case",
             {S: street_file(rows3, header=STREET_HEADER.lower())}, error=""))
    # ---- encodings -----------------------------------------------------------------------------
    latin1 = street_file([street_row(1), street_row(2).replace("High Street", "Caf\u00e9 Street")]).replace(
        "Café".encode(), b"Caf\xe9")
    add(Case("not_utf8", "a Latin-1 byte on line 3", {S: latin1}, error=""))
    add(Case("utf16", "the file saved as UTF-16 (with BOM)",
             {S: "\n".join([STREET_HEADER, *rows3]).encode("utf-16")}, error=""))
    add(Case("utf16_no_bom", "UTF-16-LE without a byte-order mark",
             {S: "\n".join([STREET_HEADER, *rows3]).encode("utf-16-le")}, error=""))
    add(Case("utf8_bom", "a UTF-8 byte-order mark (Excel) loads normally",
             {S: b"\xef\xbb\xbf" + street_file(rows3)}, counts={S: (3, 3, 0)}))
    add(Case("crlf", "Windows line endings load normally",
             {S: street_file(rows3, newline="\r\n")}, counts={S: (3, 3, 0)}))
    # ---- quoting and lines ---------------------------------------------------------------------
    quoted = street_row(2).replace("On or near High Street", '"On or near ""The"" Street, North"')
    add(Case("embedded_quotes", "doubled quotes and a comma inside a quoted field load normally",
             {S: street_file([street_row(1), quoted, street_row(3)])}, counts={S: (3, 3, 0)}))
    multiline = street_row(2).replace("On or near High Street", '"On or near\nHigh Street"')
    add(Case("embedded_newline", "a quoted field spanning two lines; the next bad row keeps its physical line",
             {S: street_file([street_row(1), multiline, street_row(3, month="2019-13")])},
             rejects=[Reject(S, 5, "Month '2019-13' is not a month in the form YYYY-MM")], counts={S: (3, 2, 1)}))
    add(Case("truncated_last_line", "the last line cut off mid-row, no newline",
             {S: street_file([street_row(1), street_row(2), street_row(3)[:70]], final_newline=False)},
             rejects=[Reject(S, 4, "")], counts={S: (3, 2, 1)}))
    add(Case("truncated_in_quote", "the last line cut off inside a quoted field",
             {S: street_file([street_row(1), street_row(2).replace("On or near High Street", '"On or near Hi')],
                             final_newline=False)},
             rejects=[Reject(S, 3, "")], counts={S: (2, 1, 1)}))
    add(Case("no_final_newline", "a complete last row without a newline loads normally",
             {S: street_file(rows3, final_newline=False)}, counts={S: (3, 3, 0)}))
    add(Case("row_extra_column", "one row with a stray comma",
             {S: street_file([street_row(1), street_row(2) + ",extra", street_row(3)])},
             rejects=[Reject(S, 3, "")], counts={S: (3, 2, 1)}))
    add(Case("row_missing_column", "one row one column short",
             {S: street_file([street_row(1), street_row(2).rsplit(",", 1)[0], street_row(3)])},
             rejects=[Reject(S, 3, "")], counts={S: (3, 2, 1)}))
    add(Case("blank_lines", "blank lines between rows are not rows",
             {S: street_file([street_row(1), "", street_row(2), "", street_row(3)])}, counts={S: (3, 3, 0)}))
    add(Case("gigantic_line", "a 2 MB line (larger than any real row)",
             {S: street_file([street_row(1), street_row(2).replace("High Street", "X" * 2_000_000), street_row(3)])},
             rejects=[Reject(S, 3, "")], counts={S: (3, 2, 1)}))
    # ---- empty ---------------------------------------------------------------------------------
    add(Case("empty_file", "a 0-byte CSV", {S: b""}, error=""))
    add(Case("whitespace_file", "a file of blank lines", {S: b"\n\n\n"}, error=""))
    add(Case("header_only", "a header and no rows", {S: street_file([])}, error=""))
    # ---- values --------------------------------------------------------------------------------
    add(Case("non_numeric_coordinates", "Longitude 'abc'",
             {S: street_file([street_row(1), street_row(2, lon="abc"), street_row(3)])},
             rejects=[Reject(S, 3, "")], counts={S: (3, 2, 1)}))
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
             {"2019-02/2019-01-essex-street.csv": good_street("2019-01")}, error=""))
    add(Case("empty_crime_type", "Crime type empty",
             {S: street_file([street_row(1), street_row(2, crime_type=""), street_row(3)])},
             rejects=[Reject(S, 3, "Crime type is empty")], counts={S: (3, 2, 1)}))
    add(Case("duplicate_rows", "the same row twice",
             {S: street_file([street_row(1), street_row(2), street_row(2), street_row(3)])},
             rejects=[Reject(S, 4, "duplicate row: Crime ID " + f"{2:064x}" + " already appears earlier in this file")],
             counts={S: (4, 3, 1)}))
    add(Case("same_force_month_twice", "2019-01 Essex in two folders of one load",
             {S: good_street(), "copy/" + S: good_street(start=10)}, error=""))
    # ---- zips ----------------------------------------------------------------------------------
    Z = "download.zip"
    add(Case("zip_good", "a data.police.uk zip with a top folder loads",
             {Z: zip_bytes({"download/" + S: good_street()})}, counts={Z + "!download/" + S: (3, 3, 0)}))
    add(Case("zip_nested_folders", "members two folders deep",
             {Z: zip_bytes({"a/b/" + S: good_street()})}, error=""))
    add(Case("zip_unrelated_member", "a README beside the month folders",
             {Z: zip_bytes({S: good_street(), "README.txt": b"hello\n"})}, error=""))
    add(Case("zip_path_traversal", "a member named ../../evil.csv",
             {Z: zip_bytes({"../../2019-01/2019-01-essex-street.csv": good_street()})}, error=""))
    add(Case("zip_absolute_path", "a member with an absolute path",
             {Z: zip_bytes({"/tmp/2019-01/2019-01-essex-street.csv": good_street()})}, error=""))
    add(Case("zip_empty_file", "a 0-byte .zip", {Z: b""}, error=""))
    add(Case("zip_not_a_zip", "a CSV renamed .zip", {Z: good_street()}, error=""))
    add(Case("zip_only_folders", "a zip holding only folders",
             {Z: zip_bytes({"2019-01/": b""})}, error=""))
    add(Case("zip_bomb_ratio", "a 64 MB member of zeros (about 64 kB compressed)",
             {Z: zip_bytes({S: STREET_HEADER.encode() + b"\n" + b"0" * (64 * 1024**2)})}, error=""))
    add(Case("zip_bomb_total", "members whose total exceeds the configured limit",
             {Z: zip_bytes({S: good_street(count=200), "2019-02/2019-02-essex-street.csv": good_street("2019-02", 200)})},
             error="", env={"zip_limit": 60_000}))
    add(Case("zip_member_not_utf8", "a zip member with a Latin-1 byte",
             {Z: zip_bytes({S: latin1})}, error=""))
    # ---- reference loaders ---------------------------------------------------------------------
    C = "census.csv"
    census_ok = "E12000006,EAST,E07000070,Chelmsford,E02004480,Chelmsford 001,E01021{n},Chelmsford 001{x},,\"1,563\",\"1,517\",46,650,2.4,666,2.3"
    add(Case("census_non_numeric", "Persons 'n/a'",
             {C: "\n".join([CENSUS_HEADER, census_ok.format(n="001", x="A"),
                            census_ok.format(n="002", x="B").replace('"1,563"', "n/a")]).encode() + b"\n"},
             rejects=[Reject(C, 3, "")], counts={C: (2, 1, 1)}))
    add(Case("census_negative", "Persons -5",
             {C: "\n".join([CENSUS_HEADER, census_ok.format(n="001", x="A").replace('"1,563"', "-5")]).encode() + b"\n"},
             rejects=[Reject(C, 2, "Persons -5 is negative")], counts={C: (1, 0, 1)}))
    L = "lookup.csv"
    lookup_ok = "1,E12000006,EAST,E07000070,Chelmsford,E02004480,Chelmsford 001,E01021{n},Chelmsford 001{x},Essex"
    add(Case("lookup_short_row", "a lookup row with 9 of 10 columns",
             {L: "\n".join([LOOKUP_HEADER, lookup_ok.format(n="001", x="A"),
                            lookup_ok.format(n="002", x="B").rsplit(",", 1)[0]]).encode() + b"\n"},
             rejects=[Reject(L, 3, "expected 10 columns, found 9")], counts={L: (2, 1, 1)}))
    add(Case("lookup_duplicate_lsoa", "the same LSOA twice in the lookup",
             {L: "\n".join([LOOKUP_HEADER, lookup_ok.format(n="001", x="A"), lookup_ok.format(n="001", x="A")]).encode() + b"\n"},
             error=""))
    G = "boundaries.geojson"
    add(Case("geojson_invalid", "a GeoJSON file cut off", {G: b'{"type": "FeatureCollection", "features": [{"type":'},
             error=""))
    add(Case("geojson_no_features", "a GeoJSON object without features", {G: b'{"type": "Feature"}'}, error=""))
    return cases


CASES: list[Case] = _cases()

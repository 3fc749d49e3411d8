"""Text that is safe to put inside markdown. Streamlit renders notices, captions and headings as markdown, so
a value from the URL (or from a data file) could otherwise become a live link, an image the browser fetches,
or a colour directive. `md_literal` makes any string read exactly as typed.
"""

from __future__ import annotations

import string
import unicodedata

MAX_SHOWN = 80  # characters of an untrusted value shown in a notice
_PUNCTUATION = frozenset(string.punctuation)


def md_literal(value: object, limit: int | None = MAX_SHOWN) -> str:
    """`value` as markdown that renders literally: every ASCII punctuation character backslash-escaped
    (CommonMark allows it for each one), so no link, image, HTML, emphasis, directive (':red[…]',
    ':material/…:') or autolinked URL ('https\\://…') can form; control characters and line breaks become
    spaces; at most `limit` characters, then '…'."""
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in str(value))
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    return "".join("\\" + c if c in _PUNCTUATION else c for c in text)


def quoted(value: object, limit: int | None = MAX_SHOWN) -> str:
    """A value from the URL inside curly quotes, safe in markdown: “…”."""
    return f"“{md_literal(value, limit)}”"


__all__ = ["md_literal", "quoted"]

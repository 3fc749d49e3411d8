"""Text that is safe to put inside markdown. Streamlit renders notices, captions and headings as markdown, so
a value from the URL (or from a data file) could otherwise become a live link, an image the browser fetches,
or a colour directive.

- `quoted(value)`: a value from the link, shown exactly as typed inside an inline code span (“`…`”): markdown
  is not read inside code, and no link is made from a URL there.
- `md_literal(value)`: a name from the data inside running text: every ASCII punctuation character
  backslash-escaped, and URLs, `www.` names and e-mail addresses broken with an invisible zero-width space
  (Streamlit's markdown turns bare URLs into links even when their punctuation is escaped).
"""

from __future__ import annotations

import re
import string
import unicodedata

MAX_SHOWN = 80  # characters of an untrusted value shown in a notice
ZERO_WIDTH_SPACE = "\u200b"
_PUNCTUATION = frozenset(string.punctuation)
_AUTOLINK = re.compile(r"(?i)(?<=:)(?=//)|(?<=www)(?=\.)|(?=@)")


def _clean(value: object, limit: int | None) -> str:
    """Control characters and line breaks as spaces; at most `limit` characters, then '…'."""
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in str(value))
    return text[:limit] + "…" if limit is not None and len(text) > limit else text


def md_literal(value: object, limit: int | None = MAX_SHOWN) -> str:
    """`value` as markdown that renders literally: no link, image, HTML, emphasis, directive (':red[…]',
    ':material/…:') or autolinked URL can form (see the module docstring)."""
    text = _AUTOLINK.sub(ZERO_WIDTH_SPACE, _clean(value, limit))
    return "".join("\\" + c if c in _PUNCTUATION else c for c in text)


def code_literal(value: object, limit: int | None = MAX_SHOWN) -> str:
    """`value` as an inline code span, whatever backticks it holds (a longer fence than any run inside)."""
    text = _clean(value, limit)
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or text.strip() == "" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def quoted(value: object, limit: int | None = MAX_SHOWN) -> str:
    """A value from the link, quoted and shown exactly as typed: “`…`”."""
    return f"“{code_literal(value, limit)}”"


__all__ = ["code_literal", "md_literal", "quoted"]

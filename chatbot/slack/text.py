"""Untrusted text made safe for Slack: no control characters, no mentions, no escape from a code block.

Test output, file names, diffs and the model's words come from the repository or the model.
Slack's mrkdwn turns `<!channel>`, `<@U123>` and `<https://x|label>` into mentions and links,
so `&`, `<` and `>` are escaped the way Slack documents ("Escaping text", docs.slack.dev:
replace & < > with &amp; &lt; &gt;); the words @channel/@here/@everyone get a zero-width joiner so
no client or `link_names` setting turns them into broadcasts. Code goes into rich_text
preformatted elements, whose text is literal: a backtick in a diff cannot close the block.
"""

from __future__ import annotations

import re

from slack_sdk.models.blocks import RichTextBlock
from slack_sdk.models.blocks.block_elements import RichTextElementParts, RichTextPreformattedElement

from agent.textsafe import clean_display

_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_ZWJ = "\u2060"  # word joiner: invisible, breaks the keyword for Slack's parser
MAX_SECTION = 3000  # Slack's limit for a section's text
MAX_PREFORMATTED = 3500  # what we put in one rich_text_preformatted element


def cut(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, with an ellipsis when it was cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def mrkdwn(text: object, limit: int = MAX_SECTION) -> str:
    """Untrusted text for a mrkdwn field: cleaned, & < > escaped, broadcasts defused, cut to `limit`."""
    value = clean_display(text if text is not None else "")
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _BROADCAST.sub(lambda m: "@" + _ZWJ + m.group(1), value)
    return cut(value, limit)


def line(text: object, limit: int = 300) -> str:
    """One line of untrusted text for mrkdwn: whitespace folded, then as `mrkdwn`."""
    return mrkdwn(" ".join(clean_display(text if text is not None else "").split()), limit)


def code_span(text: object, limit: int = 200) -> str:
    """Untrusted text shown as `inline code` in mrkdwn; a backtick inside cannot end the span."""
    value = line(text, limit).replace("`", "ʼ")
    return f"`{value}`" if value else "``"


def plain(text: object, limit: int = 150) -> str:
    """Untrusted text for a plain_text field (not parsed for mentions): cleaned, one line, cut."""
    value = " ".join(clean_display(text if text is not None else "").split())
    return cut(_BROADCAST.sub(lambda m: "@" + _ZWJ + m.group(1), value), limit)


def head_lines(text: object, max_lines: int, max_chars: int = MAX_PREFORMATTED) -> tuple[str, bool]:
    """The first `max_lines` lines of cleaned `text` within `max_chars`; and whether anything was left out."""
    value = clean_display(text if text is not None else "").rstrip("\n")
    lines = value.split("\n")
    kept = "\n".join(lines[:max_lines])
    truncated = len(lines) > max_lines
    if len(kept) > max_chars:
        kept, truncated = kept[:max_chars], True
    return kept, truncated


def preformatted(text: object, *, max_lines: int = 40, max_chars: int = MAX_PREFORMATTED) -> RichTextBlock:
    """A code block of untrusted text (literal: no mrkdwn, no mentions), cut to lines and characters."""
    kept, truncated = head_lines(text, max_lines, max_chars)
    if truncated:
        kept += "\n… (cut)"
    return RichTextBlock(elements=[RichTextPreformattedElement(
        elements=[RichTextElementParts.Text(text=kept or " ")])])

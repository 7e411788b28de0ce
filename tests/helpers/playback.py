"""Reading a playback page (opt.playback): its JSON, and the check that it needs no network."""

from __future__ import annotations

import json
import re
from typing import Any


def page_json(page: str, element: str) -> Any:
    """The JSON of ``<script type="application/json" id=element>`` in ``page``."""
    match = re.search(rf'<script type="application/json" id="{element}">(.*?)</script>', page, flags=re.S)
    assert match is not None, element
    return json.loads(match.group(1))


def assert_offline(page: str) -> None:
    """No script, stylesheet or other reference from the network (plotly.js itself inlined and skipped)."""
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, flags=re.I)
    assert not re.search(r"<link[^>]*href", page, flags=re.I)
    own = re.sub(r'<script type="text/javascript">.*?</script>', "", page, count=1, flags=re.S)  # plotly.js
    assert page.count("* plotly.js v") == 1 and "* plotly.js v" not in own
    assert not re.search(r"https?://", own), re.search(r".{40}https?://.{40}", own)

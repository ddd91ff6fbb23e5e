"""Every badge and ranking class a template uses has a rule in the stylesheet."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_badge_a_template_uses_is_styled():
    css = (ROOT / "static" / "css" / "site.css").read_text()
    used = {m for t in (ROOT / "templates").rglob("*.html") for m in re.findall(r"\bbadge-[a-z-]+", t.read_text())}
    assert {"badge-reference", "badge-disconnected"} <= used
    unstyled = sorted(b for b in used if not re.search(rf"\.{b}\b[^{{]*\{{", css))
    assert unstyled == []

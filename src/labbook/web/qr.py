"""What the subscribe block needs in templates: QR codes and feed addresses in a page's language.

The QR code is an SVG in a ``data:`` URI: the pages' CSP allows ``data:`` images and nothing inline
that runs or styles, and the page stays one request.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import segno

from labbook.feeds.service import in_language, subscribe_url


@lru_cache(maxsize=512)
def qr_data_uri(text: str) -> str:
    """``text`` as a QR code, black on a white quiet zone so that any camera reads it."""
    return str(segno.make(text, error="m").svg_data_uri(scale=4, border=4, dark="#000", light="#fff"))


# Registered as Jinja globals (``pages.template_config``), so macros of any audience may use them.
TEMPLATE_GLOBALS: dict[str, Any] = {
    "qr_data_uri": qr_data_uri,
    "feed_in_language": in_language,
    "webcal_url": subscribe_url,
}

"""Graph options: what can be drawn is accepted, anything else says what to use instead."""

from __future__ import annotations

import pytest

from aerie.errors import BadRequest
from app_servers.chart_options import chart_options


@pytest.mark.parametrize(
    ("change", "hint"),
    [
        ({"format": "gif"}, "'png' or 'svg'"),
        ({"style": "fancy"}, "'full', 'mini', 'spark', 'fill' or 'fill_bar', not 'fancy'"),
        ({"chart": "pie"}, "chart must be 'line' or 'histogram', not 'pie'"),
        ({"style": "fill", "width": 119}, "width must be 120 to 2000 pixels for style 'fill'"),
        ({"style": "fill_bar", "height": 59}, "60 to 1200 pixels for style 'fill_bar'"),
        ({"width": 5000}, "width must be"),
        ({"height": 10}, "height must be"),
        ({"timezone": "Mars/Olympus"}, "IANA name"),
        ({"timezone": "../etc/passwd"}, "IANA name"),
        ({"title": "x" * 201}, "limit is 200"),
    ],
)
def test_options_that_cannot_be_drawn_say_what_to_use(change: dict[str, object], hint: str) -> None:
    asked: dict[str, object] = {
        "format": "png", "width": 800, "height": 300, "timezone": "UTC", "style": "full",
        "title": "",
    }
    with pytest.raises(BadRequest) as caught:
        chart_options(**{**asked, **change})  # type: ignore[arg-type]
    assert hint in caught.value.message


def test_a_full_graph_too_small_for_its_labels_points_to_smaller_styles() -> None:
    with pytest.raises(BadRequest) as caught:
        chart_options("png", 800, 60, "UTC", "full", "")
    assert "use style 'mini' or 'spark'" in caught.value.message
    assert chart_options("png", 120, 40, "UTC", "spark", "").height == 40

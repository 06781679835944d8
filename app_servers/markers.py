"""Comment markers: a line and a glyph at each comment's moment, and in SVG the
comment's text as a tooltip, which matplotlib has no way to write.

Two steps, tied by group ids: ``mark_comments`` draws the markers while the
figure is drawn (inside ``charts.render_chart``, which holds matplotlib's lock)
and names their SVG groups; ``with_tooltips`` finds those groups in the saved
SVG and adds the text. Nothing here knows about styles or time axes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from xml.sax.saxutils import escape

from matplotlib.axes import Axes

from aerie.comments import Comment

MARKER = "#0f766e"  # comments: a teal apart from every stat's colour

_COMMENT_GROUP = re.compile(rb'<g id="comment-(\d+)(?:-line)?">')
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def mark_comments(axes: Axes, moments: Iterable[float], font: float) -> None:
    """A thin line at each moment (a comment's time as an x of ``axes``) under a small
    glyph at the top, sized to the style's ``font`` (points). Their SVG groups are
    ``comment-N`` and ``comment-N-line``, N being the moment's place, so ``moments``
    must be in the order of the comments later given to ``with_tooltips``."""
    for i, x in enumerate(moments):
        axes.axvline(x, color=MARKER, lw=0.9, alpha=0.7, zorder=7, gid=f"comment-{i}-line")
        axes.plot([x], [1], marker="v", ms=font * 0.8, color=MARKER, clip_on=False,
                  transform=axes.get_xaxis_transform(), zorder=8, gid=f"comment-{i}")


def with_tooltips(svg: bytes, comments: Sequence[Comment]) -> bytes:
    """Put each comment's text in its markers' groups as a ``<title>``, which browsers
    show on hover: matplotlib writes no titles itself. Characters XML cannot hold
    are dropped rather than making the whole SVG unreadable."""
    def titled(group: re.Match[bytes]) -> bytes:
        text = escape(_NOT_XML.sub("", comments[int(group[1])].text))
        return group[0] + b"<title>" + text.encode() + b"</title>"

    return _COMMENT_GROUP.sub(titled, svg)

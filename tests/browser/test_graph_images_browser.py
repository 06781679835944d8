"""Graph images fit their box: drawn at its width and the screen's pixel ratio, so axis
labels stay at least 11 CSS px on a phone and on dashboard cards; dark pages get dark graphs."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page
from sqlalchemy import Engine

from aerie import accounts, shares, stats
from tests.browser.conftest import WAIT_MS, Stack
from tests.browser.test_dashboard_browser import (
    log_in,
    sqlite_engine,  # noqa: F401  (fixture)
)
from tests.browser.test_responsive_browser import PHONE, owner_with_data

# The full look's labels are 9 pt at 100 dpi: 12.5 px of the image drawn at 1:1.
LABEL_PX = 9 * 100 / 72
SMALLEST_LABEL = 11


def browser_context(chromium: Browser, stack: Stack, **options: object) -> Iterator[BrowserContext]:
    context = chromium.new_context(base_url=stack.web, **options)  # type: ignore[arg-type]
    context.set_default_timeout(WAIT_MS)
    yield context
    context.close()


@pytest.fixture
def phone(chromium: Browser, stack: Stack) -> Iterator[Page]:
    """A 390x844 screen at 2 device pixels per CSS pixel, as a recent phone has."""
    for context in browser_context(chromium, stack, viewport=PHONE, device_scale_factor=2):
        yield context.new_page()


@pytest.fixture
def dark_desktop(chromium: Browser, stack: Stack) -> Iterator[Page]:
    for context in browser_context(chromium, stack, viewport={"width": 1280, "height": 900},
                                   color_scheme="dark"):
        yield context.new_page()


def drawn_images(page: Page, selector: str) -> list[dict[str, float | str]]:
    """Each decoded image's address (the one the browser chose) and its shown width (CSS px)."""
    page.wait_for_function(
        """sel => { const all = [...document.querySelectorAll(sel)];
                    return all.length > 0 && all.every(i => i.complete && i.naturalWidth > 0); }""",
        arg=selector, timeout=WAIT_MS,
    )
    return page.eval_on_selector_all(
        selector,
        "all => all.map(i => ({src: i.currentSrc, shown: i.getBoundingClientRect().width}))",
    )


def asked_width(image: dict[str, float | str]) -> int:
    """The layout width the image was drawn for (its ``w``)."""
    return int(parse_qs(urlsplit(str(image["src"])).query)["w"][0])


def pixel_width(page: Page, image: dict[str, float | str]) -> int:
    """The image file's own width in pixels (``naturalWidth`` divides by its density)."""
    answer = page.request.get(str(image["src"]))
    assert answer.ok, answer.status
    return Image.open(io.BytesIO(answer.body())).size[0]


def label_css_px(image: dict[str, float | str]) -> float:
    """How tall the axis labels are on screen: the image is drawn for width ``w``."""
    return LABEL_PX * float(image["shown"]) / asked_width(image)


def test_a_phone_gets_graphs_at_its_width_and_pixel_ratio(
    phone: Page, sqlite_engine: Engine  # noqa: F811
) -> None:
    email, stat_id, board_id = owner_with_data(sqlite_engine)
    log_in(phone, email)

    phone.goto(f"/stats/{stat_id}")
    (image,) = drawn_images(phone, ".graph[data-graph] img")
    assert pixel_width(phone, image) == 2 * asked_width(image)  # a 2x image, not stretched
    assert label_css_px(image) >= SMALLEST_LABEL
    assert float(image["shown"]) <= PHONE["width"]

    phone.goto(f"/dashboards/{board_id}")
    (card,) = drawn_images(phone, "img.card-graph")
    assert pixel_width(phone, card) == 2 * asked_width(card)
    assert label_css_px(card) >= SMALLEST_LABEL


def test_dashboard_cards_on_a_desktop_are_drawn_at_their_width(
    page: Page, sqlite_engine: Engine  # noqa: F811
) -> None:
    """Today's cards were 720 px images shrunk into ~500 px cards: 8 px labels."""
    email, _, board_id = owner_with_data(sqlite_engine)
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, email)
    page.goto(f"/dashboards/{board_id}")
    (card,) = drawn_images(page, "img.card-graph")
    assert label_css_px(card) >= SMALLEST_LABEL
    assert "theme=dark" not in str(card["src"])


def test_dark_mode_gets_dark_graphs(dark_desktop: Page, sqlite_engine: Engine) -> None:  # noqa: F811
    email, stat_id, _ = owner_with_data(sqlite_engine)
    log_in(dark_desktop, email)
    dark_desktop.goto(f"/stats/{stat_id}")
    (image,) = drawn_images(dark_desktop, ".graph[data-graph] img")
    assert "theme=dark" in str(image["src"])
    corner = dark_desktop.eval_on_selector(
        ".graph[data-graph] img",
        """img => { const c = document.createElement("canvas");
                    c.width = img.naturalWidth; c.height = img.naturalHeight;
                    const g = c.getContext("2d"); g.drawImage(img, 0, 0);
                    return [...g.getImageData(2, 2, 1, 1).data].slice(0, 3); }""",
    )
    assert sum(corner) < 150, f"a light graph on a dark page: {corner}"


def test_an_embedded_graph_is_sharp_on_a_dense_screen(
    phone: Page, sqlite_engine: Engine  # noqa: F811
) -> None:
    """An embed keeps the size its author chose; a 2x screen gets a 2x image of it."""
    email, stat_id, _ = owner_with_data(sqlite_engine)
    with sqlite_engine.begin() as conn:
        owner = accounts.user_by_email(conn, email)
        assert owner is not None
        stat = stats.owned_stat(conn, owner.id, stat_id)
        key = shares.share_stat(conn, owner.id, stat.id, int(time.time())).key
    phone.goto(f"/embed/graph/{key}?w=360&h=180&tf=day")
    (image,) = drawn_images(phone, ".stathat-embed img")
    assert "scale=2" in str(image["src"])
    assert pixel_width(phone, image) == 720

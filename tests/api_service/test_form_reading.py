"""Form bodies and query strings read as the standard library reads them: the quick
road taken when nothing is escaped gives exactly what ``parse_qsl`` gives."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from aerie.errors import BadRequest
from api_service.parsing import merged_params

FORMS = [
    "ukey=abc&key=def&count=1",
    "a=1&&b=2",  # an empty piece is skipped
    "a",  # a name alone has the empty value
    "a=",
    "=1",
    "a=1=2",  # only the first = splits
    "&",
    "",
    "a=1&a=2",  # the first one wins, as in Go's FormValue
    "&&a&",
    "a==&==",
    "stat=caf\u00e9&count=1",
    "stat=a%20b&count=1",  # escaped: the standard reader's road
    "stat=a+b&value=1e+21",
    "stat=%E2%9C%93",
]


@pytest.mark.parametrize("form", FORMS)
def test_a_form_body_reads_as_parse_qsl_reads_it(form: str) -> None:
    """As parse_qsl reads it, a name's first value kept (StatHat's Go server's FormValue)."""
    expected = dict(reversed(parse_qsl(form, keep_blank_values=True, errors="strict")))
    assert merged_params(b"", "application/x-www-form-urlencoded", form.encode()) == expected
    assert merged_params(form.encode(), "", b"") == expected


@pytest.mark.parametrize("raw", [b"stat=\xff&count=1", b"stat=%FF&count=1"],
                         ids=["raw byte", "escaped byte"])
def test_a_form_that_is_not_utf8_is_refused_with_what_to_fix(raw: bytes) -> None:
    with pytest.raises(BadRequest, match="not UTF-8"):
        merged_params(b"", "application/x-www-form-urlencoded", raw)

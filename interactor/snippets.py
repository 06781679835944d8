"""'How to send data': copy-paste examples carrying a stat's real keys."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from aerie.accounts import User
from aerie.stats import Stat


@dataclass(frozen=True)
class Snippet:
    language: str  # the tab's label
    code: str


def send_examples(stat: Stat, user: User, api_url: str) -> list[Snippet]:
    """Examples for curl, an HTML beacon, JavaScript, Python and Go, in that order.

    Classic posts (``/c`` or ``/v`` with the stat key and user key) name the stat
    by its keys, so they keep working if the stat is renamed; the curl tab also
    shows the EZ form, which names the stat and creates it on first use.
    """
    verb, field, sample = ("c", "count", "1") if stat.counter else ("v", "value", "42.5")
    url = f"{api_url}/{verb}"
    fields = {"key": stat.classic_key, "ukey": user.ukey, field: sample}
    query = urlencode(fields)
    ez_query = urlencode({"ezkey": user.ezkey, "stat": stat.name, field: sample})
    return [
        Snippet("curl", f'curl -d "{query}" {url}\n\n# or by name, with your EZ key:\n'
                        f'curl -d "{ez_query}" {api_url}/ez'),
        Snippet("HTML", f'<img src="{url}?{query}" width="1" height="1" alt="">'),
        Snippet("JavaScript", _javascript(url, fields)),
        Snippet("Python", _python(url, fields)),
        Snippet("Go", _go(url, fields)),
    ]


def _javascript(url: str, fields: dict[str, str]) -> str:
    body = ", ".join(f"{k}: {_quoted(v)}" for k, v in fields.items())
    return (
        f'fetch("{url}", {{\n  method: "POST",\n  body: new URLSearchParams({{{body}}}),\n}});'
    )


def _python(url: str, fields: dict[str, str]) -> str:
    body = ", ".join(f"{_quoted(k)}: {_quoted(v)}" for k, v in fields.items())
    return (
        "import urllib.parse, urllib.request\n\n"
        f"data = urllib.parse.urlencode({{{body}}}).encode()\n"
        f'urllib.request.urlopen("{url}", data, timeout=5)'
    )


def _go(url: str, fields: dict[str, str]) -> str:
    body = "\n".join(f'\t\t{_quoted(k)}: {{{_quoted(v)}}},' for k, v in fields.items())
    return (
        'import (\n\t"net/http"\n\t"net/url"\n)\n\n'
        f'resp, err := http.PostForm("{url}", url.Values{{\n{body}\n\t}})\n'
        "if err == nil {\n\tresp.Body.Close()\n}"
    )


def _quoted(text: str) -> str:
    """A double-quoted string literal valid in JavaScript, Python and Go for our keys and names."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

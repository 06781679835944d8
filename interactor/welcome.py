"""The landing page's use case: tell a visitor Aerie runs and how to talk to it."""

from __future__ import annotations

from dataclasses import dataclass

from aerie.settings import Settings


@dataclass(frozen=True)
class Example:
    title: str
    command: str


@dataclass(frozen=True)
class Welcome:
    status: str
    api_url: str
    web_url: str
    examples: list[Example]


def describe_service(settings: Settings) -> Welcome:
    """Copy-paste examples that point at this installation's own hosts and ports."""
    api_url = settings.api_url
    web_url = settings.web_url
    return Welcome(
        status="running",
        api_url=api_url,
        web_url=web_url,
        examples=[
            Example(
                "Count a signup",
                f'curl -d "ezkey=you@example.com&stat=signups&count=1" {api_url}/ez',
            ),
            Example(
                "Record a value",
                f'curl -d "ezkey=you@example.com&stat=load+time&value=0.42" {api_url}/ez',
            ),
            Example("List your stats", f"curl {web_url}/x/TOKEN/statlist"),
            Example("Read a week of hourly points", f"curl '{web_url}/x/TOKEN/data/ID?t=1w1h'"),
        ],
    )

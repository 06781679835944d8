"""JSON shapes of the account pages.

A password hash never leaves, and a token's secret appears only in the answer
that created it; listed tokens show their first characters so people can tell
them apart.
"""

from __future__ import annotations

from aerie.accounts import NewToken, TokenInfo
from interactor.account_settings import SettingsPage
from presenters.json import JSONValue


def token_object(token: TokenInfo) -> dict[str, JSONValue]:
    return {
        "id": token.id,
        "prefix": token.prefix,
        "label": token.label,
        "created_at": token.created_at,
        "revoked_at": token.revoked_at,
    }


def new_token_object(token: NewToken) -> dict[str, JSONValue]:
    """The just-created token, secret included: the caller must keep it now."""
    return {"id": token.id, "token": token.token, "label": token.label}


def settings(page: SettingsPage) -> dict[str, JSONValue]:
    """``{"email", "verified", "timezone", "ezkey", "ez_enabled", "ukey", "api_url", "tokens"}``,
    plus ``"new_token"`` in the answer that created one."""
    shape: dict[str, JSONValue] = {
        "email": page.email,
        "verified": page.verified,
        "timezone": page.timezone,
        "ezkey": page.ezkey,
        "ez_enabled": page.ez_enabled,
        "ukey": page.ukey,
        "api_url": page.api_url,
        "tokens": [token_object(t) for t in page.tokens],
    }
    if page.new_token is not None:
        shape["new_token"] = new_token_object(page.new_token)
    return shape

"""Alert rules from form fields, as the web form and StatHat's export API send them.

The edge's work: each field is checked and named in the error when it needs fixing,
so the kernel only ever sees a typed ``aerie.contracts.Rule``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from aerie import webhook_targets
from aerie.alerts import KINDS, MAX_REPEAT_MINUTES, OPERATORS, WINDOWS
from aerie.contracts import Rule
from aerie.errors import BadRequest
from aerie.text_rules import check_text, decimal_number, is_whole_number


def _number(form: Mapping[str, str], name: str, example: str) -> float:
    """The field's number; an empty field asks for one, with ``example``."""
    text = (form.get(name) or "").strip(" ")
    if not text:
        raise BadRequest(f"enter a {name}, such as {example}")
    return decimal_number(name, text)


def _choice(form: Mapping[str, str], name: str, allowed: Mapping[str, object] | tuple[str, ...],
            default: str | None = None) -> str:
    value = (form.get(name) or default or "").strip()
    if value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise BadRequest(f"{name} must be one of {options}, not {value!r}")
    return value


def parse_rule(form: Mapping[str, str]) -> Rule:
    """A Rule from form fields as StatHat's clients send them (``operator=gt`` included);
    BadRequest names the field to fix."""
    for name, value in form.items():
        check_text(name, value)
    kind = _choice(form, "kind", KINDS)
    window = _choice(form, "time_window", WINDOWS)
    rule = Rule(kind, window, repeat_minutes=_repeat(form), email=_flag(form, "email", True),
                webhook_url=_webhook(form))
    if kind == "value":
        operator = OPERATORS[_choice(form, "operator", OPERATORS)]
        if operator == "different than":
            raise BadRequest("a value alert's operator is 'greater than' or 'less than'")
        return replace(rule, operator=operator, threshold=_number(form, "threshold", "500"))
    if kind == "delta":
        operator = OPERATORS[_choice(form, "operator", OPERATORS)]
        percentage = _number(form, "percentage", "25")
        if percentage <= 0:
            raise BadRequest(f"percentage must be above 0, such as 25, not {percentage:g}")
        delta = _choice(form, "time_delta", WINDOWS, default=window)
        return replace(rule, operator=operator, percentage=percentage, time_delta=delta)
    return rule


def _repeat(form: Mapping[str, str]) -> int:
    text = (form.get("repeat_minutes") or "60").strip()
    if not is_whole_number(text) or int(text) > MAX_REPEAT_MINUTES:
        raise BadRequest(
            f"repeat_minutes must be 0 (notify once) to {MAX_REPEAT_MINUTES}, not {text!r}")
    return int(text)


def _flag(form: Mapping[str, str], name: str, default: bool) -> bool:
    if name not in form:
        return default
    return form[name].strip().lower() in ("1", "true", "on", "yes")


def _webhook(form: Mapping[str, str]) -> str | None:
    """The URL's form only; where it leads is checked when it is saved (``check_webhook``)."""
    url = (form.get("webhook_url") or "").strip()
    if not url:
        return None
    webhook_targets.parse_url(url)
    return url

"""Serving a method under a params model: the model must fit the method, and its
validation errors read like the server's own.

``rpc.server`` validates the params of a service given ``contracts`` with the
method's model (``aerie.contracts``); this module checks at start-up that the model
and the method agree, and words each pydantic error as ``ServedMethod.bind`` words
a problem, so callers see the same messages whichever way a method is validated.
"""

from __future__ import annotations

from pydantic import BaseModel
from pydantic_core import ErrorDetails


def check_contract(name: str, method: dict[str, bool], contract: type[BaseModel]) -> None:
    """TypeError at start-up unless ``contract`` names exactly the method's parameters
    (``method``: each name and whether it is required), each required exactly where the
    method requires it."""
    model = {field: info.is_required() for field, info in contract.model_fields.items()}
    if method != model:
        raise TypeError(
            f"{name}() does not match its contract {contract.__name__}: the method takes "
            f"{describe_parameters(method)}, the contract names {describe_parameters(model)}"
        )


def describe_parameters(parameters: dict[str, bool]) -> str:
    return ", ".join(name + ("" if required else "=...") for name, required in parameters.items())


def contract_problem(error: ErrorDetails) -> str:
    """One pydantic error of a params model, in the words ``ServedMethod.bind`` uses."""
    where = [str(part) for part in error["loc"]]
    if error["type"] == "missing" and len(where) == 1:
        return f"missing parameter {where[0]!r}"
    if error["type"] == "extra_forbidden" and len(where) == 1:
        return f"unexpected parameter {where[0]!r}"
    inner = ".".join(where[1:])
    return f"parameter {where[0]!r}: {inner + ': ' if inner else ''}{error['msg']}"

"""Observations read back from an evidence JSON: the inverse of :func:`evidence.to_jsonable`.

``python -m mailtls merge`` draws the same report a single run draws: the same evidence blocks
and the same certificate-expiry view. Both are rendered from the typed observation records, so
the merge turns each observation's JSON back into its record, field by field, guided by the
record's type hints. A record this module cannot rebuild exactly (a newer or foreign file) stays
JSON, and the report shows it as such; :func:`load` never guesses.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import ssl
import types
import typing
from typing import Any, Literal, Union

from mailtls.authobs import DkimLookup, DmarcLookup, SpfEvaluation
from mailtls.dane import DaneAssessment
from mailtls.evidence import to_jsonable
from mailtls.observations import (
    Discovery,
    PolicyFetch,
    SmtpObservation,
    SubmissionDiscovery,
    TlsScan,
)
from mailtls.scheduler import ProbeCrash
from mailtls.sharing import SniProbe

#: The records a probe hands to a check (render_html's cases); nested records are found from them.
ROOTS: tuple[type, ...] = (
    Discovery,
    SubmissionDiscovery,
    SmtpObservation,
    PolicyFetch,
    DaneAssessment,
    TlsScan,
    SpfEvaluation,
    DkimLookup,
    DmarcLookup,
    SniProbe,
    ProbeCrash,
)


class NotOurs(ValueError):
    """The JSON does not match the record type it names."""


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _registry() -> dict[str, type]:
    found: dict[str, type] = {}
    todo: list[Any] = list(ROOTS)
    while todo:
        hint = todo.pop()
        if dataclasses.is_dataclass(hint) and isinstance(hint, type):
            if hint.__name__ not in found:
                found[hint.__name__] = hint
                todo += list(_hints(hint).values())
        else:
            todo += list(typing.get_args(hint))
    return found


_REGISTRY: dict[str, type] | None = None


def _decode(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arm in (a for a in args if a is not type(None)):
            try:
                return _decode(arm, value)
            except (NotOurs, KeyError, TypeError, ValueError):
                continue
        raise NotOurs(f"{value!r:.60} fits none of {hint}")
    if origin is Literal:
        if value in args:
            return value
        raise NotOurs(f"{value!r:.60} is not one of {args}")
    if origin is tuple:
        if not isinstance(value, list):
            raise NotOurs(f"expected a list, got {type(value).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v) for v in value)
        if len(args) != len(value):
            raise NotOurs(f"expected {len(args)} items, got {len(value)}")
        return tuple(_decode(a, v) for a, v in zip(args, value, strict=True))
    if origin is dict and isinstance(value, dict):
        return {_decode(args[0], k): _decode(args[1], v) for k, v in value.items()}
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _record(hint, value)
    if hint is bytes and isinstance(value, str):
        return base64.b64decode(value, validate=True)
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if hint in (str, int, bool) and type(value) is hint:
        return value
    raise NotOurs(f"{value!r:.60} is not a {hint}")


def _record(cls: type, raw: Any) -> Any:
    if not isinstance(raw, dict) or raw.get("type") != cls.__name__:
        raise NotOurs(f"not a {cls.__name__}")
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name == "chain_der":
            pems = raw["chain_pem"]
            kwargs[f.name] = tuple(ssl.PEM_cert_to_DER_cert(p) for p in pems)
        elif cls is PolicyFetch and f.name == "body":
            kwargs[f.name] = _decode(bytes, raw["body_base64"])
        elif f.name in raw:
            kwargs[f.name] = _decode(hints[f.name], raw[f.name])
        else:
            raise NotOurs(f"{cls.__name__} without {f.name}")
    return cls(**kwargs)


def _expand_answers(node: Any, answers: list[Any] | None = None) -> Any:
    """The JSON with each ``{"answer": i}`` replaced by the answer it refers to: the ``i``-th of
    the nearest enclosing record's ``answers`` list (see :func:`evidence.to_jsonable`)."""
    if isinstance(node, list):
        return [_expand_answers(x, answers) for x in node]
    if not isinstance(node, dict):
        return node
    if answers is not None and set(node) == {"answer"} and type(node["answer"]) is int:
        index = node["answer"]
        if not 0 <= index < len(answers):
            raise NotOurs(f"answer {index} is not in the record's answers")
        return answers[index]
    own = node.get("answers")
    if isinstance(own, list) and all(
        isinstance(a, dict) and a.get("type") == "DnsAnswer" for a in own
    ):
        answers = own
    return {k: v if k == "answers" else _expand_answers(v, answers) for k, v in node.items()}


def load(raw: object) -> object:
    """The record an observation's JSON came from, or the JSON itself where that is not sure.

    Sure means: the record written out again is exactly the JSON that was read (so the evidence
    digest, the report's evidence and the expiry view are the single run's).
    """
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _registry()
    cls = _REGISTRY.get(raw.get("type", "")) if isinstance(raw, dict) else None
    if cls is None or cls not in ROOTS:
        return raw
    try:
        obs = _record(cls, _expand_answers(raw))
    except (NotOurs, KeyError, TypeError, ValueError):
        return raw
    return obs if to_jsonable(obs) == raw else raw

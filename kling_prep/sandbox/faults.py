"""Fault injection for the sandbox: a small spec language and the rules it builds.

    SPEC  = RULE [";" RULE]...
    RULE  = KIND ["@" ROUTE] [":" PARAM "=" VALUE ["," PARAM "=" VALUE]...]
    KIND  = latency (s) | error (status) | ratelimit (retry_after) | drop | hang (s)
          | malformed (form) | cut (share) | fail (message) | stuck
    ROUTE = post | get | file | any (the default)
    PARAM also: times=N (only the first N matching requests), after=N (skip the first N),
            rate=P (each matching request with probability P, from a seeded generator)

Examples: `ratelimit@post:retry_after=2,times=1`, `drop@post:times=1`,
`error@get:status=503,rate=0.3`, `latency:s=0.2`, `fail:times=1,message=GPU out of memory`,
`malformed@post:form=html`, `cut@file:share=0.5`, `stuck:times=1`.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Literal

from kling_prep.errors import ConfigError

FaultKind = Literal[
    "latency", "error", "ratelimit", "drop", "hang", "malformed", "cut", "fail", "stuck"
]
Route = Literal["post", "get", "file", "job", "any"]
# What a `malformed` answer's body is: the JSON cut in the middle (complete as HTTP), an HTML
# error page, or valid JSON without the documented fields.
MalformedForm = Literal["cut", "html", "shape"]

_KINDS: tuple[FaultKind, ...] = (
    "latency", "error", "ratelimit", "drop", "hang", "malformed", "cut", "fail", "stuck"
)  # fmt: skip
# Kinds that act on an accepted job rather than on a request.
_JOB_KINDS: tuple[FaultKind, ...] = ("fail", "stuck")
_ROUTES: tuple[Route, ...] = ("post", "get", "file", "any")
_FORMS: tuple[MalformedForm, ...] = ("cut", "html", "shape")
_PARAMS = {"s", "status", "retry_after", "message", "times", "after", "rate", "form", "share"}


@dataclass
class FaultRule:
    """One rule: what happens, to which requests, how often.

    `drop`, `hang`, `malformed` and `cut` on a POST act after the job was accepted and charged:
    the client cannot know whether it paid. `fail` makes accepted jobs end as failed, `stuck`
    keeps them `processing` for ever.
    """

    kind: FaultKind
    route: Route = "any"
    seconds: float = 0.0
    status: int = 500
    retry_after_s: float = 1.0
    message: str = "the sandbox was told to fail this job"
    form: MalformedForm = "cut"
    share: float = 0.5
    times: int | None = None
    after: int = 0
    rate: float = 1.0
    seen: int = field(default=0, init=False)

    def matches(self, route: Route) -> bool:
        """Whether the rule concerns `route`; `fail` and `stuck` concern only "job", an
        accepted job."""
        if self.kind in _JOB_KINDS or route == "job":
            return self.kind in _JOB_KINDS and route == "job"
        return self.route in ("any", route)


class FaultPlan:
    """The faults a sandbox injects; thread-safe; counts requests per rule.

    Args:
        rules: the rules, applied in order.
        seed: seeds the generator of `rate`, so a run is reproducible.
    """

    def __init__(self, rules: list[FaultRule] | None = None, *, seed: int = 0) -> None:
        self.rules = rules or []
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FaultPlan({self.rules!r})"

    @classmethod
    def parse(cls, spec: str | None, *, seed: int = 0) -> FaultPlan:
        """Build a plan from the spec language in this module's docstring.

        Raises:
            ConfigError: the spec names an unknown kind, route or parameter, or a bad value.
        """
        rules: list[FaultRule] = []
        for raw in (spec or "").split(";"):
            text = raw.strip()
            if text:
                rules.append(_parse_rule(text))
        return cls(rules, seed=seed)

    def draw(self, route: Route) -> list[FaultRule]:
        """The rules that fire for this request (each matching rule counts it)."""
        fired: list[FaultRule] = []
        with self._lock:
            for rule in self.rules:
                if not rule.matches(route):
                    continue
                rule.seen += 1
                index = rule.seen - rule.after
                if index <= 0 or (rule.times is not None and index > rule.times):
                    continue
                if rule.rate < 1.0 and self._rng.random() >= rule.rate:
                    continue
                fired.append(rule)
        return fired


def _parse_rule(text: str) -> FaultRule:
    head, _, params_text = text.partition(":")
    kind_text, _, route_text = head.strip().partition("@")
    kind = kind_text.strip().lower()
    route = (route_text.strip().lower() or "any") if route_text else "any"
    if kind not in _KINDS:
        raise ConfigError(f"fault {text!r}: unknown kind {kind!r} (one of {', '.join(_KINDS)})")
    if route not in _ROUTES:
        raise ConfigError(f"fault {text!r}: unknown route {route!r} (one of {', '.join(_ROUTES)})")
    rule = FaultRule(kind=kind, route=route)
    if kind == "hang":
        rule.seconds = 30.0
    # "message" may hold commas: it takes the rest of the text.
    params_text, _, message = params_text.partition("message=")
    if message:
        rule.message = message.strip()
    for item in params_text.split(","):
        if not item.strip():
            continue
        name, _, value = item.partition("=")
        name = name.strip().lower()
        if name not in _PARAMS:
            raise ConfigError(f"fault {text!r}: unknown parameter {name!r}")
        try:
            _set_param(rule, name, value.strip())
        except ValueError as exc:
            raise ConfigError(f"fault {text!r}: {name}={value!r} is not a valid value") from exc
    return rule


def _set_param(rule: FaultRule, name: str, value: str) -> None:
    if name == "s":
        rule.seconds = _non_negative(float(value))
    elif name == "status":
        rule.status = int(value)
        if not 500 <= rule.status <= 599:
            raise ValueError(value)
    elif name == "retry_after":
        rule.retry_after_s = _non_negative(float(value))
    elif name == "times":
        rule.times = int(_non_negative(int(value)))
    elif name == "after":
        rule.after = int(_non_negative(int(value)))
    elif name == "form":
        if value not in _FORMS:
            raise ValueError(value)
        rule.form = value
    elif name == "share":
        rule.share = float(value)
        if not 0.0 <= rule.share < 1.0:
            raise ValueError(value)
    elif name == "rate":
        rule.rate = float(value)
        if not 0.0 <= rule.rate <= 1.0:
            raise ValueError(value)


def _non_negative(value: float) -> float:
    if value < 0:
        raise ValueError(value)
    return value

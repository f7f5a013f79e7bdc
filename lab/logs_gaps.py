"""CloudWatch Logs filter patterns as AWS evaluates them (moto only knows single terms and one quoted
phrase, and lets every other pattern match every event).

Supported, for FilterLogEvents (and everything else in moto that filters events):

* terms: ``ERROR`` / ``"connect ECONNREFUSED"`` (all must occur, case-sensitive), ``?ERROR ?WARN`` (any),
  ``-DEBUG`` (must not occur);
* JSON patterns: ``{ $.level = "error" }``, ``{ $.error.code = "ECONN*" }``, ``{ $.http.status >= 500 }``,
  ``!=``, ``&&``, ``||``, parentheses, ``IS TRUE|FALSE|NULL``, ``EXISTS`` / ``NOT EXISTS``, ``$.a[0].b``.

Space-delimited patterns (``[ip, user, ...]``) keep moto's behaviour (match everything) and are logged.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import shlex
from typing import Any

log = logging.getLogger("lab.logs")

_MISSING = object()
_TOKEN = re.compile(r"""
    \s*(?:
      (?P<op>&&|\|\||!=|>=|<=|=|<|>|\(|\))
    | (?P<sel>\$(?:\.[A-Za-z_@][\w@-]*|\[\d+\])*)
    | (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<word>[^\s()&|=!<>"]+)
    )""", re.VERBOSE)


class LabEventFilter:
    """Drop-in replacement for moto.logs.utils.EventMessageFilter (moto builds one per event: compile once)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = (pattern or "").strip()
        try:
            self._match = _compile(self.pattern)
        except ValueError as exc:
            from moto.logs.exceptions import InvalidParameterException

            raise InvalidParameterException(msg=f"Invalid filter pattern: {exc}") from None

    def matches(self, message: str) -> bool:
        return self._match(message)


@functools.lru_cache(maxsize=256)
def _compile(pattern: str):
    if not pattern or pattern == '""':
        return lambda message: True
    if pattern.startswith("{") and pattern.endswith("}"):
        expr = _JsonPattern(pattern[1:-1]).parse()
        return lambda message: _eval_json(expr, message)
    if pattern.startswith("["):
        log.warning("space-delimited filter pattern %r is not supported by the lab; matching all", pattern)
        return lambda message: True
    return _terms(pattern)


def _terms(pattern: str):
    try:
        words = shlex.split(pattern, posix=True)
    except ValueError:
        words = pattern.split()
    required = [w for w in words if not w.startswith(("?", "-")) or len(w) == 1]
    optional = [w[1:] for w in words if w.startswith("?") and len(w) > 1]
    excluded = [w[1:] for w in words if w.startswith("-") and len(w) > 1]

    def match(message: str) -> bool:
        if any(term in message for term in excluded):
            return False
        if not all(term in message for term in required):
            return False
        return not optional or any(term in message for term in optional)

    return match


class _JsonPattern:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise ValueError(f"invalid filter pattern near {text[pos:]!r}")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ValueError("unexpected end of filter pattern")
        self.i += 1
        return tok

    def parse(self) -> Any:
        expr = self._or()
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()[1]!r} in filter pattern")
        return expr

    def _or(self) -> Any:
        left = self._and()
        while self.peek() == ("op", "||"):
            self.take()
            left = ("or", left, self._and())
        return left

    def _and(self) -> Any:
        left = self._atom()
        while self.peek() == ("op", "&&"):
            self.take()
            left = ("and", left, self._atom())
        return left

    def _atom(self) -> Any:
        kind, value = self.take()
        if (kind, value) == ("op", "("):
            expr = self._or()
            if self.take() != ("op", ")"):
                raise ValueError("missing ')' in filter pattern")
            return expr
        if kind != "sel":
            raise ValueError(f"expected a $.selector, got {value!r}")
        selector = value
        nxt = self.take()
        if nxt[0] == "word" and nxt[1].upper() == "IS":
            what = self.take()[1].upper()
            return ("is", selector, what)
        if nxt[0] == "word" and nxt[1].upper() == "NOT":
            if self.take()[1].upper() != "EXISTS":
                raise ValueError("expected EXISTS after NOT")
            return ("exists", selector, False)
        if nxt[0] == "word" and nxt[1].upper() == "EXISTS":
            return ("exists", selector, True)
        if nxt[0] != "op" or nxt[1] not in ("=", "!=", "<", ">", "<=", ">="):
            raise ValueError(f"expected a comparison after {selector}")
        vkind, raw = self.take()
        if vkind == "str":
            operand: Any = json.loads(raw)
        elif vkind == "num":
            operand = float(raw)
        else:
            operand = raw
        return ("cmp", selector, nxt[1], operand, vkind)


def _select(doc: Any, selector: str) -> Any:
    value = doc
    for part in re.findall(r"\.([A-Za-z_@][\w@-]*)|\[(\d+)\]", selector):
        key, index = part
        if key:
            if not isinstance(value, dict) or key not in value:
                return _MISSING
            value = value[key]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                return _MISSING
            value = value[int(index)]
    return value


def _eval_json(expr: Any, message: str) -> bool:
    try:
        doc = json.loads(message)
    except ValueError:
        return False
    return _eval(expr, doc)


def _eval(expr: Any, doc: Any) -> bool:
    op = expr[0]
    if op == "or":
        return _eval(expr[1], doc) or _eval(expr[2], doc)
    if op == "and":
        return _eval(expr[1], doc) and _eval(expr[2], doc)
    value = _select(doc, expr[1])
    if op == "exists":
        return (value is not _MISSING) == expr[2]
    if op == "is":
        return {"TRUE": value is True, "FALSE": value is False, "NULL": value is None}.get(expr[2], False)
    cmp, operand, kind = expr[2:]
    if value is _MISSING:
        return False
    if kind == "num":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return {"=": value == operand, "!=": value != operand, "<": value < operand, ">": value > operand,
                "<=": value <= operand, ">=": value >= operand}[cmp]
    if cmp not in ("=", "!="):
        return False
    text = value if isinstance(value, str) else json.dumps(value)
    if "*" in operand:
        hit = re.fullmatch(".*".join(re.escape(part) for part in operand.split("*")), text, re.S) is not None
    else:
        hit = text == operand
    return hit if cmp == "=" else not hit


def install() -> None:
    import moto.logs.models as logs_models

    logs_models.EventMessageFilter = LabEventFilter  # type: ignore[misc]

"""CloudWatch Logs Insights, evaluated by the lab (moto ignores ``filter`` and returns empty ``stats``).

``StartQuery`` parses the query at once (syntax errors and unsupported commands -> MalformedQueryException
with ``queryCompileError``), the query is ``Running`` for ``$SRE_LAB_QUERY_SECONDS`` (0.5 s) and then
``Complete``; ``GetQueryResults`` returns rows as lists of ``{"field", "value"}`` (values are strings) plus
``statistics``; ``StopQuery`` cancels a running query (``Cancelled``); ``DescribeQueries`` lists them.

Supported query language (commands separated by ``|``):

* ``fields f1, f2 [as alias]``; ``display f1, f2``;
* ``filter`` with ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``like /regex/`` / ``like "substring"``,
  ``not like``, ``=~ /regex/``, ``in [..]``, ``not in [..]``, ``and``, ``or``, ``not``, parentheses, and the
  functions ``ispresent(f)``, ``isempty(f)``, ``isblank(f)``, ``tolower(x)``, ``toupper(x)``, ``strlen(x)``;
* ``stats`` with ``count()``, ``count(*)``, ``count(f)``, ``count_distinct(f)``, ``sum``, ``avg``, ``min``,
  ``max``, ``pct(f, n)`` (each ``[as alias]``), ``by f1, f2, bin(5m)``;
* ``sort f [asc|desc], ...``, ``limit N``, ``dedup f1, f2``.

Fields: JSON log lines are flattened with dots (``error.code``, ``http.status``), plus ``@timestamp``,
``@message``, ``@logStream``, ``@log``, ``@ingestionTime`` and ``@ptr``. A row leaves out fields without a
value. Without ``sort``, events come newest first; ``stats`` rows come in first-seen order.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from . import config

log = logging.getLogger("lab.insights")

MAX_STORED_QUERIES = 200
DEFAULT_LIMIT = 10000
_MISSING = None
UNSUPPORTED_COMMANDS = ("parse", "pattern", "unmask", "diff", "anomaly", "source", "unnest", "lookup")


class QueryError(ValueError):
    def __init__(self, message: str, start: int = 0, end: int = 0) -> None:
        super().__init__(message)
        self.start, self.end = start, end


# --- tokens ------------------------------------------------------------------------------------
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<regex>/(?:[^/\\]|\\.)+/[a-z]*)
  | (?P<dur>\d+(?:ms|s|m|h|d)(?![\w.]))
  | (?P<num>-?\d+(?:\.\d+)?(?![\w.]))
  | (?P<op>!=|<=|>=|=~|=|<|>|\(|\)|\[|\]|,|\*)
  | (?P<ident>`[^`]+`|[@A-Za-z_][\w.@-]*)
""", re.VERBOSE)


@dataclass
class Tok:
    kind: str
    text: str
    start: int
    end: int

    @property
    def word(self) -> str:
        return self.text.lower() if self.kind == "ident" else ""


def tokenize(text: str, offset: int) -> list[Tok]:
    toks, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise QueryError(f"unexpected character {text[pos]!r}", offset + pos, offset + pos + 1)
        kind = m.lastgroup or ""
        if kind != "ws":
            toks.append(Tok(kind, m.group(), offset + m.start(), offset + m.end()))
        pos = m.end()
    return toks


def _field_name(tok: Tok) -> str:
    return tok.text[1:-1] if tok.text.startswith("`") else tok.text


class Parser:
    def __init__(self, toks: list[Tok], end: int) -> None:
        self.toks, self.i, self.end = toks, 0, end

    def peek(self, ahead: int = 0) -> Tok | None:
        j = self.i + ahead
        return self.toks[j] if j < len(self.toks) else None

    def take(self, what: str = "a token") -> Tok:
        tok = self.peek()
        if tok is None:
            raise QueryError(f"expected {what} at the end of the command", self.end, self.end)
        self.i += 1
        return tok

    def expect_op(self, op: str) -> Tok:
        tok = self.take(f"'{op}'")
        if tok.kind != "op" or tok.text != op:
            raise QueryError(f"expected '{op}', got {tok.text!r}", tok.start, tok.end)
        return tok

    def at_word(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.word in words

    def done(self) -> bool:
        return self.i >= len(self.toks)

    def finish(self) -> None:
        if not self.done():
            tok = self.toks[self.i]
            raise QueryError(f"unexpected {tok.text!r}", tok.start, tok.end)

    # expressions: or > and > not > comparison > value
    def expr(self) -> Callable[[dict], Any]:
        left = self.and_expr()
        while self.at_word("or"):
            self.take()
            right = self.and_expr()
            left = _either(left, right)
        return left

    def and_expr(self) -> Callable[[dict], Any]:
        left = self.not_expr()
        while self.at_word("and"):
            self.take()
            right = self.not_expr()
            left = _both(left, right)
        return left

    def not_expr(self) -> Callable[[dict], Any]:
        if self.at_word("not") and not (self.peek(1) and self.peek(1).word in ("like", "in")):
            self.take()
            inner = self.not_expr()
            return lambda r: not inner(r)
        return self.comparison()

    def comparison(self) -> Callable[[dict], Any]:
        left = self.value()
        tok = self.peek()
        if tok is None:
            return left
        negate = False
        if tok.word == "not" and self.peek(1) is not None and self.peek(1).word in ("like", "in"):
            self.take()
            negate, tok = True, self.peek()
        if tok is None:
            raise QueryError("expected like or in after not", self.end, self.end)
        if tok.word == "like" or (tok.kind == "op" and tok.text == "=~"):
            self.take()
            match = _like(self.take("a /regex/ or a string"))

            return _matching(left, match, negate)
        if tok.word == "in":
            self.take()
            values = self.literal_list()

            return _member(left, values, negate)
        if negate:
            raise QueryError("expected like or in after not", tok.start, tok.end)
        if tok.kind == "op" and tok.text in ("=", "!=", "<", "<=", ">", ">="):
            self.take()
            right = self.value()
            return _comparison(left, tok.text, right)
        return left

    def literal_list(self) -> list[Any]:
        self.expect_op("[")
        values = []
        while True:
            tok = self.take("a value")
            if tok.kind == "str":
                values.append(_unquote(tok.text))
            elif tok.kind == "num":
                values.append(float(tok.text))
            else:
                raise QueryError(f"expected a string or number in the list, got {tok.text!r}", tok.start, tok.end)
            sep = self.take("',' or ']'")
            if sep.kind == "op" and sep.text == "]":
                return values
            if sep.kind != "op" or sep.text != ",":
                raise QueryError(f"expected ',' or ']', got {sep.text!r}", sep.start, sep.end)

    def value(self) -> Callable[[dict], Any]:
        tok = self.take("a field, a value or '('")
        if tok.kind == "op" and tok.text == "(":
            inner = self.expr()
            self.expect_op(")")
            return inner
        if tok.kind == "str":
            text = _unquote(tok.text)
            return lambda r: text
        if tok.kind == "num":
            number = float(tok.text)
            return lambda r: number
        if tok.kind == "ident":
            nxt = self.peek()
            if nxt is not None and nxt.kind == "op" and nxt.text == "(":
                return self.function(tok)
            if tok.word in ("true", "false"):
                flag = tok.word == "true"
                return lambda r: flag
            name = _field_name(tok)
            return lambda r: r.get(name)
        raise QueryError(f"unexpected {tok.text!r}", tok.start, tok.end)

    def function(self, name_tok: Tok) -> Callable[[dict], Any]:
        name = name_tok.word
        self.expect_op("(")
        args = []
        if not (self.peek() and self.peek().kind == "op" and self.peek().text == ")"):
            args.append(self.value())
            while self.peek() and self.peek().kind == "op" and self.peek().text == ",":
                self.take()
                args.append(self.value())
        self.expect_op(")")
        functions: dict[str, Callable[..., Any]] = {
            "ispresent": lambda v: v is not None,
            "isempty": lambda v: v is None or v == "",
            "isblank": lambda v: v is None or str(v).strip() == "",
            "tolower": lambda v: None if v is None else _text(v).lower(),
            "toupper": lambda v: None if v is None else _text(v).upper(),
            "strlen": lambda v: None if v is None else float(len(_text(v))),
        }
        if name not in functions:
            raise QueryError(f"function {name_tok.text}() is not supported by the lab", name_tok.start, name_tok.end)
        if len(args) != 1:
            raise QueryError(f"{name_tok.text}() takes one argument", name_tok.start, name_tok.end)
        fn, arg = functions[name], args[0]
        return lambda r: fn(arg(r))


Getter = Callable[[dict], Any]


def _either(left: Getter, right: Getter) -> Getter:
    return lambda r: bool(left(r)) or bool(right(r))


def _both(left: Getter, right: Getter) -> Getter:
    return lambda r: bool(left(r)) and bool(right(r))


def _comparison(left: Getter, op: str, right: Getter) -> Getter:
    return lambda r: _compare(left(r), op, right(r))


def _member(left: Getter, values: list[Any], negate: bool) -> Getter:
    def member(r: dict) -> bool:
        value = left(r)
        return value is not None and any(_eq(value, v) for v in values) != negate
    return member


def _matching(left: Getter, match: Callable[[Any], bool], negate: bool) -> Getter:
    def like(r: dict) -> bool:
        value = left(r)
        return value is not None and match(value) != negate
    return like


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _like(tok: Tok) -> Callable[[Any], bool]:
    if tok.kind == "regex":
        body, _sep, flags = tok.text[1:].rpartition("/")
        try:
            rx = re.compile(body, re.IGNORECASE if "i" in flags else 0)
        except re.error as exc:
            raise QueryError(f"invalid regular expression: {exc}", tok.start, tok.end) from None
        return lambda v: rx.search(_text(v)) is not None
    if tok.kind == "str":
        needle = _unquote(tok.text)
        return lambda v: needle in _text(v)
    raise QueryError(f"expected a /regex/ or a string after like, got {tok.text!r}", tok.start, tok.end)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _eq(left: Any, right: Any) -> bool:
    ln, rn = _number(left), _number(right)
    if ln is not None and rn is not None and not (isinstance(left, str) and isinstance(right, str)):
        return ln == rn
    return _text(left) == _text(right)


def _compare(left: Any, op: str, right: Any) -> bool:
    if left is None or right is None:
        return False
    if op == "=":
        return _eq(left, right)
    if op == "!=":
        return not _eq(left, right)
    ln, rn = _number(left), _number(right)
    a, b = (ln, rn) if ln is not None and rn is not None else (_text(left), _text(right))
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


# --- commands ----------------------------------------------------------------------------------
@dataclass
class Agg:
    name: str  # output column
    fn: str
    arg: str | None  # field, "*" or None
    extra: float | None = None  # pct's percentile


@dataclass
class Group:
    name: str
    field: str | None
    bin_ms: int | None = None


@dataclass
class Query:
    text: str
    steps: list[tuple[str, Any]] = field(default_factory=list)
    has_sort: bool = False
    has_stats: bool = False


def _split_commands(text: str) -> list[tuple[str, int]]:
    """Split on | outside quotes, regexes and backticks; (command text, offset)."""
    parts, start, i, quote = [], 0, 0, ""
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "\"'`":
            quote = ch
        elif ch == "/" and _regex_context(text, i):
            quote = "/"
        elif ch == "|":
            parts.append((text[start:i], start))
            start = i + 1
        i += 1
    parts.append((text[start:], start))
    return parts


def _regex_context(text: str, i: int) -> bool:
    before = text[:i].rstrip()
    return before.lower().endswith(("like", "=~", "(", ","))


def parse_query(text: str) -> Query:
    if not text or not text.strip():
        raise QueryError("the query string is empty", 0, 0)
    query = Query(text=text)
    for raw, offset in _split_commands(text):
        # comments: from # to the end of the line
        raw = re.sub(r"(?m)#.*$", lambda m: " " * len(m.group()), raw)
        stripped = raw.strip()
        if not stripped:
            raise QueryError("empty command between '|'", offset, offset + len(raw))
        lead = len(raw) - len(raw.lstrip())
        word = stripped.split(None, 1)[0]
        body_offset = offset + lead + len(word)
        body = raw[lead + len(word):]
        cmd = word.lower()
        toks = tokenize(body, body_offset)
        parser = Parser(toks, offset + len(raw))
        where = (offset + lead, offset + lead + len(word))
        if cmd in ("fields", "display"):
            query.steps.append((cmd, _field_list(parser, allow_alias=cmd == "fields")))
        elif cmd == "filter":
            if not toks:
                raise QueryError("filter needs an expression", *where)
            predicate = parser.expr()
            parser.finish()
            query.steps.append(("filter", predicate))
        elif cmd == "stats":
            query.steps.append(("stats", _stats(parser, where)))
            query.has_stats = True
        elif cmd == "sort":
            keys = []
            while True:
                tok = parser.take("a field to sort by")
                name = _sort_key(parser, tok)
                desc = False
                if parser.at_word("asc", "desc"):
                    desc = parser.take().word == "desc"
                keys.append((name, desc))
                if parser.done():
                    break
                parser.expect_op(",")
            query.steps.append(("sort", keys))
            query.has_sort = True
        elif cmd == "limit":
            tok = parser.take("a number")
            parser.finish()
            if tok.kind != "num" or not tok.text.isdigit() or not 1 <= int(tok.text) <= DEFAULT_LIMIT:
                raise QueryError(f"limit must be a whole number from 1 to {DEFAULT_LIMIT}", tok.start, tok.end)
            query.steps.append(("limit", int(tok.text)))
        elif cmd == "dedup":
            query.steps.append(("dedup", [name for name, _alias in _field_list(parser, allow_alias=False)]))
        elif cmd in UNSUPPORTED_COMMANDS:
            raise QueryError(f"the {word} command is not supported by the lab's Logs Insights "
                             f"(supported: fields, display, filter, stats, sort, limit, dedup)", *where)
        else:
            raise QueryError(f"unknown command {word!r}", *where)
    return query


def _sort_key(parser: Parser, tok: Tok) -> str:
    if tok.kind != "ident":
        raise QueryError(f"expected a field to sort by, got {tok.text!r}", tok.start, tok.end)
    nxt = parser.peek()
    if nxt is not None and nxt.kind == "op" and nxt.text == "(":  # sort count() desc / sort count(*)
        parts = [tok.text]
        while True:
            t = parser.take("')'")
            parts.append(t.text)
            if t.kind == "op" and t.text == ")":
                break
        return "".join(parts)
    return _field_name(tok)


def _field_list(parser: Parser, allow_alias: bool) -> list[tuple[str, str]]:
    out = []
    while True:
        tok = parser.take("a field name")
        if tok.kind != "ident":
            raise QueryError(f"expected a field name, got {tok.text!r} (expressions in fields are not supported "
                             f"by the lab)", tok.start, tok.end)
        nxt = parser.peek()
        if nxt is not None and nxt.kind == "op" and nxt.text == "(":
            raise QueryError(f"functions in fields ({tok.text}()) are not supported by the lab", tok.start, tok.end)
        name = _field_name(tok)
        alias = name
        if allow_alias and parser.at_word("as"):
            parser.take()
            alias = _field_name(parser.take("an alias"))
        out.append((name, alias))
        if parser.done():
            return out
        parser.expect_op(",")


AGGREGATES = ("count", "count_distinct", "sum", "avg", "min", "max", "pct")


def _stats(parser: Parser, where: tuple[int, int]) -> tuple[list[Agg], list[Group]]:
    aggs: list[Agg] = []
    groups: list[Group] = []
    if parser.done():
        raise QueryError("stats needs at least one aggregate function, e.g. count()", *where)
    while True:
        tok = parser.take("an aggregate function")
        if tok.kind != "ident" or tok.word not in AGGREGATES:
            raise QueryError(f"expected an aggregate function ({', '.join(AGGREGATES)}), got {tok.text!r}",
                             tok.start, tok.end)
        parser.expect_op("(")
        arg: str | None = None
        extra = None
        nxt = parser.peek()
        if nxt is not None and nxt.kind == "op" and nxt.text == "*":
            parser.take()
            arg = "*"
        elif nxt is not None and nxt.kind == "ident":
            arg = _field_name(parser.take())
        if tok.word == "pct":
            parser.expect_op(",")
            number = parser.take("a percentile")
            if number.kind != "num":
                raise QueryError("pct(field, n) needs a number", number.start, number.end)
            extra = float(number.text)
        close = parser.expect_op(")")
        if tok.word != "count" and arg in (None, "*"):
            raise QueryError(f"{tok.text}() needs a field", tok.start, close.end)
        name = parser_text(parser, tok, close)
        if parser.at_word("as"):
            parser.take()
            name = _field_name(parser.take("an alias"))
        aggs.append(Agg(name, tok.word, arg, extra))
        if parser.done():
            break
        sep = parser.take()
        if sep.word == "by":
            groups = _groups(parser)
            break
        if sep.kind != "op" or sep.text != ",":
            raise QueryError(f"expected ',' or 'by', got {sep.text!r}", sep.start, sep.end)
    parser.finish()
    return aggs, groups


def parser_text(parser: Parser, first: Tok, last: Tok) -> str:
    """The source text of tokens first..last without spaces (Insights names columns after it)."""
    out = []
    for tok in parser.toks:
        if tok.start >= first.start and tok.end <= last.end:
            out.append(tok.text)
    return "".join(out)


def _groups(parser: Parser) -> list[Group]:
    groups = []
    while True:
        tok = parser.take("a field to group by")
        if tok.kind != "ident":
            raise QueryError(f"expected a field to group by, got {tok.text!r}", tok.start, tok.end)
        nxt = parser.peek()
        if tok.word == "bin" and nxt is not None and nxt.kind == "op" and nxt.text == "(":
            parser.take()
            size = parser.take("a bin size like 5m")
            close = parser.expect_op(")")
            m = re.fullmatch(r"(\d+)(ms|s|m|h|d)", size.text) if size.kind == "dur" else None
            if not m or int(m.group(1)) == 0:
                raise QueryError("bin() needs a period like 30s, 5m or 1h", size.start, close.end)
            ms = int(m.group(1)) * {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000}[m.group(2)]
            name = parser_text(parser, tok, close)
            group = Group(name, None, max(1, ms))
        else:
            group = Group(_field_name(tok), _field_name(tok))
        if parser.at_word("as"):
            parser.take()
            group.name = _field_name(parser.take("an alias"))
        groups.append(group)
        if parser.done():
            return groups
        parser.expect_op(",")


# --- evaluation --------------------------------------------------------------------------------
def flatten(doc: Any, prefix: str = "", out: dict | None = None) -> dict:
    out = {} if out is None else out
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        if isinstance(value, (dict, list)):
            flatten(value, f"{prefix}{key}.", out)
        else:
            out[f"{prefix}{key}"] = value
    return out


def fmt_timestamp(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, timezone.utc)
    return dt.strftime("%Y-%m-%d %H:%M:%S.") + f"{int(ms) % 1000:03d}"


def render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(round(value, 6))
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def run_query(query: Query, events: list[dict], limit: int) -> tuple[list[list[dict]], dict]:
    """events: {"timestamp", "message", "stream", "group", "ingestion"} in the time window."""
    scanned = len(events)
    bytes_scanned = sum(len(e["message"]) for e in events)
    records = []
    for e in events:
        try:
            doc = json.loads(e["message"])
        except ValueError:
            doc = None
        record = flatten(doc) if isinstance(doc, (dict, list)) else {}
        record.update({"@timestamp": e["timestamp"], "@message": e["message"], "@logStream": e["stream"],
                       "@log": f"{config.AWS_ACCOUNT_ID}:{e['group']}", "@ingestionTime": e["ingestion"],
                       "@ptr": e["ptr"]})
        records.append(record)
    if not query.has_sort and not query.has_stats:
        records.sort(key=lambda r: r["@timestamp"], reverse=True)
    display: list[str] | None = None
    aliases: dict[str, str] = {}
    is_stats = False
    matched = None
    for kind, arg in query.steps:
        if kind == "filter":
            records = [r for r in records if arg(r)]
        elif kind == "fields":
            for name, alias in arg:
                if alias != name:
                    aliases[alias] = name
                    for r in records:
                        if name in r:
                            r[alias] = r[name]
            names = [alias for _name, alias in arg]
            display = (display or []) + [n for n in names if n not in (display or [])]
        elif kind == "display":
            display = [alias for _name, alias in arg]
        elif kind == "stats":
            matched = len(records)
            records, display = _aggregate(records, *arg)
            is_stats = True
        elif kind == "sort":
            for name, desc in reversed(arg):
                present = [r for r in records if r.get(name) is not None]
                absent = [r for r in records if r.get(name) is None]
                present.sort(key=lambda r: _sort_value(r[name], name), reverse=desc)
                records = present + absent
        elif kind == "limit":
            records = records[:arg]
        elif kind == "dedup":
            seen, kept = set(), []
            for r in records:
                key = tuple(render(r.get(n)) for n in arg)
                if key not in seen:
                    seen.add(key)
                    kept.append(r)
            records = kept
    if matched is None:
        matched = len(records)
    if display is None:
        display = ["@timestamp", "@message"]
    rows = []
    for r in records[:limit]:
        row = []
        for name in display:
            value = r.get(name)
            if value is None:
                continue
            text = fmt_timestamp(value) if name == "@timestamp" and isinstance(value, (int, float)) else render(value)
            row.append({"field": name, "value": text})
        if not is_stats:
            row.append({"field": "@ptr", "value": r["@ptr"]})
        rows.append(row)
    stats = {"recordsMatched": float(matched), "recordsScanned": float(scanned), "bytesScanned": float(bytes_scanned)}
    return rows, stats


def _sort_value(value: Any, name: str) -> Any:
    number = _number(value)
    return (0, number, "") if number is not None else (1, 0.0, _text(value))


def _aggregate(records: list[dict], aggs: list[Agg], groups: list[Group]) -> tuple[list[dict], list[str]]:
    buckets: dict[tuple, list[dict]] = {}
    keys_of: dict[tuple, dict] = {}
    for r in records:
        key_values = {}
        for g in groups:
            if g.bin_ms:
                ts = int(r["@timestamp"])
                key_values[g.name] = fmt_timestamp(ts // g.bin_ms * g.bin_ms)
            else:
                key_values[g.name] = r.get(g.field or g.name)
        key = tuple(render(v) if v is not None else None for v in key_values.values())
        if key not in buckets:
            buckets[key] = []
            keys_of[key] = key_values
        buckets[key].append(r)
    if not groups and not buckets:
        buckets[()] = []
        keys_of[()] = {}
    out = []
    for key, members in buckets.items():
        row = dict(keys_of[key])
        for agg in aggs:
            row[agg.name] = _agg_value(agg, members)
        out.append(row)
    return out, [g.name for g in groups] + [a.name for a in aggs]


def _agg_value(agg: Agg, members: list[dict]) -> Any:
    if agg.fn == "count":
        if agg.arg in (None, "*"):
            return float(len(members))
        return float(sum(1 for r in members if r.get(agg.arg) is not None))
    values = [r.get(agg.arg) for r in members if r.get(agg.arg) is not None]
    if agg.fn == "count_distinct":
        return float(len({render(v) for v in values}))
    numbers = [n for n in (_number(v) for v in values) if n is not None]
    if not numbers:
        return None
    if agg.fn == "sum":
        return float(sum(numbers))
    if agg.fn == "avg":
        return sum(numbers) / len(numbers)
    if agg.fn == "min":
        return min(numbers)
    if agg.fn == "max":
        return max(numbers)
    numbers.sort()  # pct
    index = max(0, min(len(numbers) - 1, math.ceil((agg.extra or 50) / 100 * len(numbers)) - 1))
    return numbers[index]


# --- the API -----------------------------------------------------------------------------------
@dataclass
class LabQuery:
    query_id: str
    text: str
    parsed: Query
    groups: list[str]
    start: int
    end: int
    limit: int
    created: float
    status: str = "Running"
    results: list | None = None
    statistics: dict | None = None


class Insights:
    def __init__(self) -> None:
        self.queries: dict[str, LabQuery] = {}
        self.lock = threading.Lock()

    def start(self, groups: list[str], start: int, end: int, text: str, limit: int | None) -> str:
        parsed = parse_query(text)
        query = LabQuery(str(uuid.uuid4()), text, parsed, groups, start, end, limit or DEFAULT_LIMIT, time.time())
        with self.lock:
            self.queries[query.query_id] = query
            while len(self.queries) > MAX_STORED_QUERIES:
                self.queries.pop(next(iter(self.queries)))
        return query.query_id

    def get(self, query_id: str) -> LabQuery | None:
        with self.lock:
            query = self.queries.get(query_id)
        if query is None:
            return None
        if query.status == "Running" and time.time() - query.created >= config.query_seconds():
            self._complete(query)
        return query

    def _complete(self, query: LabQuery) -> None:
        from .aws_emulator import backend

        logs = backend("logs")
        events = []
        lo, hi = query.start * 1000, query.end * 1000 + 999
        for name in query.groups:
            group = logs.groups.get(name)
            if group is None:
                continue
            for stream in list(group.streams.values()):
                for e in list(stream.events):
                    if lo <= e.timestamp <= hi:
                        events.append({"timestamp": e.timestamp, "message": e.message, "stream": stream.log_stream_name,
                                       "group": name, "ingestion": e.ingestion_time,
                                       "ptr": f"Cn{uuid.uuid5(uuid.NAMESPACE_OID, f'{name}/{e.event_id}').hex}"})
        try:
            rows, stats = run_query(query.parsed, events, query.limit)
        except Exception:
            log.exception("Logs Insights query failed: %s", query.text)
            query.status, query.results, query.statistics = "Failed", [], {}
            return
        query.results, query.statistics, query.status = rows, stats, "Complete"

    def stop(self, query_id: str) -> bool:
        query = self.get(query_id)
        if query is None:
            raise KeyError(query_id)
        if query.status != "Running":
            return False
        query.status, query.results = "Cancelled", []
        return True


INSIGHTS = Insights()


def install() -> None:
    from moto.core.exceptions import JsonRESTError
    from moto.logs.exceptions import InvalidParameterException, ResourceNotFoundException
    from moto.logs.responses import LogsResponse

    class MalformedQueryException(JsonRESTError):
        code = 400

        def __init__(self, error: QueryError) -> None:
            super().__init__("MalformedQueryException", str(error))
            self.description = json.dumps({
                "__type": "MalformedQueryException",
                "message": str(error),
                "queryCompileError": {"location": {"startCharOffset": error.start, "endCharOffset": error.end},
                                      "message": str(error)},
            })

    def start_query(self: LogsResponse) -> str:
        names = self._get_param("logGroupNames") or []
        if self._get_param("logGroupName"):
            if names:
                raise InvalidParameterException("Specify either logGroupName or logGroupNames, not both.")
            names = [self._get_param("logGroupName")]
        identifiers = self._get_param("logGroupIdentifiers") or []
        names = list(names) + [i.split(":log-group:", 1)[-1].removesuffix(":*") for i in identifiers]
        if not names:
            raise InvalidParameterException("A log group name, names or identifiers must be specified.")
        language = self._get_param("queryLanguage") or "CWLI"
        if language != "CWLI":
            raise InvalidParameterException(f"queryLanguage {language} is not supported by the lab (CWLI only).")
        for name in names:
            if name not in self.logs_backend.groups:
                raise ResourceNotFoundException(f"Log group '{name}' does not exist for account ID "
                                                f"'{config.AWS_ACCOUNT_ID}'")
        start, end = self._get_param("startTime"), self._get_param("endTime")
        if start is None or end is None:
            raise InvalidParameterException("startTime and endTime are required.")
        start, end = int(start), int(end)
        if end < start:
            raise InvalidParameterException("endTime must be greater than or equal to startTime.")
        limit = self._get_param("limit")
        if limit is not None and not 1 <= int(limit) <= DEFAULT_LIMIT:
            raise InvalidParameterException(f"limit must be between 1 and {DEFAULT_LIMIT}.")
        try:
            query_id = INSIGHTS.start(names, start, end, self._get_param("queryString") or "",
                                      int(limit) if limit is not None else None)
        except QueryError as exc:
            raise MalformedQueryException(exc) from None
        return json.dumps({"queryId": query_id})

    def get_query_results(self: LogsResponse) -> str:
        query = INSIGHTS.get(self._get_param("queryId") or "")
        if query is None:
            raise ResourceNotFoundException("The specified query does not exist.")
        body: dict[str, Any] = {"queryLanguage": "CWLI", "results": query.results or [], "status": query.status}
        body["statistics"] = query.statistics or {"recordsMatched": 0.0, "recordsScanned": 0.0, "bytesScanned": 0.0}
        return json.dumps(body)

    def stop_query(self: LogsResponse) -> str:
        try:
            stopped = INSIGHTS.stop(self._get_param("queryId") or "")
        except KeyError:
            raise ResourceNotFoundException("The specified query does not exist.") from None
        if not stopped:
            raise InvalidParameterException("The query is not running (it has already ended).")
        return json.dumps({"success": True})

    def describe_queries(self: LogsResponse) -> str:
        group = self._get_param("logGroupName")
        status = self._get_param("status")
        out = []
        with INSIGHTS.lock:
            ids = list(INSIGHTS.queries)
        for query_id in ids:
            query = INSIGHTS.get(query_id)
            if query is None or (group and group not in query.groups) or (status and query.status != status):
                continue
            out.append({"queryLanguage": "CWLI", "queryId": query.query_id, "queryString": query.text,
                        "status": query.status, "createTime": int(query.created * 1000),
                        "logGroupName": query.groups[0]})
        return json.dumps({"queries": out})

    LogsResponse.start_query = start_query  # type: ignore[method-assign]
    LogsResponse.get_query_results = get_query_results  # type: ignore[method-assign]
    LogsResponse.stop_query = stop_query  # type: ignore[attr-defined]
    LogsResponse.describe_queries = describe_queries  # type: ignore[method-assign]

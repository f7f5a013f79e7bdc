# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Strict inputs for every sre.incident module: refuse what AnsibleModule would coerce (true for an int, a dict
for a str) and values outside what the API accepts or a sane bound, with one line, before any call.

StrictModule(argument_spec=..., limits={option: rule}) is an AnsibleModule that does both right after its own
argument check; in_process.StepModule applies the same input_problems() to a step's arguments. Options every
backend shares (timeouts, ports, URLs...) get SHARED_LIMITS without a word from the module. How it works, and why
it reads the arguments before AnsibleModule converts them: docs/development.md, "Strict inputs".
"""

from __future__ import annotations

import copy
import math
import re

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.six.moves.urllib.parse import urlparse
from ansible_collections.sre.incident.plugins.module_utils.common import parse_duration, parse_time

NOTHING_CHANGED = "Nothing was changed."


def refusal(option, problem, allowed):
    """The one line of every input refusal."""
    return "option %s: %s; allowed: %s. %s" % (option, problem, allowed, NOTHING_CHANGED)


def refuse(module, option, problem, allowed, **result):
    module.fail_json(msg=refusal(option, problem, allowed), changed=False, **result)


def show(value, limit=40):
    """A value as the operator typed it, short and on one line (a NUL byte shows as \\x00)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = repr(value)
        return text if len(text) <= limit else text[:limit - 4] + "...'"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


class Rule:
    """A bound on one option: problem(value) is None or what is wrong, allowed says what is accepted.
    good/bad are sample values the property tests draw from (tests/unit/module_inputs.py)."""

    allowed = ""
    good = ()
    bad = ()

    def problem(self, value):
        raise NotImplementedError


class Whole(Rule):
    """A whole number from minimum to maximum."""

    def __init__(self, minimum, maximum, floor="the minimum"):
        self.minimum, self.maximum, self.floor = minimum, maximum, floor
        self.allowed = "a whole number from %d to %d" % (minimum, maximum)
        self.good = (minimum, maximum, (minimum + maximum) // 2)
        self.bad = (minimum - 1, maximum + 1, 10 ** 12, -10 ** 12, True, False, 1.5, "", "ten")

    def problem(self, value):
        if isinstance(value, bool) or not isinstance(value, int):
            return "%s is not a whole number" % show(value)
        if value < self.minimum:
            return "%d is below %s %d" % (value, self.floor, self.minimum)
        if value > self.maximum:
            return "%d is above the maximum %d" % (value, self.maximum)
        return None


def _seconds_text(seconds):
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return "%d%s" % (seconds // size, unit)
    return "%g s" % seconds


class Seconds(Rule):
    """Seconds above zero (or from zero) up to maximum; with durations, also a number with a unit (10m)."""

    def __init__(self, maximum, zero_ok=False, durations=True):
        self.maximum, self.zero_ok, self.durations = maximum, zero_ok, durations
        unit = "seconds or a duration such as 10m" if durations else "seconds"
        self.allowed = "%s, %s and at most %s" % (unit, "from 0" if zero_ok else "more than 0", _seconds_text(maximum))
        self.good = (1, maximum, "1m") if durations and maximum >= 60 else (1, maximum)
        self.bad = (-1, maximum * 2 + 1, 1e308, float("nan"), float("inf"), True, "", "-5m") + (() if zero_ok else (0,)) \
            + (("soon",) if durations else ())

    def problem(self, value):
        if isinstance(value, bool):
            return "%s is a boolean, not a number of seconds" % show(value)
        if isinstance(value, (int, float)):
            seconds = float(value)
        else:
            try:
                seconds = parse_duration(value)
            except (TypeError, ValueError) as exc:  # parse_duration's words: "cannot read '...' as a duration"
                return str(exc).split(";", maxsplit=1)[0]
        if not math.isfinite(seconds):
            return "%s is not a finite number of seconds" % show(value)
        if seconds < 0 or (seconds == 0 and not self.zero_ok):
            return "%s is not %s" % (show(value), "0 or more" if self.zero_ok else "more than 0")
        if seconds > self.maximum:
            return "%s is more than %s" % (show(value), _seconds_text(self.maximum))
        return None


class Number(Rule):
    """A finite number from minimum to maximum (what says what it counts)."""

    def __init__(self, minimum, maximum, what="a number"):
        self.minimum, self.maximum = minimum, maximum
        self.allowed = "%s from %g to %g" % (what, minimum, maximum)
        self.good = (minimum, maximum)
        self.bad = (minimum - 1, maximum + 1, float("nan"), float("inf"), True)

    def problem(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return "%s is not a finite number" % show(value)
        if not self.minimum <= value <= self.maximum:
            return "%s is outside %g to %g" % (show(value), self.minimum, self.maximum)
        return None


# Epoch seconds of 2100-01-01: later times are typos.
EPOCH = Number(0, 4102444800, "epoch seconds")


class Time(Rule):
    """A time common.parse_time reads (ISO 8601, epoch seconds or now) between 1970 and 2100."""

    allowed = "ISO 8601 (2026-11-27T18:15:00Z), epoch seconds or now, between 1970 and 2100"
    bad = ("", "yesterday", -1, 253402300800.0, True, float("inf"))

    def problem(self, value):
        if isinstance(value, bool):
            return "%s is a boolean, not a time" % show(value)
        try:
            epoch = parse_time(value)
        except (TypeError, ValueError, OverflowError) as exc:
            return str(exc).split(";", maxsplit=1)[0] if isinstance(exc, ValueError) else "%s is not a time" % show(value)
        return EPOCH.problem(epoch) and "%s is not between 1970 and 2100" % show(value)


class Text(Rule):
    """A non-empty string of at most max_length characters, matching pattern (whole string) when given."""

    def __init__(self, pattern=None, what=None, max_length=1024, empty_ok=False, numbers_ok=False):
        self.pattern = re.compile(pattern) if pattern else None
        self.max_length, self.empty_ok, self.numbers_ok = max_length, empty_ok, numbers_ok
        self.allowed = what or ("text of at most %d characters" % max_length)
        self.good = ()
        self.bad = ("x" * (max_length + 1), "\x00", True) + (() if empty_ok else ("", "   "))

    def problem(self, value):
        if self.numbers_ok and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, bool):
            return "%s is a boolean, not text (quote it)" % show(value)
        if not isinstance(value, str):
            return "%s is not text" % show(value)
        if not value.strip() and not self.empty_ok:
            return "it is empty"
        if "\x00" in value:
            return "it contains a NUL byte"
        if len(value) > self.max_length:
            return "%d characters is more than %d" % (len(value), self.max_length)
        if self.pattern is not None and value and not self.pattern.fullmatch(value):
            return "%s is not of that form" % show(value)
        return None


class Url(Rule):
    """An absolute URL with one of the schemes, a host (for network schemes) and a valid port."""

    def __init__(self, schemes=("http", "https")):
        self.schemes = schemes
        self.allowed = "a %s:// URL with a host" % "/".join(schemes)
        self.bad = ("", "localhost", "ftp://x", "http://", "http://h:99999", "$(reboot)")

    def problem(self, value):
        if not isinstance(value, str) or not value.strip():
            return "it is empty"
        if len(value) > 2048 or any(ch.isspace() for ch in value):
            return "it is not a URL (too long or has spaces)"
        parsed = urlparse(value)
        if parsed.scheme not in self.schemes:
            return "scheme %s is not one of %s" % (show(parsed.scheme or "none"), ", ".join(self.schemes))
        try:
            port = parsed.port
        except ValueError:
            return "its port is not a number from 1 to 65535"
        if port == 0:
            return "its port is not a number from 1 to 65535"
        if parsed.scheme != "unix" and not parsed.hostname:
            return "it names no host"
        return None


class Dsn(Rule):
    """A libpq connection string or URI that psycopg can read (the message never repeats it: it may hold a password)."""

    allowed = "a libpq key=value string or a postgresql:// URI"
    bad = ("", "postgresql://h:notaport/db", "host='unterminated", "=", "mysql://h/db")

    def problem(self, value):
        if not isinstance(value, str) or not value.strip():
            return "it is empty"
        try:
            from psycopg.conninfo import conninfo_to_dict  # pylint: disable=import-outside-toplevel
        except ImportError:  # the module reports the missing library itself
            return None
        if "://" in value and not value.startswith(("postgresql://", "postgres://")):
            return "it is a URI of another scheme"
        try:
            info = conninfo_to_dict(value)
        except Exception:  # noqa: BLE001 - psycopg's text may quote the password
            return "psycopg cannot read it"
        port = str(info.get("port") or "5432")
        if not all(part.isdigit() and 0 < int(part) < 65536 for part in port.split(",")):
            return "its port is not a number from 1 to 65535"
        return None


class Each(Rule):
    """A list whose every element obeys rule, with at most max_items elements."""

    def __init__(self, rule, max_items=100, min_items=0):
        self.rule, self.max_items, self.min_items = rule, max_items, min_items
        self.allowed = "a list of at most %d items, each %s" % (max_items, rule.allowed)
        too_many = [rule.good[0] if rule.good else "x"] * (max_items + 1)
        self.bad = tuple([sample] for sample in rule.bad[:4]) + (too_many,)

    def problem(self, value):
        if not isinstance(value, list):
            return "%s is not a list" % show(value)
        if len(value) < self.min_items:
            return "it needs at least %d item(s)" % self.min_items
        if len(value) > self.max_items:
            return "%d items is more than %d" % (len(value), self.max_items)
        for index, item in enumerate(value):
            problem = self.rule.problem(item)
            if problem:
                return "item %d: %s" % (index + 1, problem)
        return None


class Mapping(Rule):
    """A dict of at most max_items entries whose keys obey key and values obey value."""

    def __init__(self, key, value, max_items=100):
        self.key, self.value, self.max_items = key, value, max_items
        self.allowed = "a mapping of at most %d entries, keys %s, values %s" % (max_items, key.allowed, value.allowed)
        self.bad = ({"": "x"}, {"OK": True}, {"OK": {"a": 1}}, {"A\x00": "x"}, {"x" * 300: "x"})

    def problem(self, value):
        if not isinstance(value, dict):
            return "%s is not a mapping" % show(value)
        if len(value) > self.max_items:
            return "%d entries is more than %d" % (len(value), self.max_items)
        for key in sorted(value, key=str):
            problem = self.key.problem(key)
            if problem:
                return "key %s: %s" % (show(key), problem)
            problem = self.value.problem(value[key])
            if problem:
                return "%s: %s" % (key, problem)
        return None


class Fields(Rule):
    """A dict (or each dict of a list) whose named fields obey their rules."""

    def __init__(self, **rules):
        self.rules = rules
        self.allowed = "; ".join("%s %s" % (name, rule.allowed) for name, rule in sorted(rules.items()))

    def problem(self, value):
        for index, item in enumerate(value if isinstance(value, list) else [value]):
            for name, rule in sorted(self.rules.items()):
                if isinstance(item, dict) and item.get(name) is not None:
                    problem = rule.problem(item[name])
                    if problem:
                        return "item %d, %s: %s" % (index + 1, name, problem)
        return None


# AWS identifiers: resource names of ECS, ElastiCache, SSM, CloudWatch Logs, S3.
ECS_NAME = Text(r"[A-Za-z0-9_-]{1,255}|arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:[a-z-]+/[A-Za-z0-9_/-]{1,512}",
                "letters, digits, - and _ (at most 255) or an ECS ARN", max_length=1600)
TASK_DEFINITION = Text(r"[A-Za-z0-9_-]{1,255}:[1-9]\d{0,8}|arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition/[A-Za-z0-9_-]{1,255}:[1-9]\d{0,8}",
                       "family:revision (sample-service:123) or a task-definition ARN with its revision", max_length=1600)
ELASTICACHE_ID = Text(r"[A-Za-z](?!.*--)[A-Za-z0-9-]{0,48}[A-Za-z0-9]|[A-Za-z]",
                      "an ElastiCache id: a letter, then letters, digits and single hyphens, at most 50, no trailing hyphen",
                      max_length=50)
NODE_ID = Text(r"\d{4}", "a 4-digit id such as \"0001\" (quote it in YAML: 0001 unquoted is the number 1)", max_length=4)
SSM_NAME = Text(r"(?![Aa][Ww][Ss]|[Ss][Ss][Mm]|/[Aa][Ww][Ss]|/[Ss][Ss][Mm])[A-Za-z0-9_./-]{1,2048}",
                "an SSM parameter name: letters, digits and _.-/ (at most 2048), not starting with aws or ssm",
                max_length=2048)
LOG_GROUP = Text(r"[A-Za-z0-9_./#-]{1,512}", "a log group name: letters, digits and _./#- (at most 512)", max_length=512)
S3_BUCKET = Text(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "an S3 bucket name: 3-63 lowercase letters, digits, . and -",
                 max_length=63)
AWS_REGION = Text(r"[a-z]{2}(-[a-z]+)+-\d{1,2}", "an AWS region such as us-east-1", max_length=32)
HOST = Text(r"[^\s/\x00]+|/[^\s\x00]*", "a host name, address or socket directory (no spaces)", max_length=255)
SECRET = Text(None, "non-empty text of at most 4096 characters", max_length=4096)
NAME63 = Text(r"[^\x00]{1,63}", "at most 63 characters (PostgreSQL's name length)", max_length=63)

# Options every backend shares, by name: bounded in every module that has them (see the doc fragments).
SHARED_LIMITS = {
    "region": AWS_REGION,
    "endpoint_url": Url(),
    "api_url": Url(),
    "access_key": Text(r"[A-Za-z0-9]{1,128}", "letters and digits, at most 128", max_length=128),
    "secret_key": SECRET,
    "session_token": SECRET,
    "profile": Text(r"[A-Za-z0-9_.@+-]{1,64}", "letters, digits and _.@+- (at most 64)", max_length=64),
    "connect_timeout": Seconds(300, durations=False),
    "read_timeout": Seconds(900, durations=False),
    "request_timeout": Seconds(300, durations=False),
    "timeout": Seconds(900, durations=False),
    "statement_timeout": Seconds(3600, durations=False),
    "lock_timeout": Seconds(600, durations=False),
    "max_attempts": Whole(1, 10),
    "wait_timeout": Seconds(3600, durations=False),
    "wait_interval": Seconds(300, durations=False),
    "poll_interval": Seconds(60, durations=False),
    "port": Whole(1, 65535),
    "host": HOST,
    "dsn": Dsn(),
    "url": Url(("redis", "rediss", "unix")),
    "password": SECRET,
    "username": Text(None, "non-empty text of at most 256 characters", max_length=256),
    "user": NAME63,
    "database": NAME63,
    "application_name": NAME63,
    "db": Whole(0, 15),
    "api_key": SECRET,
    "app_key": SECRET,
    "token": SECRET,
    "routing_key": SECRET,
    "site": Text(r"[a-z0-9.-]{3,100}", "a Datadog site such as datadoghq.com", max_length=100),
}


def _raw_value(raw, name, spec):
    for key in [name] + list(spec.get("aliases") or []):
        if key in raw:
            return True, raw[key]
    return False, None


def _type_problem(kind, value):
    """What AnsibleModule would silently coerce (or let through) for an option of this type, or None."""
    if value is None or kind == "raw" or callable(kind):
        return None
    if kind in ("int", "float", "str", "path") and isinstance(value, bool):
        wanted = {"int": "a whole number", "float": "a number"}.get(kind, "text (quote it)")
        return "%s is a boolean, not %s" % (show(value), wanted)
    if kind in ("str", "path") and isinstance(value, (dict, list)):
        return "a %s is not text" % ("mapping" if isinstance(value, dict) else "list")
    if kind in ("str", "path") and isinstance(value, str) and "\x00" in value:
        return "it contains a NUL byte"
    if kind == "float" and isinstance(value, (int, float, str)):
        try:
            if not math.isfinite(float(value)):
                return "%s is not a finite number" % show(value)
        except ValueError:
            return None  # AnsibleModule refuses it in its own words
    if kind == "int" and isinstance(value, float) and not value.is_integer():
        return "%s is not a whole number" % show(value)
    return None


def type_problems(argument_spec, raw, prefix=""):
    """(option, problem) for every option whose given value AnsibleModule would coerce; suboptions included."""
    problems = []
    for name, spec in argument_spec.items():
        given, value = _raw_value(raw, name, spec)
        if not given or value is None:
            continue
        label = prefix + name
        kind = spec.get("type", "str")
        problem = _type_problem(kind, value)
        if problem:
            problems.append((label, problem, spec))
            continue
        if kind == "list" and isinstance(value, list):
            for index, item in enumerate(value):
                problem = _type_problem(spec.get("elements") or "raw", item)
                if problem:
                    problems.append(("%s[%d]" % (label, index), problem, spec))
                elif spec.get("options") and isinstance(item, dict):
                    problems.extend(type_problems(spec["options"], item, "%s[%d]." % (label, index)))
        elif kind == "dict" and spec.get("options") and isinstance(value, dict):
            problems.extend(type_problems(spec["options"], value, label + "."))
    return problems


def _rules(rule):
    return rule if isinstance(rule, tuple) else (rule,)


def limit_problems(argument_spec, params, limits):
    """(option, problem, allowed) for every set option outside its module limit or shared limit."""
    problems = []
    for name, spec in argument_spec.items():
        value = params.get(name)
        rules = limits.get(name, SHARED_LIMITS.get(name))
        if value is None or rules is None:
            continue
        for rule in _rules(rules):
            problem = rule.problem(value)
            if problem:
                problems.append((name, problem, rule.allowed, spec))
                break
    return problems


def input_problems(argument_spec, raw, params, limits):
    """The refusal lines for one call, wrong types first; a no_log option's value is never repeated."""
    lines = []
    for name, problem, spec in type_problems(argument_spec, raw):
        rule = limits.get(name, SHARED_LIMITS.get(name)) if name in argument_spec else None
        allowed = _rules(rule)[0].allowed if rule else {"int": "a whole number", "float": "a number"}.get(
            spec.get("type"), "text (quote a value that YAML would read as something else)")
        lines.append(refusal(name, "the value given is of the wrong type" if spec.get("no_log") else problem, allowed))
    for name, problem, allowed, spec in limit_problems(argument_spec, params, limits):
        if spec.get("no_log") and not isinstance(limits.get(name, SHARED_LIMITS.get(name)), (Dsn, Url)):
            problem = "it is empty" if not str(params[name]).strip() else "the value given is not valid"
        lines.append(refusal(name, problem, allowed))
    return lines


class StrictModule(AnsibleModule):
    """AnsibleModule that refuses coerced types and values outside limits (and SHARED_LIMITS) right after parsing."""

    def __init__(self, *args, **kwargs):
        self.limits = kwargs.pop("limits", None) or {}
        try:
            super().__init__(*args, **kwargs)
        except OverflowError:  # AnsibleModule's int conversion of an infinite float; the type check names it
            self.params = {}
            self.fail_json(msg=(input_problems(self.argument_spec, self.raw_params, {}, self.limits) or [
                refusal("?", "a number is too large", "finite numbers")])[0], changed=False)
        problems = input_problems(self.argument_spec, getattr(self, "raw_params", {}), self.params, self.limits)
        if problems:
            self.fail_json(msg=problems[0], changed=False)

    def _load_params(self):
        super()._load_params()
        # AnsibleModule converts self.params in place; the values as given are what tells true from 1.
        self.raw_params = copy.deepcopy(self.params)

# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a diagnosis's reads are worth as evidence: read, missing (the backend failed), or the automation's own fault.

The automation's own authentication, permission, TLS or DNS failure says nothing about the service: a diagnosis
that meets one stops the run (nothing is changed). Any other failure is missing evidence: the diagnosis goes on
without it and each fix says which evidence it needs. Used by the plan filters (redis_diagnosis, ecs_plan,
db_pool_plan).
"""

from __future__ import annotations

import re

# Failures of the automation itself (its credentials, its trust store, its inventory): never a finding.
AUTOMATION_KINDS = ("auth", "permission", "tls", "dns")

_AWS_CODES = {
    "auth": ("InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "ExpiredToken",
             "ExpiredTokenException", "InvalidAccessKeyId", "AuthFailure", "MissingAuthenticationToken",
             "IncompleteSignature", "InvalidSignatureException"),
    "permission": ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
                   "AuthorizationErrorException", "ClientException:AccessDenied"),
    "throttled": ("Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"),
}

# Checked in order: the first pattern found in a failure's message names its kind.
_MESSAGE_KINDS = (
    ("auth", r"authentication failed|password authentication|noauth|wrongpass|invalid username-password|invalid_auth|"
             r"not_authed|invalid routing key|key is wrong|no aws credentials|token_revoked|account_inactive|http 401"),
    ("permission", r"access denied|permission denied|not authorized|forbidden|missing_scope|http 403|"
                   r"must be owner|insufficient privilege"),
    ("tls", r"\btls\b|ssl|certificate"),
    ("dns", r"dns lookup failed|name or service not known|nodename nor servname|getaddrinfo|could not translate host name|"
            r"temporary failure in name resolution|no address associated|could not resolve|name resolution"),
    ("timeout", r"timed out|timeout|no answer within|deadline"),
    ("refused", r"refused|cannot reach|econnrefused|connection reset|remote end closed|no route"),
    ("throttled", r"throttl|rate limited|http 429|too many requests"),
    ("unavailable", r"http 5\d\d|internalfailure|internal server error|service ?unavailable|bad gateway"),
)
_MESSAGE_PATTERNS = tuple((kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in _MESSAGE_KINDS)

_WHAT_TO_FIX = {
    "auth": "fix its credentials",
    "permission": "grant it the permission (docs/iam-policy.md, docs/postgres-role.md)",
    "tls": "fix its TLS settings (CA, hostname)",
    "dns": "fix the endpoint's name in the inventory",
}


def error_kind(message, code=""):
    """auth, permission, tls, dns, timeout, refused, throttled, unavailable or error for one failure."""
    for kind, codes in _AWS_CODES.items():
        if code and code in codes:
            return kind
    for kind, pattern in _MESSAGE_PATTERNS:
        if pattern.search(message or ""):
            return kind
    return "error"


def result_kind(result):
    """error_kind of a failed module result (its own error_kind when it gives one)."""
    return (result or {}).get("error_kind") or error_kind((result or {}).get("msg", ""), (result or {}).get("error_code", ""))


class Evidence:
    """The reads of one diagnosis: which answered, which are missing and why, which failed on the automation."""

    def __init__(self):
        self.missing = []
        self._automation = {}

    @property
    def automation_errors(self):
        """One line per backend and kind: "the automation cannot read Redis: <reasons> - fix its credentials"."""
        return ["the automation cannot read %s: %s - %s" % (label, "; ".join(reasons), _WHAT_TO_FIX[kind])
                for (label, kind), reasons in self._automation.items()]

    def read(self, read_id, label, result):
        """The result when the read answered, else None (recorded as missing or as the automation's fault)."""
        if result is not None and not result.get("failed") and not result.get("skipped"):
            return result
        if result is None or result.get("skipped"):
            reason = "not read"
        else:
            reason = result.get("msg") or "failed"
        self.failure(read_id, label, reason, result_kind(result) if result is not None and result.get("failed") else "error")
        return None

    def failure(self, read_id, label, reason, kind=None):
        """Record a failed read, or part of one (a Redis member's PING); returns whether it is the automation's."""
        kind = kind or error_kind(reason)
        if kind in AUTOMATION_KINDS:
            self._automation.setdefault((label, kind), []).append(reason)
            return True
        self.missing.append({"read": read_id, "what": label, "kind": kind, "reason": reason})
        return False

    def check_access(self, read_id, label, reason):
        """Record a failure only when it is the automation's own (a failed PING is otherwise a finding)."""
        if error_kind(reason) in AUTOMATION_KINDS:
            self.failure(read_id, label, reason)

    def missing_reads(self):
        return sorted(set(item["read"] for item in self.missing))

    def unread(self, read_ids, labels):
        """"<label> (<reason>)" for each of read_ids that is missing: what a refusal names."""
        reasons = dict((item["read"], item["reason"]) for item in self.missing)
        return ", ".join("%s (%s)" % (labels.get(read, read), reasons[read]) for read in read_ids if read in reasons)

    def missing_text(self):
        return ["%s (%s: %s)" % (item["what"], item["kind"], item["reason"]) for item in self.missing]

    def summary(self):
        """The keys every plan filter publishes about its evidence."""
        return {
            "automation_errors": list(self.automation_errors),
            "missing_evidence": self.missing_text(),
            "missing_reads": self.missing_reads(),
        }

# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One line for a failed HTTP call made with urllib (Slack, PagerDuty, health probes): timed out, refused, DNS or TLS."""

from __future__ import annotations

import socket
import ssl

from ansible.module_utils.six.moves.urllib.error import URLError


def describe_network_error(where, exc, timeout, option="api_url"):
    """Timed out, refused, DNS or TLS, each said as what it is; None for anything else."""
    reason = getattr(exc, "reason", exc) if isinstance(exc, URLError) else exc
    text = str(reason).lower()
    if isinstance(reason, (socket.timeout, TimeoutError)) or "timed out" in text:
        return "%s: timed out after %g s (timeout) - the API is slow or unreachable" % (where, round(timeout, 1))
    if isinstance(reason, ConnectionRefusedError) or "refused" in text:
        return "%s: cannot reach the API (connection refused) - check %s and the network" % (where, option)
    if isinstance(reason, socket.gaierror) or "name or service not known" in text or "nodename nor servname" in text:
        return "%s: DNS lookup failed (%s) - check %s and the resolver" % (where, _first_line(reason), option)
    if isinstance(reason, ssl.SSLError) or "ssl" in text or "certificate" in text:
        return "%s: TLS handshake failed (%s) - check %s and the CA bundle" % (where, _first_line(reason), option)
    if isinstance(exc, URLError) or isinstance(reason, OSError):
        return "%s: cannot reach the API (%s) - check %s and the network" % (where, _first_line(reason), option)
    return None


def _first_line(value):
    text = str(value)
    return text.splitlines()[0] if text else type(value).__name__

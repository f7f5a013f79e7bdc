"""What a Redis client outside the lab sends through a lab endpoint: the ``auth`` fault and the journal.

Commands are read off the client's byte stream and matched, in order, with the server's replies (RESP3 push
frames and attributes are not replies). An admin command whose reply is not an error is journaled with the
node that ran it. Under the ``auth`` fault, AUTH (and HELLO ... AUTH) get WRONGPASS from the proxy, never
reaching Redis; replies stay in order. A connection that subscribes or monitors is no longer followed.
"""

from __future__ import annotations

import logging
import socket
from collections import deque
from typing import Callable

from . import resp
from .faults import TABLE
from .journal import JOURNAL, REDACTED
from .redis_proxy import Passthrough

log = logging.getLogger("lab.redis_session")

WRONGPASS = resp.error("WRONGPASS invalid username-password pair or user is disabled.")
# Role, configuration and data-wiping commands (subcommands: those that change something).
ADMIN = {"REPLICAOF": None, "SLAVEOF": None, "FAILOVER": None, "SHUTDOWN": None, "FLUSHALL": None,
         "FLUSHDB": None, "DEBUG": None, "SWAPDB": None, "SAVE": None, "BGSAVE": None, "BGREWRITEAOF": None,
         "CONFIG": {"SET", "REWRITE", "RESETSTAT"}, "CLIENT": {"KILL", "PAUSE", "UNPAUSE"},
         "ACL": {"SETUSER", "DELUSER", "LOAD", "SAVE"}, "MODULE": {"LOAD", "LOADEX", "UNLOAD"},
         "SCRIPT": {"FLUSH", "KILL"}, "FUNCTION": {"FLUSH", "DELETE", "LOAD", "RESTORE", "KILL"},
         "CLUSTER": {"FAILOVER", "RESET", "FORGET", "MEET", "REPLICATE", "ADDSLOTS", "DELSLOTS", "SETSLOT"},
         "SENTINEL": {"FAILOVER", "SET", "REMOVE", "MONITOR"}}
UNFOLLOWED = {"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR", "SYNC", "PSYNC"}
SECRET_CONFIG = {"requirepass", "masterauth", "masteruser", "tls-key-file-pass", "tls-client-key-file-pass"}


def session_factory(node_name: Callable[[], str], endpoint: str) -> Callable[..., "RespSession"]:
    def make(client: socket.socket, backend: str) -> RespSession:
        return RespSession(client, backend, node_name, endpoint)

    return make


class RespSession(Passthrough):
    def __init__(self, client: socket.socket, backend: str, node_name: Callable[[], str], endpoint: str) -> None:
        super().__init__(client, backend)
        self.node_name = node_name
        self.endpoint = endpoint
        self.following = True
        self._in = b""
        self._out = b""
        self._pending: deque = deque()  # ("cmd", words) awaiting a reply, or ("reply", bytes) to send in turn

    def from_client(self, data: bytes) -> bytes:
        if not self.following:
            return data
        self._in += data
        forward, pos = [], 0
        with self.send_lock:
            while True:
                try:
                    end, _kind, value = resp.parse(self._in, pos)
                except resp.Incomplete:
                    break
                except resp.BadFrame:
                    self._give_up()
                    forward.append(self._in[pos:])
                    pos = len(self._in)
                    break
                words = resp.command(value)
                frame, pos = self._in[pos:end], end
                if words is None:
                    forward.append(frame)
                    continue
                name = words[0].upper()
                if self._refused(name, words):
                    if self._pending:
                        self._pending.append(("reply", WRONGPASS))
                    else:
                        self.client.sendall(WRONGPASS)
                    continue
                forward.append(frame)
                self._pending.append(("cmd", words))
                if name in UNFOLLOWED:
                    self._give_up()
                    forward.append(self._in[pos:])
                    pos = len(self._in)
                    break
            self._in = self._in[pos:]
        return b"".join(forward)

    def from_server(self, data: bytes) -> bytes:
        """Writes what the client gets itself, under the lock that from_client's WRONGPASS answers take too."""
        with self.send_lock:
            out = self._replies(data) if self.following else data
            if out:
                self.client.sendall(out)
        return b""

    def _replies(self, data: bytes) -> bytes:
        self._out += data
        out, pos = [], 0
        while True:
            try:
                end, kind, value = resp.parse(self._out, pos)
            except resp.Incomplete:
                break
            except resp.BadFrame:
                self._give_up()
                out.append(self._out[pos:])
                pos = len(self._out)
                break
            out.append(self._out[pos:end])
            pos = end
            if kind in (b">", b"|"):
                continue
            if self._pending and self._pending[0][0] == "cmd":
                words = self._pending.popleft()[1]
                if kind not in (b"-", b"!"):
                    self._record(words)
            while self._pending and self._pending[0][0] == "reply":
                out.append(self._pending.popleft()[1])
        self._out = self._out[pos:]
        return b"".join(out)

    def _refused(self, name: str, words: list[str]) -> bool:
        fault = TABLE.backend_wide(self.backend, "auth")
        if fault is None:
            return False
        return name == "AUTH" or (name == "HELLO" and any(w.upper() == "AUTH" for w in words[1:]))

    def _give_up(self) -> None:
        self.following = False
        remaining = [item[1] for item in self._pending if item[0] == "reply"]
        if remaining:
            self.client.sendall(b"".join(remaining))
        self._pending.clear()

    def _record(self, words: list[str]) -> None:
        name = words[0].upper()
        if name not in ADMIN:
            return
        sub = words[1].upper() if len(words) > 1 else ""
        if ADMIN[name] is not None and sub not in ADMIN[name]:
            return
        operation = f"{name} {sub}" if ADMIN[name] is not None else name
        args = words[2:] if ADMIN[name] is not None else words[1:]
        try:
            JOURNAL.add("redis", operation, self.node_name(), {"args": _redacted(operation, args),
                                                               "endpoint": self.endpoint})
        except Exception:
            log.exception("journal: recording %s failed", operation)


def _redacted(operation: str, args: list[str]) -> list[str]:
    if operation == "CONFIG SET":
        out = []
        for i, arg in enumerate(args):
            secret = i % 2 == 1 and args[i - 1].lower() in SECRET_CONFIG
            out.append(REDACTED if secret else arg)
        return out
    if operation == "ACL SETUSER":
        return [REDACTED if a[:1] in (">", "<", "#", "!") else a for a in args]
    return list(args)

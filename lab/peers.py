"""Is a loopback connection the lab's own? (its daemon process or a Redis child talking to a lab port)

The lab's break/heal boto3 calls, the app simulator's Redis PING and the replicas' replication links reach the
same ports as the automation. Faults and the journal are for the automation only, so each accepted connection
is checked: its client end is a socket held by this process (or a registered child) or it is not.
"""

from __future__ import annotations

import os
import threading

_child_pids: set[int] = set()
_lock = threading.Lock()


def add_child(pid: int) -> None:
    with _lock:
        _child_pids.add(pid)


def remove_child(pid: int) -> None:
    with _lock:
        _child_pids.discard(pid)


def is_own(peer_port: int, server_port: int) -> bool:
    """True if the client end 127.0.0.1:peer_port -> :server_port belongs to the lab (never raises)."""
    try:
        inode = _client_inode(int(peer_port), int(server_port))
        if inode is None:
            return False
        with _lock:
            pids = ["self", *map(str, _child_pids)]
        return any(inode in _socket_inodes(pid) for pid in pids)
    except (OSError, ValueError):
        return False


def _client_inode(peer_port: int, server_port: int) -> str | None:
    local, remote = f"0100007F:{peer_port:04X}", f"0100007F:{server_port:04X}"
    with open("/proc/net/tcp") as fh:
        next(fh, None)
        for line in fh:
            fields = line.split()
            if len(fields) > 9 and fields[1] == local and fields[2] == remote:
                return fields[9]
    return None


def _socket_inodes(pid: str) -> set[str]:
    found = set()
    base = f"/proc/{pid}/fd"
    try:
        names = os.listdir(base)
    except OSError:
        return found
    for name in names:
        try:
            target = os.readlink(f"{base}/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found

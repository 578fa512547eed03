"""The TCP ports a deployment listens on, read from ``/proc`` (Linux), bounded.

* a process deployment: the leader and its descendants (parents read from ``/proc/*/stat``),
  their socket inodes (``/proc/<pid>/fd`` links ``socket:[N]``), matched against the LISTEN
  entries of ``/proc/<leader>/net/tcp`` and ``tcp6`` (the leader's network namespace): the
  ports *this* process tree serves, not the other services of the machine;
* a container: every LISTEN entry of ``/proc/<pid>/net/tcp{,6}`` of its first process — that
  is the container's own network namespace, so a port opened inside and never published is
  seen as well.

Every read is bounded (bytes per file, processes walked, descriptors per process); a bound
hit, a process gone or a file unreadable is reported in :attr:`Listening.problems`, which the
caller turns into ``ports.scan-incomplete`` (never a silent pass). Nothing is executed.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
MAX_NET_BYTES = 32 << 20
"""Largest ``/proc/<pid>/net/tcp`` read (about 200 000 sockets)."""
MAX_PROCESSES = 100_000
"""Processes walked to find a leader's descendants."""
MAX_FDS = 65_536
"""Descriptors read per process of the tree."""
MAX_TREE = 4096
"""Processes in one deployment's tree."""
_LISTEN = "0A"


@dataclass(frozen=True, order=True)
class Listener:
    """One listening TCP socket."""

    port: int
    address: str
    """The local address (``0.0.0.0``, ``127.0.0.1``, ``::`` …)."""
    inode: int = 0
    pid: int | None = None
    """The process of the tree holding it (process deployments)."""

    @property
    def scan_address(self) -> str:
        """The address to reach it at: loopback for a wildcard listener."""
        ip = ipaddress.ip_address(self.address)
        if ip.is_unspecified:
            return "::1" if ip.version == 6 else "127.0.0.1"
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ip)


@dataclass
class Listening:
    """What was found, and what could not be read."""

    listeners: list[Listener] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    pids: tuple[int, ...] = ()

    @property
    def ports(self) -> list[int]:
        """The distinct ports listened on."""
        return sorted({item.port for item in self.listeners})


def _read(path: Path, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of a /proc file (their size is not known before)."""
    with path.open("rb") as fh:
        return fh.read(limit + 1)


def _address(hex_text: str) -> str:
    raw = bytes.fromhex(hex_text)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    if len(raw) == 16:  # four host-order 32-bit words
        words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
        return str(ipaddress.IPv6Address(words))
    raise ValueError("address length")


def parse_net_tcp(text: str, where: str, problems: list[str]) -> list[Listener]:
    """The LISTEN entries of one ``/proc/net/tcp`` or ``tcp6`` table."""
    found: list[Listener] = []
    for number, line in enumerate(text.splitlines()[1:], 2):
        parts = line.split()
        if len(parts) < 10:
            continue
        if parts[3] != _LISTEN:
            continue
        try:
            address, _, port_hex = parts[1].partition(":")
            found.append(Listener(int(port_hex, 16), _address(address), int(parts[9])))
        except ValueError:
            problems.append(f"{where} line {number}: unreadable entry")
    return found


def netns_listeners(pid: int, proc: Path = PROC) -> Listening:
    """Every LISTEN socket of the network namespace ``pid`` is in."""
    out = Listening(pids=(pid,))
    for name in ("tcp", "tcp6"):
        path = proc / str(pid) / "net" / name
        try:
            raw = _read(path, MAX_NET_BYTES)
        except FileNotFoundError:
            if name == "tcp6":
                continue  # IPv6 disabled in that namespace
            out.problems.append(f"{path}: process {pid} is gone")
            continue
        except OSError as exc:
            out.problems.append(f"{path}: {exc.strerror or exc}")
            continue
        if len(raw) > MAX_NET_BYTES:
            out.problems.append(f"{path} is larger than {MAX_NET_BYTES} bytes: not read")
            continue
        out.listeners += parse_net_tcp(raw.decode("ascii", "replace"), str(path), out.problems)
    return out


def _parent(pid_dir: Path) -> int | None:
    try:
        raw = _read(pid_dir / "stat", 4096)
    except OSError:
        return None  # gone meanwhile
    # "PID (COMM) STATE PPID …" — COMM may hold spaces and parentheses: cut at the last ")"
    rest = raw.rpartition(b")")[2].split()
    return int(rest[1]) if len(rest) > 1 and rest[1].isdigit() else None


def process_tree(leader: int, problems: list[str], proc: Path = PROC) -> list[int]:
    """The leader and its descendants."""
    children: dict[int, list[int]] = {}
    for count, entry in enumerate(os.scandir(proc)):
        if count >= MAX_PROCESSES:
            problems.append(f"more than {MAX_PROCESSES} entries in {proc}: descendants may "
                            "be missing")
            break
        if not entry.name.isdigit():
            continue
        parent = _parent(Path(entry.path))
        if parent is not None:
            children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [leader], [leader]
    while todo:
        for child in children.get(todo.pop(), ()):
            if len(tree) >= MAX_TREE:
                problems.append(f"more than {MAX_TREE} processes in the tree of {leader}")
                return tree
            tree.append(child)
            todo.append(child)
    return tree


def socket_inodes(pids: Iterable[int], problems: list[str],
                  proc: Path = PROC) -> dict[int, int]:
    """Socket inode -> the pid holding it, for the given processes."""
    found: dict[int, int] = {}
    for pid in pids:
        fd_dir = proc / str(pid) / "fd"
        try:
            entries = os.scandir(fd_dir)
        except FileNotFoundError:
            continue  # exited meanwhile
        except OSError as exc:
            problems.append(f"{fd_dir}: {exc.strerror or exc}")
            continue
        with entries:
            for count, entry in enumerate(entries):
                if count >= MAX_FDS:
                    problems.append(f"process {pid} has more than {MAX_FDS} descriptors: the "
                                    "rest not read")
                    break
                try:
                    target = os.readlink(entry.path)
                except OSError:
                    continue  # closed meanwhile
                if target.startswith("socket:[") and target.endswith("]"):
                    inode = target[8:-1]
                    if inode.isdigit():
                        found.setdefault(int(inode), pid)
    return found


def tree_listeners(leader: int, proc: Path = PROC) -> Listening:
    """The LISTEN sockets held by ``leader`` and its descendants."""
    if not (proc / str(leader)).is_dir():
        return Listening(problems=[f"process {leader} is not running"])
    problems: list[str] = []
    pids = process_tree(leader, problems, proc)
    inodes = socket_inodes(pids, problems, proc)
    table = netns_listeners(leader, proc)
    problems += table.problems
    mine = [Listener(item.port, item.address, item.inode, inodes[item.inode])
            for item in table.listeners if item.inode in inodes]
    return Listening(sorted(set(mine)), problems, tuple(pids))

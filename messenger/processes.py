"""Stopping a process we started, with everything it started: ``make run``'s children, the
benches' servers and workers, the tests' servers and workers.

Each such process is started with ``start_new_session=True``, so it leads a process group
of its own. Stopping it means the whole group, and more: an RQ worker forks its scheduler
into its group but each work horse into a session of its own, and a worker killed by its
pid alone leaves its scheduler running (holding the scheduler lock and moving scheduled
jobs for whoever comes next). ``kill_tree`` first freezes the group (SIGSTOP), so nothing
forks while the descendants are listed, then kills them and the group.
"""
from __future__ import annotations

import os
import signal
import subprocess
from typing import Any

WAIT_AFTER_KILL_S = 15.0


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid``, read from /proc (empty where there is no /proc)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _signal(pid: int, sig: int, *, group: bool = False) -> None:
    try:
        (os.killpg if group else os.kill)(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def kill_tree(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL a session leader, its process group and every descendant, with no window for a fork."""
    _signal(proc.pid, signal.SIGSTOP, group=True)
    if proc.returncode is None:  # not reaped yet, so its pid is still its own
        for pid in descendants(proc.pid):
            _signal(pid, signal.SIGKILL)
    _signal(proc.pid, signal.SIGKILL, group=True)
    try:
        proc.wait(WAIT_AFTER_KILL_S)
    except subprocess.TimeoutExpired:
        pass


def stop_tree(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, grace: float = 15.0) -> None:
    """Ask the group to stop with ``sig`` and wait up to ``grace`` seconds; then kill what is left of it."""
    if sig != signal.SIGKILL and proc.poll() is None:
        _signal(proc.pid, sig, group=True)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    kill_tree(proc)

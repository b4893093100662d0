"""Summarise a `py-spy record --format raw` profile: where the samples went.  `python -m bench.flame FILE…`.

Samples whose innermost frame is a wait (the event loop's select, an idle worker thread) are left out.
Prints, per file, the share of samples by the package of the innermost frame (self time), the top
functions by self time, and the project's own functions by inclusive time (the frame and its callees).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<function>.*) \((?P<path>[^():]*)(?::\d+)?\)$")
PROJECT = ("bot", "conversations", "service", "bench")
# Leaves where a thread waits rather than computes, which py-spy's idle detection does not always catch.
WAITING = (
    re.compile(r"^EpollSelector\.select \(selectors\.py"),
    re.compile(r"^_connection_worker_thread \(aiosqlite/core\.py:59\)"),  # tx.get(): waiting for work
    re.compile(r"^Condition\.wait \(threading\.py"),
    re.compile(r"^_worker \(concurrent/futures/thread\.py"),
)


def frames(stack: str) -> list[tuple[str, str]]:
    """(function, path) of each frame, outermost first."""
    parsed = []
    for frame in stack.split(";"):
        match = FRAME.match(frame)
        parsed.append((match["function"], match["path"]) if match else (frame, ""))
    return parsed


def package(path: str) -> str:
    """The top-level package of a frame's file (`aiohttp/client.py` → aiohttp)."""
    head = path.split("/", 1)[0]
    return head.removesuffix(".py") or "?"


def summarise(path: Path, top: int) -> list[str]:
    self_by_package: Counter[str] = Counter()
    self_by_function: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        if any(pattern.match(stack.rsplit(";", 1)[-1]) for pattern in WAITING):
            continue
        total += count
        stack_frames = frames(stack)
        function, frame_path = stack_frames[-1]
        self_by_package[package(frame_path)] += count
        self_by_function[f"{function} ({frame_path})"] += count
        for seen in {f"{f} ({p})" for f, p in stack_frames if package(p) in PROJECT}:
            inclusive[seen] += count
    if not total:
        return [f"{path}: no samples"]
    lines = [f"{path}: {total} samples"]
    lines.append(
        "  self time by package: "
        + ", ".join(f"{name} {n / total:.0%}" for name, n in self_by_package.most_common(top))
    )
    lines.append("  top functions by self time:")
    lines += [f"    {n / total:5.1%}  {name}" for name, n in self_by_function.most_common(top)]
    lines.append("  project functions by inclusive time:")
    lines += [f"    {n / total:5.1%}  {name}" for name, n in inclusive.most_common(top)]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=15)
    arguments = parser.parse_args()
    for path in arguments.files:
        print("\n".join(summarise(path, arguments.top)))


if __name__ == "__main__":
    main()

"""One step of a Make target, quietly: runs a command with its output (stdout and stderr) appended
to a log file, and prints one line for it ("[3] persona study simulated|sample ... done in 41 s").
On a terminal the line is a live status while the step runs: the Dagster step under way and, when
the model-call engine logs its progress, a bar of the calls made. On failure it prints the tail of
the step's output and the log's path (on stderr) and exits with the command's code.

The Makefile runs it with the system Python before the virtual environment exists (it installs
it), so it uses the standard library alone:

    python3 personality_assets/make_step.py --log LOG --run ID "what the step does" COMMAND [ARG...]
    python3 personality_assets/make_step.py --log LOG --run ID --finished

Steps of one make command share ``--run`` (any id unique to that command): they are numbered in
order, and the first of them starts the log afresh. ``--finished`` prints how many steps ran,
in how long, and where their output is. ``--verbose`` also shows the output as it comes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

TAIL_LINES = 25
# Left out of the tail a failing step shows (they stay in the log): Dagster's DEBUG events, and
# the frames of stack traces (a "File ..." line and the indented source lines under it).
DEBUG_EVENT = re.compile(r" - DEBUG - ")
STACK_FRAME = re.compile(r'^\s+File "')
FRAME_SOURCE = re.compile(r"^\s{4,}\S")
# Dagster's event log ("... - STEP_START - Started execution of step "personas".") and the engine's
# progress ("... - 1,464/2,400 (61%), 233.2 calls/s, ETA 4s, ...", llm/engine.py _log_progress).
DAGSTER_STEP = re.compile(r' - STEP_START - Started execution of step "(?P<step>[^"]+)"')
ENGINE_PROGRESS = re.compile(r"(?P<done>[\d,]+)/(?P<total>[\d,]+) \(\d+%\), [\d,.]+ calls/s")


def duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60} s"


class Tail:
    """The last lines of a step's output that say what went wrong."""

    def __init__(self):
        self.lines: deque[str] = deque(maxlen=TAIL_LINES)
        self.in_frame = False

    def add(self, line: str) -> None:
        if STACK_FRAME.match(line) or (self.in_frame and FRAME_SOURCE.match(line)):
            self.in_frame = True
        else:
            self.in_frame = False
            if not DEBUG_EVENT.search(line):
                self.lines.append(line)


class State:
    """The steps of one make command so far, beside the log (LOG.steps.json)."""

    def __init__(self, log: Path, run: str):
        self.path = log.with_name(log.name + ".steps.json")
        self.log, self.run = log, run

    def read(self) -> dict:
        try:
            state = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return state if state.get("run") == self.run else {}

    def next_step(self) -> int:
        state = self.read()
        if not state:  # the make command's first step: a fresh log
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self.log.write_text("")
            state = {"run": self.run, "started": time.time(), "steps": 0}
        state["steps"] += 1
        self.path.write_text(json.dumps(state))
        return state["steps"]


class Status:
    """The step's line on a terminal: rewritten in place while the step runs."""

    def __init__(self, head: str, started: float):
        self.head, self.started = head, started
        self.step = ""
        self.progress: tuple[int, int] | None = None
        self.lock = threading.Lock()

    def see(self, line: str) -> None:
        if match := DAGSTER_STEP.search(line):
            self.step, self.progress = match["step"], None
        elif match := ENGINE_PROGRESS.search(line):
            self.progress = (int(match["done"].replace(",", "")), int(match["total"].replace(",", "")))

    def text(self, width: int) -> str:
        """The label, the time so far, the Dagster step and a bar of the calls, within ``width``
        (the bar shrinks first, then the step's name goes)."""
        base = f"{self.head}  {duration(time.monotonic() - self.started)}"
        step = f"  {self.step}" if self.step else ""
        if not self.progress:
            return (base + step)[:width]
        done, total = self.progress
        count = f" {done:,}/{total:,}"
        room = width - len(base) - len(step) - len(count) - 2
        if room < 10:
            step, room = "", width - len(base) - len(count) - 2
        bar = max(min(room, 30), 0)
        filled = bar * done // max(total, 1)
        return f"{base}{step}  {'█' * filled}{'░' * (bar - filled)}{count}"[:width]

    def tick(self, stop: threading.Event) -> None:
        self.draw()
        while not stop.wait(1):
            self.draw()

    def draw(self) -> None:
        width = shutil.get_terminal_size().columns - 1
        with self.lock:
            sys.stdout.write("\r\033[K" + self.text(width))
            sys.stdout.flush()

    def clear(self) -> None:
        with self.lock:
            sys.stdout.write("\r\033[K")
            sys.stdout.flush()


def run_step(log: Path, run: str, label: str, command: list[str], verbose: bool = False) -> int:
    number = State(log, run).next_step()
    head = f"[{number}] {label}"
    started = time.monotonic()
    live = sys.stdout.isatty() and not verbose
    status = Status(head, started)
    if verbose:
        print(f"{head} ...", flush=True)
    elif not live:
        print(f"{head} ...", end=" ", flush=True)  # the rest of the line when the step ends
    stop = threading.Event()
    ticker = threading.Thread(target=status.tick, args=(stop,), daemon=True)
    if live:
        ticker.start()
    tail = Tail()
    code = None
    with log.open("a", encoding="utf-8", errors="replace") as out:
        out.write(f"\n===== [{number}] {label}: {' '.join(command)}\n")
        out.flush()
        try:
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, bufsize=0
            )
        except OSError as exc:
            out.write(f"{exc}\n")
            tail.add(f"{exc}\n")
            code = 127
        else:
            try:
                for raw in iter(process.stdout.readline, b""):
                    line = raw.decode("utf-8", errors="replace")
                    out.write(line)
                    out.flush()
                    tail.add(line)
                    status.see(line)
                    if verbose:
                        sys.stdout.write(line)
                        sys.stdout.flush()
                code = process.wait()
            except KeyboardInterrupt:  # Ctrl-C reached the command too: let it stop, then say so
                process.wait()
                code = 130
    stop.set()
    if live:
        ticker.join()
        status.clear()
    if live or verbose:  # the step's line again, in full (not continued from its start)
        print(head, end=" ... ")
    elapsed = duration(time.monotonic() - started)
    if code == 0:
        print(f"done in {elapsed}", flush=True)
        return 0
    what = "interrupted" if code == 130 else f"failed (exit code {code})"
    print(f"{what} after {elapsed}", flush=True)
    print("----- the end of its output (without Dagster's DEBUG lines and stack frames):", file=sys.stderr)
    sys.stderr.write("".join(tail.lines))
    print(f"----- all of it: {log}", file=sys.stderr, flush=True)
    return code or 1


def finished(log: Path, run: str) -> int:
    state = State(log, run).read()
    if state:
        elapsed = duration(time.time() - state["started"])
        print(f"{state['steps']} steps done in {elapsed}; their output is in {log}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", type=Path, required=True, help="the log file the output is appended to")
    parser.add_argument("--run", default=str(os.getppid()), help="an id the steps of one make command share")
    parser.add_argument("--verbose", action="store_true", help="also show the output as it comes")
    parser.add_argument("--finished", action="store_true", help="say how many steps ran, how long, and the log")
    parser.add_argument("label", nargs="?", help="what the step does")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command and its arguments")
    args = parser.parse_args(argv)
    log = args.log.absolute()
    if args.finished:
        return finished(log, args.run)
    if not args.label or not args.command:
        parser.error("a label and a command are needed")
    return run_step(log, args.run, args.label, args.command, args.verbose)


if __name__ == "__main__":
    sys.exit(main())

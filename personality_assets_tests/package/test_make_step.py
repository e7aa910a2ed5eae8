"""make_step.py, the wrapper every step of `make install` and `make run` goes through: one line per
step on stdout, the step's output in the log only, and on failure the end of that output, the log's
path and the command's exit code. Run as the Makefile runs it (a script, before the venv exists)."""

import re
import subprocess
import sys
import time

from personality_assets_tests.support.helpers import ROOT

SCRIPT = ROOT / "personality_assets" / "make_step.py"
# A step that fails as a Dagster run does: DEBUG events, a traceback, then the error.
FAILING = """
import sys
import time
print('2026-12-06 15:44:22 +0000 - dagster - DEBUG - job - run - 1 - RUN_START - Started execution of run.')
print('2026-12-06 15:44:22 +0000 - dagster - ERROR - job - run - personas - no API key: set OPENAI_API_KEY')
sys.stdout.flush()
def deep():
    raise RuntimeError('the step broke')
deep()
"""


def step(log, run, *command, label="the step"):
    arguments = [sys.executable, str(SCRIPT), "--log", str(log), "--run", run]
    return subprocess.run(
        [*arguments, *([label] if label else []), *command], capture_output=True, text=True, timeout=60
    )


def test_a_step_prints_one_line_and_its_output_goes_to_the_log_only(tmp_path):
    log = tmp_path / "home" / "make-run.log"  # its folder is made: the install step runs before any other
    code = "import sys; print('pip says a lot'); print('a warning', file=sys.stderr)"
    result = step(log, "1", sys.executable, "-c", code, label="install (pip)")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"\[1\] install \(pip\) \.\.\. done in \d+ s\n", result.stdout), result.stdout
    assert result.stderr == ""
    text = log.read_text()
    assert "pip says a lot" in text and "a warning" in text


def test_steps_of_one_make_command_are_numbered_and_the_next_command_starts_a_fresh_log(tmp_path):
    log = tmp_path / "make-run.log"
    first = step(log, "make-1", sys.executable, "-c", "print('first output')", label="first")
    second = step(log, "make-1", sys.executable, "-c", "print('second output')", label="second")
    assert first.stdout.startswith("[1] first ...") and second.stdout.startswith("[2] second ...")
    assert "first output" in log.read_text() and "second output" in log.read_text()
    finished = step(log, "make-1", "--finished", label=None)
    assert re.fullmatch(rf"2 steps done in \d+ s; their output is in {re.escape(str(log))}\n", finished.stdout)

    again = step(log, "make-2", sys.executable, "-c", "print('next run')", label="first")
    assert again.stdout.startswith("[1] first ...")
    assert "next run" in log.read_text() and "first output" not in log.read_text()


def test_a_failing_step_names_the_log_shows_the_error_and_exits_with_its_code(tmp_path):
    log = tmp_path / "make-run.log"
    result = step(log, "1", sys.executable, "-c", FAILING, label="persona study")
    assert result.returncode == 1
    assert re.fullmatch(r"\[1\] persona study \.\.\. failed \(exit code 1\) after \d+ s\n", result.stdout)
    assert "RuntimeError: the step broke" in result.stderr and "no API key" in result.stderr
    assert result.stderr.rstrip().endswith(f"all of it: {log}")
    # The tail leaves out what hides the error; the log keeps everything.
    assert "RUN_START" not in result.stderr and "in deep" not in result.stderr
    assert "RUN_START" in log.read_text() and "in deep" in log.read_text()

    exit_code = step(log, "1", sys.executable, "-c", "raise SystemExit(3)", label="another")
    assert exit_code.returncode == 3 and exit_code.stdout.startswith("[2] another ... failed (exit code 3)")
    missing = step(log, "1", str(tmp_path / "no-such-command"), label="missing")
    assert missing.returncode == 127 and "no-such-command" in missing.stderr


def _recipe_lines(makefile: str, target: str) -> list[str]:
    """The target's recipe lines and those of its prerequisites defined in the Makefile, with the
    continuation lines of a shell loop joined."""
    head, _, rest = makefile.partition(f"\n{target}:")
    prerequisites, _, recipe = rest.split("\n\n", 1)[0].partition("\n")
    own = [name for name in prerequisites.split() if f"\n{name}:" in makefile and name != target]
    lines = recipe.replace("\\\n", " ").splitlines()
    return [line for name in own for line in _recipe_lines(makefile, name)] + lines


def test_every_command_of_make_run_and_the_install_goes_through_the_wrapper():
    """So that a line added to the run target prints one line too: `$(STEP) "what it does" command`."""
    makefile = (ROOT / "Makefile").read_text()
    lines = _recipe_lines(makefile, "run")  # with its prerequisites: install, sample-populations
    commands = [
        line
        for line in lines
        if re.search(r"\$\(LAUNCH\)|\$\(BIN\)/(pip|python)|-m venv", line) and "cli summary" not in line
    ]
    assert len(commands) >= 10 and any("-m venv" in line for line in commands)
    for line in commands:
        assert re.search(r'\$\(STEP\) "[^"]+" (\$\(LAUNCH\)|\$\(BIN\)/|\$\(PYTHON\))', line), line


def test_verbose_shows_the_output_as_well_as_logging_it(tmp_path):
    log = tmp_path / "make-run.log"
    arguments = [sys.executable, str(SCRIPT), "--log", str(log), "--run", "1", "--verbose", "the step"]
    result = subprocess.run(
        [*arguments, sys.executable, "-c", "print('pip says a lot')"], capture_output=True, text=True
    )
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert (
        lines[0] == "[1] the step ..." and lines[1] == "pip says a lot" and lines[2].startswith("[1] the step ... done")
    )
    assert "pip says a lot" in log.read_text()


def test_the_live_status_follows_the_dagster_step_and_the_engines_progress_within_the_width():
    from personality_assets.make_step import Status

    status = Status("[8] persona study simulated|sample", started=time.monotonic())
    status.see(
        '2026-12-06 - dagster - DEBUG - j - r - 1 - personas - STEP_START - Started execution of step "personas".'
    )
    assert "personas" in status.text(80) and "█" not in status.text(80)
    status.see(
        '2026-12-06 - dagster - DEBUG - j - r - 1 - questionnaire_answers - STEP_START - Started execution of step "questionnaire_answers".'
    )
    status.see("2026-12-06 - dagster - INFO - j - r - questionnaire_answers - 1,200/2,400 (50%), 233.2 calls/s, ETA 4s")
    wide = status.text(120)
    assert "questionnaire_answers" in wide and wide.endswith(" 1,200/2,400") and wide.count("█") == wide.count("░")
    narrow = status.text(70)
    assert len(narrow) <= 70 and narrow.endswith(" 1,200/2,400") and "█" in narrow  # the step's name gave way

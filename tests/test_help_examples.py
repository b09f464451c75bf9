"""Every `--help` page has an example, and its example works when pasted into a shell.

The examples are read from the help text exactly as printed (so a formatter that collapses a
newline or wraps a command breaks the test). Commands that need no server are run, in the
order the commands are registered (run before results, ...), in one fresh directory that has
the repository's `examples/`; the distributed ones (a broker and workers) are parsed.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from infscale.cli.main import build_parser
from tests.services import RedisServer, Worker

REPO = Path(__file__).resolve().parent.parent
NEEDS_SERVERS = {"submit", "status", "wait", "cancel", "worker", "beat", "flower", "serve"}  # or run forever
AGAINST_A_WORKER = ("submit", "status", "wait", "cancel")  # run with a real redis-server and worker
HEADING = re.compile(r"^examples?:$")


def parsers(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """(command words, parser) of every subcommand, nested ones too, in registration order."""
    for action in parser._actions:  # noqa: SLF001 - argparse keeps subcommands only here
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for name, child in action.choices.items():
                yield " ".join((*words, name)), child
                yield from parsers(child, (*words, name))


def examples(parser: argparse.ArgumentParser) -> list[str]:
    """The shell lines under `example:` in the printed help."""
    lines = parser.format_help().splitlines()
    starts = [i for i, line in enumerate(lines) if HEADING.match(line)]
    out = []
    for i in starts:
        for line in lines[i + 1:]:
            if not line.startswith("  "):
                break
            out.append(line.strip())
    return out


def invocations(line: str) -> list[list[str]]:
    """The argument lists of each `infscale` command in a shell line (env prefixes, pipes,
    redirections and comments set aside)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    commands, current = [], []
    for token in list(lexer) + [";"]:
        if token in {"&&", "||", "|", ";"}:
            words = [w for w in current if not re.match(r"^[A-Z_]+=", w)]
            if words and words[0] == "infscale":
                commands.append(words[1:])
            current = []
        elif token in {">", ">>", "<"}:
            current.append(None)  # the next word is a file name
        elif current and current[-1] is None:
            current[-1:] = []
        else:
            current.append(token)
    return commands


ALL = list(parsers(build_parser()))


@pytest.mark.parametrize("command, parser", ALL, ids=[c for c, _ in ALL])
def test_every_help_page_has_an_example_whose_commands_parse(command, parser):
    lines = examples(parser)
    assert lines, f"`infscale {command} --help` has no example"
    calls = [call for line in lines for call in invocations(line)]
    assert any(call[:len(command.split())] == command.split() for call in calls), (command, lines)
    for call in calls:
        try:
            args = build_parser().parse_args(call)
        except SystemExit as exc:
            pytest.fail(f"`infscale {' '.join(call)}` (in `infscale {command} --help`) does not parse: exit {exc.code}")
        assert hasattr(args, "handler"), call


def test_help_text_has_no_escaped_percent_or_collapsed_example():
    for command, parser in ALL:
        text = parser.format_help()
        assert "%%" not in text, command
        assert not re.search(r"--[a-z]+(-[a-z]+)*-\n", text), f"a flag is split across lines in `{command} --help`"
    fit = examples(dict(ALL)["fit-accuracy"])
    assert fit == ["printf 'k,pass_rate\\n1,0.42\\n4,0.63\\n16,0.78\\n' > evals.csv && infscale fit-accuracy evals.csv"]


def test_version():
    done = subprocess.run([sys.executable, "-m", "infscale.cli.main", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and re.fullmatch(r"infscale \d+\.\d+\.\d+\S*\n", done.stdout), done


def pasted(line: str, command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", line], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert "Traceback" not in done.stderr, line
    return done


def shell_env(**extra: str) -> dict[str, str]:
    """A user's shell: this installation's `infscale` on PATH, no INFSCALE_ settings unless given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFSCALE_")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return {**env, "MPLBACKEND": "Agg", **extra}


@pytest.mark.slow
def test_examples_of_local_commands_work_when_pasted(tmp_path):
    (tmp_path / "examples").symlink_to(REPO / "examples")
    env = shell_env()
    ran = []
    for command, parser in ALL:
        if command.split()[0] in NEEDS_SERVERS:
            continue
        for line in examples(parser):
            done = pasted(line, command, tmp_path, env)
            assert done.returncode == 0, f"`{line}` (from `infscale {command} --help`) failed:\n{done.stderr}"
            ran.append(line)
    assert len(ran) >= 15
    # What the examples promise to write is there.
    for name in ("result.json", "results.json", "catalog.json", "evals.csv", "report.html"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert list((tmp_path / "plots").glob("*.png"))


@pytest.mark.slow
def test_examples_of_submit_status_wait_cancel_work_against_a_worker(tmp_path):
    """The distributed examples, pasted into a shell whose broker and database are set, with a
    real redis-server and worker. `cancel 1` comes after `wait 1`, so it may find the sweep ended."""
    (tmp_path / "examples").symlink_to(REPO / "examples")
    redis_server = RedisServer(tmp_path / "redis").start()
    database = f"sqlite:///{tmp_path / 'infscale.db'}"
    worker = Worker("examples", redis_server.url, database, tmp_path)
    env = shell_env(INFSCALE_BROKER_URL=redis_server.url, INFSCALE_DATABASE_URL=database)
    try:
        worker.start()
        for command in AGAINST_A_WORKER:
            for line in examples(dict(ALL)[command]):
                done = pasted(line, command, tmp_path, env)
                ended = command == "cancel" and done.returncode == 2 and "has already ended" in done.stderr
                assert done.returncode == 0 or ended, f"`{line}` (from `infscale {command} --help`) failed:\n{done.stderr}"
                if command == "wait":
                    assert "sweep 1 done" in done.stdout and "scenario balanced" in done.stdout, done.stdout
    finally:
        worker.kill()
        redis_server.stop()

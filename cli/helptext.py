"""How `--help` pages are laid out: prose is wrapped, example lines are printed verbatim.

argparse wraps a description or epilog into one paragraph, which collapses the newlines of a
shell example and may break it mid-word. Here a line that starts with two spaces is code and
kept as written, so every `example:` block can be pasted into a shell as it is printed
(tests/test_help_examples.py runs them).
"""

from __future__ import annotations

import argparse
import textwrap

CODE_INDENT = "  "


def example(*commands: str) -> str:
    """An epilog: `example:` followed by shell command lines, each kept verbatim by the formatter.
    Run them in order from the repository's directory."""
    heading = "example:" if len(commands) == 1 else "examples:"
    return "\n".join([heading, *(CODE_INDENT + c for c in commands)])


class HelpFormatter(argparse.HelpFormatter):
    """Wraps prose paragraphs to the terminal width and keeps indented (code) lines verbatim."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        blocks: list[str] = []
        prose: list[str] = []

        def flush() -> None:
            if prose:
                # Never split a --flag-name at its hyphens: it could not be pasted.
                blocks.append(textwrap.fill(" ".join(prose), width, initial_indent=indent, subsequent_indent=indent,
                                            break_on_hyphens=False))
                prose.clear()

        for line in text.splitlines():
            if line.startswith(CODE_INDENT) or not line.strip():
                flush()
                blocks.append(indent + line if line.strip() else "")
            else:
                prose.append(line.strip())
        flush()
        return "\n".join(blocks)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose help uses `HelpFormatter`; subcommand parsers inherit it."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - argparse's own signature
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

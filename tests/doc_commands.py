"""The commands a Markdown page shows, as `tests/test_docs.py` runs them.

A fenced block tagged `bash`, `sh`, `shell` or `console` holds commands, and so does an
untagged block that reads like a terminal (lines starting with `$ `):

* a transcript (`$ ` lines): each `$ ` line is a command, the lines after it its output;
* a script: every line that is not blank or a comment is a command (a trailing `\\`
  continues it on the next line).

A command's trailing comment may state its exit status (`# exits 3`, `# exit code 2`);
otherwise 0 is expected. Other fences (toml, python, sql, …) are not commands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

SHELL_LANGS = {"bash", "sh", "shell", "console", "shell-session"}
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
EXIT = re.compile(r"\bexit(?:s| code| status)?\s+(\d+)\b")
BOX = re.compile(r"[\u2500-\u259f]")  # box drawing and block elements: table borders, progress bars


@dataclass
class Command:
    doc: str
    line: int
    text: str
    """As written (comment included): what the shell runs."""
    output: list[str] = field(default_factory=list)
    """The output the page shows below it (transcripts only)."""

    @property
    def bare(self) -> str:
        """The command without its comment, whitespace collapsed: how the allow-lists name it."""
        return " ".join(strip_comment(self.text).split())

    @property
    def expected_exit(self) -> int:
        comment = self.text[len(strip_comment(self.text)):]
        match = EXIT.search(comment)
        return int(match.group(1)) if match else 0

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {self.bare}"


def strip_comment(text: str) -> str:
    """`text` up to its shell comment (a `#` outside quotes, at the start or after a blank)."""
    quote = ""
    escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\" and quote != "'":
            escaped = True
        elif quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i].rstrip()
    return text.rstrip()


def blocks(text: str) -> list[tuple[int, str, list[str]]]:
    """Every fenced block: (line of its first content line, info string, its lines unindented)."""
    out: list[tuple[int, str, list[str]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, info = len(match.group("indent")), match.group("fence"), match.group("info").strip()
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        out.append((i + 2, info, body))
        i = j + 1
    return out


@dataclass
class FileBlock:
    """A fenced block the page introduces with its file's path (`models/x.sql`:): the reader
    writes it, so the test does, relative to the project of the next command."""

    doc: str
    line: int
    path: str
    content: str


INTRO = re.compile(r"`([\w.-]+(?:/[\w.-]+)+\.\w+)`\s*:\s*$")
"""A paragraph's last line ending with a path in a code span and a colon (a folder in it: not cartflow.toml)."""


def steps(path: Path, name: str) -> list[Command | FileBlock]:
    """The commands and the files of one page, in order."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    found: list[Command | FileBlock] = []
    for first, info, body in blocks(text):
        lang = info.split()[0].lower() if info else ""
        transcript = any(line.startswith("$ ") for line in body)
        if lang in SHELL_LANGS or (lang == "" and transcript):
            found.extend(_transcript(name, first, body) if transcript else _script(name, first, body))
            continue
        before = next((line for line in reversed(lines[:first - 2]) if line.strip()), "")
        intro = INTRO.search(before)
        if intro:
            found.append(FileBlock(name, first, intro.group(1), "\n".join(body) + "\n"))
    return found


def commands(path: Path, name: str) -> list[Command]:
    """The commands of one page, in order."""
    return [step for step in steps(path, name) if isinstance(step, Command)]


def _script(doc: str, first: int, body: list[str]) -> list[Command]:
    out: list[Command] = []
    pending: tuple[int, str] | None = None
    for n, line in enumerate(body, start=first):
        if pending is None and (not line.strip() or line.lstrip().startswith("#")):
            continue
        start, text = pending if pending else (n, "")
        text += line.strip() if pending else line.rstrip()
        if strip_comment(text).endswith("\\"):
            pending = (start, strip_comment(text)[:-1].rstrip() + " ")
            continue
        pending = None
        out.append(Command(doc, start, text))
    return out


def _transcript(doc: str, first: int, body: list[str]) -> list[Command]:
    out: list[Command] = []
    continuing = False
    for n, line in enumerate(body, start=first):
        if line.startswith("$ "):
            out.append(Command(doc, n, line[2:].rstrip()))
        elif continuing and out:
            out[-1].text = strip_comment(out[-1].text)[:-1].rstrip() + " " + line.strip()
        elif out:
            out[-1].output.append(line)
        continuing = bool(out) and strip_comment(out[-1].text).endswith("\\") and not out[-1].output
    return out


def flat(text: str) -> str:
    """Text as words: table borders and bars removed, whitespace (line ends too) collapsed."""
    return " ".join(BOX.sub(" ", text).split())


WILDCARD = re.compile(r"(?<![\w])…")
"""An ellipsis the page writes for a varying part (`in …s`, `host=…/pgdata`), not a cut cell (`duplicate_…`)."""


def key_lines(output: list[str]) -> list[str]:
    """The lines of shown output any run must print.

    A line with a wildcard `…` is checked with its other parts in order, digits included:
    the page marked what varies. Otherwise only lines without a digit are checked: numbers,
    ids, timings and dates differ from run to run and from the page's session; titles,
    column headers, status words and messages do not. A bare `…` line is an elision.
    """
    keys = []
    for line in output:
        words = flat(line)
        if words and words not in ("…", "...") and (WILDCARD.search(words) or not re.search(r"\d", words)):
            keys.append(words)
    return keys


def shows(output: str, key: str) -> bool:
    """Whether `output` (any text) shows the key line (`key_lines`), borders and spacing aside."""
    pattern = ".*?".join(re.escape(part.strip()) for part in WILDCARD.split(key))
    return re.search(pattern, flat(output)) is not None

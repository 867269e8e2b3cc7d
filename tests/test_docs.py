"""Docs, comments and docstrings stay inside the repository: a reader of this checkout can follow
every reference. No paths out of it, no numbered issues or invariants whose text lives
elsewhere (state the rule itself), and every relative Markdown link resolves to a file here.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEXT_SUFFIXES = {".md", ".py", ".toml", ".yaml", ".yml", ".sh", ".ini", ".mako", ".cfg", ".txt"}
TEXT_NAMES = {"Makefile", "Dockerfile", "run"}

OUTSIDE = {
    r"\.\./shared\b": "a path outside the repository",
    r"\bissues?\s*#?\d+": "a numbered issue: say what it asked for",
    r"\binvariants?\s*#?\d+": "a numbered invariant: state the rule itself",
    r"\broadmap\b": "a document outside the repository: say what it says",
}
OUTSIDE_RE = re.compile("|".join(f"(?P<p{i}>{p})" for i, p in enumerate(OUTSIDE)), re.IGNORECASE)
LINK_RE = re.compile(r"\]\(([^)\s]+)\)")


def _files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    this = Path(__file__).resolve()
    return [
        ROOT / name
        for name in listed
        if (Path(name).suffix in TEXT_SUFFIXES or Path(name).name in TEXT_NAMES)
        and (ROOT / name).is_file()
        and (ROOT / name).resolve() != this
    ]


def outside_references(path: Path, root: Path = ROOT) -> list[str]:
    found = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        for match in OUTSIDE_RE.finditer(line):
            reason = list(OUTSIDE.values())[int(match.lastgroup[1:])]
            found.append(f"{path.relative_to(root)}:{number}: {match.group(0)!r} is {reason}")
    return found


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    found = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        for target in LINK_RE.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("#"):
                continue  # a URL or an anchor on the same page
            resolved = (path.parent / target.split("#", 1)[0]).resolve()
            if not resolved.is_relative_to(root):
                found.append(f"{path.relative_to(root)}:{number}: link {target!r} leaves the repository")
            elif not resolved.exists():
                found.append(f"{path.relative_to(root)}:{number}: link {target!r} points at nothing")
    return found


def test_nothing_points_outside_the_repository() -> None:
    found = [problem for path in _files() for problem in outside_references(path)]
    assert not found, "\n".join(found)


def test_markdown_links_resolve_inside_the_repository() -> None:
    found = [problem for path in _files() if path.suffix == ".md" for problem in broken_links(path)]
    assert not found, "\n".join(found)


def test_the_checks_name_file_and_line(tmp_path: Path) -> None:
    page = tmp_path / "docs" / "page.md"
    page.parent.mkdir()
    page.write_text(
        "Fine: see [ADR 2](adr/0002.md) and [the API](https://example.org).\n"
        "The shape is in `../shared/design.md`.\n"
        "Claims follow Invariant 5 (issue 4), as in the Roadmap.\n"
        "Also [the design](../../shared/design.md).\n"
    )
    (tmp_path / "docs" / "adr").mkdir()
    (tmp_path / "docs" / "adr" / "0002.md").write_text("# 2\n")

    outside = outside_references(page, tmp_path)
    assert outside == [
        "docs/page.md:2: '../shared' is a path outside the repository",
        "docs/page.md:3: 'Invariant 5' is a numbered invariant: state the rule itself",
        "docs/page.md:3: 'issue 4' is a numbered issue: say what it asked for",
        "docs/page.md:3: 'Roadmap' is a document outside the repository: say what it says",
        "docs/page.md:4: '../shared' is a path outside the repository",
    ]
    assert broken_links(page, tmp_path) == [
        "docs/page.md:4: link '../../shared/design.md' leaves the repository",
    ]

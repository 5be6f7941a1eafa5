"""Every relative link and #anchor in README.md and docs/*.md leads to a file and heading that exist.

The manual is split over many pages that link to each other's sections; a renamed heading or a
moved page breaks those links silently on GitHub, so they are checked here the way GitHub
resolves them.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

REPO_DIR = Path(__file__).resolve().parents[2]
DOCS_DIR = REPO_DIR / "docs"
CONTENTS = DOCS_DIR / "README.md"
PAGES = [REPO_DIR / "README.md", *sorted(DOCS_DIR.glob("*.md"))]

_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"`+[^`]*`+")
# [text](target) or ![alt](target), with an optional "title"; the text may hold `code`.
_LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks, where Markdown is not rendered."""
    lines, in_fence = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            lines.append((number, line))
    return lines


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: its text (link targets and markup dropped), lower-cased,
    every character that is not a letter, digit, '_', '-' or space dropped, spaces to '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of a page's headings; GitHub suffixes repeats with -1, -2, ..."""
    seen: Counter[str] = Counter()
    found = set()
    for _, line in _prose_lines(page.read_text(encoding="utf-8")):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        anchor = github_anchor(heading.group(1))
        found.add(f"{anchor}-{seen[anchor]}" if seen[anchor] else anchor)
        seen[anchor] += 1
    return found


def links(page: Path) -> list[tuple[int, str]]:
    """(line number, target) of every Markdown link outside code."""
    found = []
    for number, line in _prose_lines(page.read_text(encoding="utf-8")):
        for match in _LINK.finditer(_CODE_SPAN.sub("``", line)):
            found.append((number, match.group(1)))
    return found


def broken_links(page: Path) -> list[str]:
    """'line: target (why)' for each relative link of ``page`` that leads nowhere."""
    broken = []
    for number, target in links(page):
        if _SCHEME.match(target):
            continue  # http(s), mailto: not ours to check offline
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / path_part).resolve() if path_part else page
        if not destination.exists():
            broken.append(f"{number}: {target} (no such file)")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(f"{number}: {target} (no heading #{anchor} in {destination.name})")
    return broken


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Two engines, one definition: Arrow and GX", "two-engines-one-definition-arrow-and-gx"),
        ("Backfills: `ingest backfill`", "backfills-ingest-backfill"),
        ("`_extra`", "_extra"),
        ("Event code (T-code)", "event-code-t-code"),
        ("7. Levers: memory, batching window", "7-levers-memory-batching-window"),
        ("See [the guide](guide.md) first", "see-the-guide-first"),
    ],
)
def test_anchors_follow_githubs_rules(heading: str, anchor: str) -> None:
    assert github_anchor(heading) == anchor


def test_a_repeated_heading_gets_a_numbered_anchor(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Metrics\n\n## Metrics\n\n```\n# not a heading\n```\n", encoding="utf-8")

    assert anchors(page) == {"metrics", "metrics-1"}


def test_a_missing_page_or_heading_is_reported(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## A section: `with code`\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[ok](other.md) [ok](other.md#a-section-with-code) [ok](#page) [web](https://example.com/x#y)\n"
        "[gone](missing.md) [bad anchor](other.md#a-section) [bad here](#nowhere)\n"
        "`[in code](missing.md)`\n\n```\n[in a block](missing.md)\n```\n",
        encoding="utf-8",
    )

    assert broken_links(page) == [
        "4: missing.md (no such file)",
        "4: other.md#a-section (no heading #a-section in other.md)",
        "4: #nowhere (no heading #nowhere in page.md)",
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO_DIR).as_posix())
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(page: Path) -> None:
    assert broken_links(page) == []


def test_every_docs_page_is_in_the_contents() -> None:
    listed = {(CONTENTS.parent / target.partition("#")[0]).resolve() for _, target in links(CONTENTS)}

    unlisted = [p.name for p in PAGES if p.parent == DOCS_DIR and p != CONTENTS and p.resolve() not in listed]

    assert unlisted == [], "add them to docs/README.md's contents"

#!/usr/bin/env python3
"""Every link of the user's manual leads somewhere.

Reads README.md and docs/*.md, and for each Markdown link outside code that
is not a web address, checks that the file or folder it names exists in the
repository and, when it names an anchor (`page.md#heading`, `#heading`), that
the page has a heading whose GitHub anchor is that one. Each docs/ page must
start with its title and then say what it is for. Prints each broken link
with its file and line, and exits 1 when there is one.

    scripts/check-links.py
"""
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def outside_code(text):
    """(line number, line) of every line outside fenced code blocks."""
    fenced = False
    for n, line in enumerate(text.split("\n"), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            yield n, line


def anchor(heading):
    """GitHub's anchor for a heading: lower case, punctuation but hyphens
    dropped, spaces as hyphens."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    found = set()
    seen = {}
    with open(path, encoding="utf-8") as fh:
        for _, line in outside_code(fh.read()):
            m = re.match(r"#{1,6} (.*)", line)
            if not m:
                continue
            a = anchor(m.group(1))
            # A repeated heading gets -1, -2, ... as on GitHub.
            n = seen.get(a, 0)
            seen[a] = n + 1
            found.add(a if n == 0 else f"{a}-{n}")
    return found


def pages():
    yield os.path.join(ROOT, "README.md")
    docs = os.path.join(ROOT, "docs")
    for name in sorted(os.listdir(docs)):
        if name.endswith(".md"):
            yield os.path.join(docs, name)


def main():
    problems = []
    links = 0
    for page in pages():
        rel = os.path.relpath(page, ROOT)
        with open(page, encoding="utf-8") as fh:
            text = fh.read()
        if rel.startswith("docs/"):
            lines = text.split("\n")
            if not (lines[0].startswith("# ") and lines[1] == "" and lines[2].startswith("*")):
                problems.append(f"{rel}:1: a page starts with its title, then a line in italics that says what it is for")
        for n, line in outside_code(text):
            for m in LINK.finditer(line):
                target = m.group(1)
                if re.match(r"[a-z]+:", target):
                    continue
                links += 1
                path, _, name = target.partition("#")
                where = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
                if not where.startswith(ROOT + os.sep) and where != ROOT:
                    problems.append(f"{rel}:{n}: {target} leads out of the repository")
                    continue
                if not os.path.exists(where):
                    problems.append(f"{rel}:{n}: {target}: no {os.path.relpath(where, ROOT)}")
                    continue
                if name:
                    if not where.endswith(".md"):
                        problems.append(f"{rel}:{n}: {target}: an anchor in a file that is not a page")
                    elif name not in anchors(where):
                        problems.append(f"{rel}:{n}: {target}: {os.path.relpath(where, ROOT)} has no heading #{name}")
    for p in problems:
        print(p)
    print(f"check-links: {links} links in {len(list(pages()))} pages, {len(problems)} broken")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

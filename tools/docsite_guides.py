"""Write the guides of docs/*.md as the reStructuredText extra docs of the collection's docsite.

antsibull-docs takes a collection's extra docs from ``docs/docsite/rst/*.rst`` only, listed in
``docs/docsite/extra-docs.yml``; the guides are written, read and linked as Markdown. This
script converts each guide that extra-docs.yml lists (``ref: NAME`` is ``docs/NAME.md``) with
m2r2, so the Markdown stays the one source and the RST pages are generated from it:

- each page gets the label ``ansible_collections.pve.firewall.docsite.NAME`` (dashes of NAME
  as underscores), the prefix antsibull-docs requires of extra docs labels;
- a link to another guide (``gitops.md``, ``lockout-safety.md#layer-3-the-snapshot``) becomes a
  ``:ref:`` to that page, or to a label written before the heading the anchor names; a link
  whose text is the file name shows the title of the page or heading instead;
- a link to docs/README.md, the guides' table of contents, goes to the collection's index;
- a link to any other file of the repository (``../tests/emulator/README.md``) keeps its text
  only: those files are not part of the published collection;
- code blocks without a language are ``text``, not the site's default YAML+Jinja lexer;
- RST written inside the Markdown is not passed through: the guides are plain Markdown.

``python tools/docsite_guides.py``          rewrite docs/docsite/rst/*.rst
``python tools/docsite_guides.py --check``  fail (listing them) when a page is out of date, when a
                                            page has no guide, or when a guide of docs/*.md is
                                            missing from extra-docs.yml

Runs in the docs virtualenv (``make docsite-guides``; requirements/docs.txt pins m2r2).
"""

from __future__ import annotations

import argparse
import posixpath
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml
from m2r2.m2r2 import BaseM2R2
from m2r2.rst.renderer import RestRenderer, escape_role_title, flatten_to_plain_text

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCS = REPO_ROOT / "docs"
DOCSITE = DOCS / "docsite"
EXTRA_DOCS = DOCSITE / "extra-docs.yml"
RST_DIR = DOCSITE / "rst"
LABEL_PREFIX = "ansible_collections.pve.firewall.docsite."
# The collection's index page, written by antsibull-docs
INDEX_LABEL = "plugins_in_pve.firewall"
# docs/*.md that are not pages of their own
NOT_GUIDES = {"README"}
# m2r2's inline rules for RST written inside Markdown
RST_INLINE_RULES = ("rest_role", "rest_link", "rst_footnote_ref")
GUIDE_LINK = re.compile(r"\]\(([\w.-]+)\.md#([\w-]+)\)")


def page_label(name: str) -> str:
    """Return the RST label of the page of guide ``name``."""
    return LABEL_PREFIX + name.replace("-", "_")


def slug(text: str) -> str:
    """Return the anchor a Markdown renderer gives a heading (GitHub's rule)."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def guide_names() -> list[str]:
    """Return the guides that extra-docs.yml lists, in its order."""
    index = yaml.safe_load(EXTRA_DOCS.read_text(encoding="utf-8")) or {}
    names = []
    for section in index.get("sections") or []:
        for entry in section.get("toctree") or []:
            names.append(entry["ref"] if isinstance(entry, dict) else entry)
    return names


def linked_anchors(names: list[str]) -> dict[str, set[str]]:
    """Return, per guide, the heading anchors that links of the guides point at."""
    anchors: dict[str, set[str]] = {name: set() for name in names}
    for name in names:
        for target, anchor in GUIDE_LINK.findall((DOCS / f"{name}.md").read_text(encoding="utf-8")):
            if target in anchors:
                anchors[target].add(anchor)
    return anchors


class GuideRenderer(RestRenderer):
    """m2r2's renderer, with links and headings resolved within the docsite."""

    unlabeled_code_block_start = "\n.. code-block:: text\n\n"

    def __init__(self, name: str, names: list[str], anchors: dict[str, set[str]]) -> None:
        super().__init__()
        self.name = name
        self.names = names
        self.anchors = anchors
        self.missing: list[str] = []

    def heading(self, token: dict[str, Any], state: Any) -> str:
        rendered = str(super().heading(token, state))
        anchor = slug(flatten_to_plain_text(token))
        if token["attrs"]["level"] > 1 and anchor in self.anchors[self.name]:
            return f"\n.. _{page_label(self.name)}.{anchor}:\n{rendered}"
        return rendered

    def render_linked_text(self, token: dict[str, Any], state: Any, emphasis_marker: str) -> str:
        url = token["attrs"]["url"]
        parts = urlparse(url)
        if parts.scheme or parts.netloc:
            return str(super().render_linked_text(token, state, emphasis_marker))
        text = escape_role_title(flatten_to_plain_text(token))
        if text in (parts.path, url, posixpath.basename(parts.path)):
            text = ""  # a link that reads as a file name shows the title of the page or heading instead
        if not parts.path:
            return self.reference(text, self.name, parts.fragment)
        target = posixpath.normpath(posixpath.join("docs", parts.path))
        directory, _sep, filename = target.rpartition("/")
        stem, extension = posixpath.splitext(filename)
        if directory == "docs" and extension == ".md" and stem in self.names:
            return self.reference(text, stem, parts.fragment)
        if directory == "docs" and extension == ".md" and stem in NOT_GUIDES:
            return rf"\ :ref:`{text or 'pve.firewall'} <{INDEX_LABEL}>`\ "
        # A file of the repository that the collection does not publish: its text only
        with_markup = self.render_children(token, state)
        return str(with_markup)

    def reference(self, text: str, name: str, anchor: str) -> str:
        label = page_label(name)
        if anchor:
            if anchor not in self.anchors[name]:
                self.missing.append(f"{name}.md#{anchor}")
            label = f"{label}.{anchor}"
        return rf"\ :ref:`{text} <{label}>`\ " if text else rf"\ :ref:`{label}`\ "

    def finalize_document(self, rendered_body: str, markdown_state: Any) -> str:
        # Substitution definitions go last: before the title they would separate it from the label.
        definitions = markdown_state.env.pop("substitution_definitions", {})
        document = str(super().finalize_document(rendered_body, markdown_state))
        if definitions:
            document = document.rstrip("\n") + "\n\n" + "\n\n".join(definitions.values()) + "\n"
        return document


def render(name: str, names: list[str], anchors: dict[str, set[str]]) -> str:
    """Return the RST page of guide ``name``."""
    renderer = GuideRenderer(name, names, anchors)
    converter = BaseM2R2(renderer=renderer, inline_math=None)
    # The guides are plain Markdown: no RST roles or links inside them to pass through (m2r2
    # would read "`in`: `IN DROP`; `out`:" as a role).
    for rule in RST_INLINE_RULES:
        converter.md.inline.rules.remove(rule)
    body = converter((DOCS / f"{name}.md").read_text(encoding="utf-8"))
    anchor_headings = {slug(line.lstrip("#")) for line in (DOCS / f"{name}.md").read_text(encoding="utf-8").splitlines() if line.startswith("##")}
    unknown = sorted(anchors[name] - anchor_headings)
    if renderer.missing or unknown:
        raise SystemExit(f"docs/{name}.md: links to headings that do not exist: {', '.join(renderer.missing + unknown)}")
    header = (
        "..\n"
        f"  Generated from docs/{name}.md by tools/docsite_guides.py (make docsite-guides):\n"
        "  edit the Markdown guide, then regenerate this page.\n"
        "\n"
        f".. _{page_label(name)}:\n"
    )
    return header + "\n" + body.strip("\n") + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a page is out of date instead of writing it")
    args = parser.parse_args(argv)
    names = guide_names()
    problems = [f"docs/{name}.md does not exist (docs/docsite/extra-docs.yml lists {name})" for name in names if not (DOCS / f"{name}.md").is_file()]
    problems += [
        f"docs/{path.name} is not in docs/docsite/extra-docs.yml"
        for path in sorted(DOCS.glob("*.md"))
        if path.stem not in names and path.stem not in NOT_GUIDES
    ]
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    anchors = linked_anchors(names)
    pages = {RST_DIR / f"{name}.rst": render(name, names, anchors) for name in names}
    stray = sorted(set(RST_DIR.glob("*.rst")) - set(pages))
    stale = [path for path, text in pages.items() if not path.is_file() or path.read_text(encoding="utf-8") != text]
    if args.check:
        problems = [f"{path.relative_to(REPO_ROOT)} is out of date" for path in stale]
        problems += [f"{path.relative_to(REPO_ROOT)} is no guide of docs/docsite/extra-docs.yml" for path in stray]
        if problems:
            print("\n".join(problems) + "\nrun `make docsite-guides`", file=sys.stderr)
            return 1
        print(f"docsite guides: {len(pages)} pages up to date with docs/*.md")
        return 0
    RST_DIR.mkdir(parents=True, exist_ok=True)
    for path in stray:
        path.unlink()
        print(f"removed {path.relative_to(REPO_ROOT)}")
    for path in stale:
        path.write_text(pages[path], encoding="utf-8")
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Build the collection's docsite (``make docs``): the plugin, role and guide pages as HTML.

``python tools/docs_site.py SOURCE OUTPUT``

1. ``antsibull-docs sphinx-init`` writes a fresh Sphinx project for pve.firewall into SOURCE
   (the collection index at the top: ``--squash-hierarchy``), the same as its build.sh runs;
2. ``antsibull-docs collection`` writes the RST of every module, filter and role, and the
   collection index with the extra docs of docs/docsite (extra-docs.yml, links.yml, rst/);
3. ``sphinx-build`` writes the HTML into OUTPUT.

Every Sphinx warning fails the build, save those that only need the network: Sphinx fetches
the inventories of the Python, Jinja and Ansible docs (intersphinx) from their sites, and
without them a reference into those docs (such as ``common_return_values`` on every module
page) stays unresolved. Such warnings are listed as ignored; a label of this collection
(``ansible_collections.pve.firewall.*``) that does not resolve always fails.

galaxy.yml's repository is a stand-in under the reserved ``.invalid`` domain until the
collection has a public repository; the "Repository (Sources)" link that antsibull-docs makes
of it is left out of the pages (with a NOTE), so the site links nowhere that does not exist.

Runs in the docs virtualenv (requirements/docs.txt), whose bin directory holds antsibull-docs,
sphinx-build and ansible-doc; the collection is found through ANSIBLE_COLLECTIONS_PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

COLLECTION = "pve.firewall"
OWN_LABELS = ("ansible_collections.pve.firewall", "plugins_in_pve.firewall")
INVENTORY_FAILED = "failed to reach any of the inventories"
UNDEFINED_LABEL = re.compile(r"WARNING: undefined label: '([^']+)'")
WARNING_START = re.compile(r"^(\S.*: )?(WARNING|ERROR|CRITICAL): ")
# An entry of an ``ansible-links`` directive whose URL is on the reserved .invalid domain
STAND_IN_LINK = re.compile(r'^  - title: "[^"\n]*"\n    url: "https?://[^/"\n]*\.invalid[/"][^\n]*\n    external: true\n', re.MULTILINE)

# Appended to the conf.py that sphinx-init writes
CONF_EXTRA = """
# --- pve.firewall (tools/docs_site.py) ---
html_title = 'pve.firewall'
# The HTML keeps no copy of the RST sources and the build no timestamp.
html_copy_source = False
html_last_updated_fmt = None
"""


def run(command: list[str], cwd: Path, environment: dict[str, str]) -> None:
    print("+ " + " ".join(command), flush=True)
    subprocess.run(command, cwd=cwd, env=environment, check=True)


def warnings_of(log: str) -> list[str]:
    """Split Sphinx's warning file into warnings (each with its continuation lines)."""
    warnings: list[str] = []
    for line in log.splitlines():
        if WARNING_START.match(line) or not warnings:
            warnings.append(line)
        else:
            warnings[-1] += "\n" + line
    return [warning for warning in warnings if warning.strip()]


def needs_network(warning: str, inventory_failed: bool) -> bool:
    """Return whether ``warning`` comes only from intersphinx inventories that could not be fetched."""
    if INVENTORY_FAILED in warning:
        return True
    match = UNDEFINED_LABEL.search(warning)
    return bool(match and inventory_failed and not match.group(1).startswith(OWN_LABELS))


def drop_stand_in_links(rst: Path) -> int:
    """Remove the links to stand-in URLs from the pages in ``rst``; return how many."""
    dropped = 0
    for page in rst.rglob("*.rst"):
        text = page.read_text(encoding="utf-8")
        kept, count = STAND_IN_LINK.subn("", text)
        if count:
            page.write_text(kept, encoding="utf-8")
            dropped += count
    return dropped


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    source, output = (Path(arg).resolve() for arg in argv)
    bin_dir = Path(sys.executable).parent  # the docs virtualenv's bin, not the base interpreter's
    environment = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    for path in (source, output):
        shutil.rmtree(path, ignore_errors=True)
    source.mkdir(parents=True, mode=0o755)
    source.chmod(0o755)  # antsibull-docs refuses a directory that others may write to
    run(
        [
            str(bin_dir / "antsibull-docs"),
            "sphinx-init",
            "--use-current",
            "--squash-hierarchy",
            "--fail-on-error",
            "--dest-dir",
            str(source),
            "--project",
            COLLECTION,
            "--copyright",
            "pve.firewall maintainers",
            "--title",
            "pve.firewall",
            "--html-short-title",
            "pve.firewall",
            COLLECTION,
        ],
        source,
        environment,
    )
    with (source / "conf.py").open("a", encoding="utf-8") as conf:
        conf.write(CONF_EXTRA)
    rst = source / "rst"
    rst.chmod(0o755)
    run(
        [
            str(bin_dir / "antsibull-docs"),
            "--config-file",
            "antsibull-docs.cfg",
            "collection",
            "--use-current",
            "--squash-hierarchy",
            "--fail-on-error",
            "--cleanup",
            "everything",
            "--dest-dir",
            str(rst),
            COLLECTION,
        ],
        source,
        environment,
    )
    dropped = drop_stand_in_links(rst)
    if dropped:
        print(f"docs: NOTE {dropped} link(s) to galaxy.yml's stand-in repository URL (.invalid) left out")
    warnings_file = source / "sphinx-warnings.log"
    command = [str(bin_dir / "sphinx-build"), "-b", "html", "-c", str(source), "-d", str(source / "doctrees")]
    command += ["--keep-going", "-q", "-w", str(warnings_file), str(rst), str(output)]
    print("+ " + " ".join(command), flush=True)
    # Warnings go to the file and are reported below; anything else on stderr only when it fails
    build = subprocess.run(command, cwd=source, env=environment, check=False, stderr=subprocess.PIPE, text=True)
    code = build.returncode
    if code != 0:
        print(build.stderr, file=sys.stderr)
    warnings = warnings_of(warnings_file.read_text(encoding="utf-8") if warnings_file.exists() else "")
    inventory_failed = any(INVENTORY_FAILED in warning for warning in warnings)
    ignored = [warning for warning in warnings if needs_network(warning, inventory_failed)]
    failures = [warning for warning in warnings if not needs_network(warning, inventory_failed)]
    if ignored:
        print(f"docs: {len(ignored)} warning(s) ignored, they need the network (intersphinx inventories):")
        for warning in ignored:
            print("  " + warning.splitlines()[0])
    if failures:
        print(f"docs: {len(failures)} warning(s):")
        print("\n".join(failures))
    if code != 0 or failures:
        print(f"docs: FAILED (sphinx-build exit code {code}, {len(failures)} warning(s))")
        return 1
    print(f"docs: {output / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

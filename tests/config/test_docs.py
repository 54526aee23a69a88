"""The documentation holds together: the site builds without a warning, every Markdown link in
the repository lands on a file (and heading) inside it, and the locks pin what the requirement
files ask for."""

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markdown.extensions.toc import slugify
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}

FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
AUTOLINK = re.compile(r"<((?:https?|ftp)://[^>\s]+)>")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
EXPLICIT_ANCHOR = re.compile(r"\{[^}]*#([\w-]+)[^}]*\}")


def markdown_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return sorted(ROOT / name for name in listed if (ROOT / name).is_file())


def prose(text: str) -> str:
    """The text without code: a link inside an example is not a link. Lines keep their numbers."""
    blank = lambda match: re.sub(r"[^\n]", " ", match.group(0))  # noqa: E731
    return INLINE_CODE.sub(blank, FENCE.sub(blank, text))


def anchors(path: Path) -> set[str]:
    text = path.read_text()
    if path.name == "benchmarks.md":  # the page includes bench/README.md (pymdownx.snippets)
        text += (ROOT / "bench" / "README.md").read_text()
    text = FENCE.sub("", text)
    found = set(EXPLICIT_ANCHOR.findall(text))
    for heading in HEADING.findall(text):
        found.add(slugify(EXPLICIT_ANCHOR.sub("", heading).replace("`", ""), "-"))
    return found


def link_problems(path: Path) -> list[str]:
    text = prose(path.read_text())
    targets = [(m.start(1), m.group(1)) for pattern in (LINK, AUTOLINK, REFERENCE) for m in pattern.finditer(text)]
    problems = []
    for offset, target in sorted(targets):
        where = f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, offset) + 1}: {target}"
        url = urlsplit(target)
        if url.scheme or target.startswith("//"):
            if url.scheme in ("http", "https", "ws", "wss") and url.hostname in LOOPBACK_HOSTS:
                continue  # the hub or the simulator on this machine
            problems.append(f"{where}: links outside the repository")
            continue
        file = (path.parent / unquote(url.path)).resolve() if url.path else path
        if not file.is_relative_to(ROOT):
            problems.append(f"{where}: leaves the repository")
        elif not file.exists():
            problems.append(f"{where}: no such file")
        elif url.fragment and file.suffix == ".md" and url.fragment not in anchors(file):
            problems.append(f"{where}: no heading #{url.fragment} in {file.relative_to(ROOT)}")
    return problems


def test_markdown_links_stay_in_the_repository_and_land():
    problems = [problem for path in markdown_files() for problem in link_problems(path)]
    assert not problems, "\n".join(problems)


def test_markdown_names_nothing_outside_the_repository():
    forbidden = re.compile(r"\.\./shared/|DESIGN\.md")
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in markdown_files()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if forbidden.search(line)
    ]
    assert not hits, "\n".join(hits)


def test_the_link_check_finds_a_broken_link(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "a.md").write_text("# A\n\n## Here\n")
    page = tmp_path / "b.md"
    page.write_text(
        "See [a](a.md#here), [b](a.md#gone), [c](missing.md), [d](../outside.md),\n"
        "[e](https://example.com/) and <http://127.0.0.1:8000/admin/>; `[f](in-code.md)`.\n"
    )
    assert link_problems(page) == [
        "b.md:1: a.md#gone: no heading #gone in a.md",
        "b.md:1: missing.md: no such file",
        "b.md:1: ../outside.md: leaves the repository",
        "b.md:2: https://example.com/: links outside the repository",
    ]


def test_the_site_builds_strictly(tmp_path):
    """`make docs` in a temporary directory: a broken link, a missing anchor or a page left out
    of the navigation is a warning, and --strict makes any warning fail the build."""
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "NO_MKDOCS_2_WARNING": "1"},
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    assert (tmp_path / "site" / "index.html").exists()


def locked_versions(lock: Path) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9._-]+)==([^\s;]+)", lock.read_text(), re.M)
    return {Requirement(name).name.lower().replace("_", "-"): version for name, version in pins}


def requirements(path: Path) -> list[Requirement]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


@pytest.mark.parametrize(
    ("requirement_file", "lock_file"),
    [("requirements.txt", "requirements.lock"), ("requirements-dev.txt", "requirements-dev.lock")],
)
def test_the_lock_pins_every_requirement(requirement_file, lock_file):
    pinned = locked_versions(ROOT / lock_file)
    stale = []
    for requirement in requirements(ROOT / requirement_file):
        version = pinned.get(requirement.name.lower().replace("_", "-"))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            stale.append(str(requirement))
    assert not stale, f"{lock_file} does not pin {', '.join(stale)}: run `make lock`"

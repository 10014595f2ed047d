"""Every pointer into docs/card-facts.md names a section that exists.

Code, spec files and tests cite card facts as `docs/card-facts.md#section` (more sections
of the same page follow as `, #other`); the page's own links are `(#section)`.  A renamed
heading would leave those pointers dangling without this test.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FACTS = ROOT / "docs" / "card-facts.md"
# one citation: the page, its first section, then ", #more" sections of the same page
CITATION = re.compile(r"docs/card-facts\.md((?:#[\w-]+)(?:,\s*#[\w-]+)*)")
INTERNAL_LINK = re.compile(r"\]\(#([\w-]+)\)")
STALE = ("ssc-card.md", "pboc.md")  # the notes the page replaced, not in this repository


def slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces
    to hyphens (letters and digits of any script kept)."""
    kept = "".join(
        c for c in heading.strip().lower() if c in " -_" or unicodedata.category(c)[0] in "LN"
    )
    return kept.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """The anchors of a page's headings (outside code blocks), duplicates numbered."""
    seen: dict[str, int] = {}
    result: set[str] = set()
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        match = None if in_code else re.match(r"#{1,6} (.+)", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            result.add(base if count == 0 else f"{base}-{count}")
    return result


SOURCE_DIRS = ("sscard", "apdu_specs", "tests", "bench", "examples", "docs", "contrib", ".ci")
SUFFIXES = {".py", ".toml", ".md", ".txt", ".ini", ".cfg", ".service", ".sh", ".html"}


def tracked_text_files() -> list[Path]:
    """The project's own text files (no virtual environments, caches or build output)."""
    files = [path for path in ROOT.iterdir() if path.is_file() and path.suffix in SUFFIXES]
    for top in SOURCE_DIRS:
        files += [
            path
            for path in (ROOT / top).rglob("*")
            if path.is_file()
            and path.suffix in SUFFIXES
            and "__pycache__" not in path.parts
            and not any(part.endswith(".egg-info") for part in path.parts)
        ]
    return files


def cited_sections() -> dict[str, list[str]]:
    """section → the files citing it."""
    cited: dict[str, list[str]] = {}
    for path in tracked_text_files():
        if path.name == Path(__file__).name:  # its docstring shows the form
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in CITATION.finditer(text):
            for section in re.findall(r"#([\w-]+)", match.group(1)):
                cited.setdefault(section, []).append(str(path.relative_to(ROOT)))
    return cited


def test_slug_follows_github():
    assert slug("T=0 transport") == "t0-transport"
    assert slug("PSE and PPSE") == "pse-and-ppse"
    assert slug("iReadCardBas") == "ireadcardbas"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n") == {"a", "a-1"}


def test_every_cited_section_exists():
    known = anchors(FACTS.read_text(encoding="utf-8"))
    cited = cited_sections()
    assert len(cited) >= 20  # the citations are found at all
    missing = {section: files for section, files in cited.items() if section not in known}
    assert not missing, f"sections cited but not in docs/card-facts.md: {missing}"


def test_internal_links_of_the_page_resolve():
    text = FACTS.read_text(encoding="utf-8")
    links = set(INTERNAL_LINK.findall(text))
    assert links, "the page links its own sections"
    assert links <= anchors(text), sorted(links - anchors(text))


@pytest.mark.parametrize("stale", STALE)
def test_no_citation_of_notes_outside_the_repository(stale):
    citing = [
        str(path.relative_to(ROOT))
        for path in tracked_text_files()
        if path.name != Path(__file__).name
        and stale in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert not citing, f"{stale} is not in this repository; cite docs/card-facts.md: {citing}"


PATH_IN_DOCS = re.compile(
    r"`((?:sscard|apdu_specs|tests|bench|docs|examples|contrib|\.ci)/[^`\s]*)`"
)


def test_paths_named_in_the_docs_exist():
    """A file or folder the documentation names in backticks is in the tree (globs match)."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    pages += [page for page in (ROOT / "ARCHITECTURE.md", ROOT / "CHANGELOG.md") if page.exists()]
    named = 0
    missing = []
    for page in pages:
        for name in PATH_IN_DOCS.findall(page.read_text(encoding="utf-8")):
            path = name.split("#")[0]
            if "<" in path:  # a pattern such as sscard/cli/<name>_cmd.py
                continue
            named += 1
            if not (any(ROOT.glob(path)) if "*" in path else (ROOT / path).exists()):
                missing.append(f"{page.name}: {name}")
    assert named >= 10  # the pattern finds the paths at all
    assert not missing, missing


def test_the_readme_layout_names_every_part():
    """README's Layout lists every folder and module of sscard/, every top-level folder and
    page of the repository, and names nothing that is not there."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Layout") :]
    block = section[section.index("```text") : section.index("```", section.index("```text") + 7)]
    parts = {
        f"sscard/{path.name}/" if path.is_dir() else f"sscard/{path.name}"
        for path in (ROOT / "sscard").iterdir()
        if not path.name.startswith((".", "_")) or path.name == "__init__.py"
    } - {"sscard/py.typed", "sscard/apdu_specs"}
    tops = {
        f"{path.name}/" if path.is_dir() else path.name
        for path in ROOT.iterdir()
        if path.name in SOURCE_DIRS or path.name in ("ARCHITECTURE.md", "CHANGELOG.md")
    }
    missing = sorted(name for name in parts | tops if name not in block)
    assert not missing, f"README's Layout does not name {missing}"
    named = re.findall(r"(?m)^((?:sscard/|[a-z.]+/|[A-Z]+\.md)[\w./-]*)", block)
    assert len(named) > 20
    absent = [name for name in named if not (ROOT / name).exists()]
    assert not absent, f"README's Layout names what is not in the tree: {absent}"


PATH_IN_CODE = re.compile(r"(?<![\w/.])((?:sscard|apdu_specs)/[\w/]+\.(?:py|toml))\b")


def test_paths_named_in_the_code_and_the_spec_exist():
    """A module or spec file a comment or docstring names by path is in the tree (a move
    leaves no pointer behind)."""
    sources = [
        *sorted((ROOT / "sscard").rglob("*.py")),
        *sorted((ROOT / "apdu_specs").glob("*.toml")),
    ]
    named = 0
    missing = []
    for source in sources:
        for name in PATH_IN_CODE.findall(source.read_text(encoding="utf-8")):
            named += 1
            if not (ROOT / name).exists():
                missing.append(f"{source.relative_to(ROOT)}: {name}")
    assert named >= 5  # the pattern finds the paths at all
    assert not missing, missing

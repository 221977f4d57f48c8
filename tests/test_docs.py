"""The manual stays true: docs/'s example output is the tool's, and nothing in it dangles.

The console blocks of README.md and every page under docs/ (docs/incoming/ and docs/zh/
included) are rerun in-process by scripts/sync_docs.py; `mkdocs build --strict` in .ci/run
checks the rest of the site (links, anchors, the API reference), and these tests check what
can be checked without the docs toolchain installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
from typer.main import get_command

import convcli
from convcli.cli import app

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
MKDOCS = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")


def load_sync() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sync_docs", ROOT / "scripts/sync_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SYNC = load_sync()
PAGES = sorted(DOCS.rglob("*.md"))
# Pages of the site: docs/incoming/ waits to be folded in and is not built.
SITE_PAGES = [page for page in PAGES if "incoming" not in page.relative_to(DOCS).parts]


def name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def command_names() -> list[str]:
    group = get_command(app)
    return sorted(group.commands)  # type: ignore[attr-defined]


BLOCKS = [
    pytest.param(command, shown, id=f"{name(page)}: {command[:60]}")
    for page in PAGES
    for command, shown in SYNC.BLOCK.findall(text(page))
]


@pytest.mark.parametrize(("command", "shown"), BLOCKS)
def test_every_docs_block_is_what_the_tool_prints(command: str, shown: str) -> None:
    assert SYNC.command_output(command) == shown, (
        f"stale block `{command}`: run python scripts/sync_docs.py"
    )


def test_the_docs_have_console_blocks_in_english_and_chinese() -> None:
    commands = [block.values[0] for block in BLOCKS]
    assert len(commands) >= 60
    zh = [c for page in PAGES if "zh" in page.parts for c, _ in SYNC.BLOCK.findall(text(page))]
    assert len(zh) >= 5 and all("--lang zh" in c for c in zh)


def test_a_block_that_writes_writes_into_a_temporary_folder() -> None:
    before = sorted(p.name for p in ROOT.iterdir())
    output = SYNC.command_output("convcli demo --write lesson")
    from convcli.tensorio.samples import sample_names

    assert output == f"convcli: wrote {len(sample_names())} sample files to lesson\n"
    assert sorted(p.name for p in ROOT.iterdir()) == before  # nothing written in the checkout


def test_a_pipe_keeps_the_first_or_last_lines() -> None:
    whole = SYNC.command_output("convcli shapes").splitlines()
    assert SYNC.command_output("convcli shapes | head -n 3").splitlines() == whole[:3]
    assert SYNC.command_output("convcli shapes | tail -n 4").splitlines() == whole[-4:]
    with pytest.raises(ValueError, match="head -n N"):
        SYNC.command_output("convcli shapes | grep m_h")


def test_sync_check_names_a_stale_page(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```console\n$ convcli shapes --json\n{}\n```\n", encoding="utf-8")
    assert SYNC.main(["--check", str(page)]) == 1
    assert SYNC.main([str(page)]) == 0  # rewrites it
    assert SYNC.main(["--check", str(page)]) == 0
    assert '"output_shape": [3, 2, 2]' in text(page)


@pytest.mark.parametrize("command", command_names())
def test_every_command_has_a_docs_page(command: str) -> None:
    page = DOCS / "commands" / f"{command}.md"
    assert page.is_file(), f"convcli {command} has no docs/commands/{command}.md"
    assert re.search(rf"\bconvcli {re.escape(command)}(?![\w-])", text(page))


# The page paths the nav lists (`- Title: path.md` lines of mkdocs.yml).
NAV = re.findall(r"^\s*- [^\n]*?:\s*([\w./-]+\.md)\s*$", MKDOCS.split("\nnav:", 1)[1], re.M)


@pytest.mark.parametrize("page", SITE_PAGES, ids=name)
def test_every_page_is_in_the_nav(page: Path) -> None:
    path = page.relative_to(DOCS).as_posix()
    assert path in NAV, f"add `- Title: {path}` to nav: in mkdocs.yml"


def test_the_nav_lists_only_pages_that_exist() -> None:
    assert len(NAV) == len(set(NAV))
    for path in NAV:
        assert (DOCS / path).is_file(), path


def test_the_site_builds_offline_and_leaves_incoming_out() -> None:
    assert re.search(r"^\s*font: false$", MKDOCS, re.M)  # no web fonts
    assert "analytics" not in MKDOCS
    assert re.search(r"^exclude_docs: \|\n\s+incoming/$", MKDOCS, re.M)
    assert "docstring_style: numpy" in MKDOCS


def test_ci_builds_the_site_strictly_outside_the_checkout() -> None:
    ci = (ROOT / ".ci/run").read_text(encoding="utf-8")
    assert "pip install --quiet -e '.[docs]'" in ci
    build = re.search(r"^[\w= ]*mkdocs build --strict (.*)$", ci, re.M)
    assert build is not None and '-d "$work/site"' in build.group(1)
    assert ci.index("mkdocs build") < ci.index("readme_tests\n")


LINK = re.compile(r"\]\(([^)\s]+)\)")


def prose(page: Path) -> str:
    """``page`` without its code: fenced blocks and inline code spans."""
    return re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", text(page), flags=re.S))


def links(page: Path) -> list[str]:
    """Relative links of ``page``'s prose, without their anchors."""
    found = [link.split("#")[0] for link in LINK.findall(prose(page))]
    return [link for link in found if link and not re.match(r"[a-z]+:", link)]


def test_the_readme_is_an_entrance() -> None:
    readme = text(README)
    assert len(readme.splitlines()) <= 250
    for word in ("font subset", "randomly-seed", "GFLOP/s"):  # the manual's details stay there
        assert word not in readme
    assert len(re.findall(r"\(docs/[\w/.-]+\.md", readme)) >= 20


def test_the_readmes_links_point_at_existing_files() -> None:
    found = links(README)
    assert found
    for link in found:
        assert (ROOT / link).is_file(), f"README links to {link}, which does not exist"


# docs/incoming/'s links are written for the place a page will have: checked once it has it.
@pytest.mark.parametrize("page", SITE_PAGES, ids=name)
def test_the_links_of_a_page_point_at_existing_files(page: Path) -> None:
    for link in links(page):
        target = (page.parent / link).resolve()
        assert target.is_file(), f"{name(page)} links to {link}, which does not exist"
        assert DOCS in target.parents, f"{name(page)} links out of docs/: {link}"


def test_the_api_page_documents_every_public_name() -> None:
    api = text(DOCS / "api.md")
    for public in convcli.__all__:
        if public == "__version__":
            continue
        module = convcli._MODULE_OF[public]
        assert f"::: {module}.{public}\n" in api, f"docs/api.md lacks ::: {module}.{public}"


def documents() -> list[Path]:
    return [README, *SITE_PAGES]


def resolves(dotted: str) -> bool:
    """Whether ``convcli.a.b.c`` names a module or an attribute of one."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(value, attribute):
                return False
            value = getattr(value, attribute)
        return True
    return False


PYTHON_NAMES = sorted(
    {
        (name(page), dotted)
        for page in documents()
        for dotted in re.findall(r"`(convcli(?:\.[A-Za-z_]\w*)+)", text(page))
    }
)


@pytest.mark.parametrize(("page", "dotted"), PYTHON_NAMES)
def test_every_python_name_in_the_docs_exists(page: str, dotted: str) -> None:
    assert resolves(dotted), f"{page} names {dotted}, which does not exist"


# Layers the architecture reserves before they exist (optional in pyproject's layers contract).
RESERVED = {"convcli/i18n/"}

# `convcli/ops/` in full, or `ops/budget.py` and `cli/_app.py: guard()` inside the package.
PACKAGE_PATHS = sorted(
    {
        path if path.startswith("convcli/") else f"convcli/{path}"
        for page in documents()
        for path in re.findall(
            r"`((?:convcli/|(?:cli|render|draw|tensorio|ops|shapes)/)[\w/.]*)", text(page)
        )
    }
    - RESERVED
)


@pytest.mark.parametrize("path", PACKAGE_PATHS)
def test_every_package_path_in_the_docs_exists(path: str) -> None:
    assert (ROOT / path).exists(), f"the docs name {path}, which does not exist"


def test_every_figure_of_a_page_is_made_by_make_figures() -> None:
    spec = importlib.util.spec_from_file_location("make_figures", ROOT / "scripts/make_figures.py")
    assert spec is not None and spec.loader is not None
    figures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(figures)
    for page in documents():
        for picture in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", prose(page)):
            made = (page.parent / picture).resolve().relative_to(ROOT).as_posix()
            assert made in figures.FIGURES, f"{name(page)} shows {picture}: not in make_figures"

"""Every template escapes what it shows. Text that anyone may write (an AED's address, an SOS
address, a village's name) reaches pages inside HTML and inside embedded JSON; one `|safe` on
such a value, or JSON dumped into a page with `json.dumps(...)|safe`, lets that text close the
tag and add markup (the CSP stops scripts, not a `<meta http-equiv=refresh>`). These tests read
every template and every module, so that a new page cannot bring the hole back unnoticed."""

from __future__ import annotations

import json
import re

import pytest
from jinja2 import Environment, nodes

from gongchuang.app import create_app
from gongchuang.core.web import PACKAGE_DIR, templates

# Values a template may show unescaped, and why each is safe. Key: (template, expression).
SAFE_ALLOWED = {
    ("volunteer/_qr.html", "qr"): "SVG built by core.pdf.qr_svg: only numbers, no input text",
    ("volunteer/card.html", "qr"): "SVG built by core.pdf.qr_svg: only numbers, no input text",
    ("training/result.html", "share_qr"): "SVG built by core.pdf.qr_svg: numbers only",
}

# The one way to put data in a page: a JSON block whose whole content is `{{ value|tojson }}`.
# Jinja's tojson writes <, >, & and ' as \u003c... so that no value can close the tag, and
# JSON.parse(block.textContent) reads them back unchanged.
JSON_BLOCK = re.compile(
    r"<script\b[^>]*\btype=[\"']application/json[\"'][^>]*>(?P<body>.*?)</script>",
    re.DOTALL | re.IGNORECASE,
)
TOJSON_ONLY = re.compile(r"\{\{-?\s*[A-Za-z_][\w.]*\s*\|\s*tojson\s*-?\}\}")
TOJSON_USE = re.compile(r"\|\s*tojson\b")

PAYLOAD = '</script><meta http-equiv="refresh" content="0;url=about:blank"><h1 id="injected">X</h1>'


@pytest.fixture(scope="module")
def env() -> Environment:
    create_app(background=False)  # registers every module's template folder
    return templates().env


@pytest.fixture(scope="module")
def sources(env: Environment) -> dict[str, str]:
    assert env.loader is not None
    names = env.list_templates()
    assert len(names) > 50  # every module's templates, not only the shell's
    return {name: env.loader.get_source(env, name)[0] for name in names}


def _expression(node: nodes.Node) -> str:
    """`qr` or `report.chart` for a Name or a Getattr chain; the node's type otherwise."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        return f"{_expression(node.node)}.{node.attr}"
    return type(node).__name__


def test_every_template_folder_is_loaded_and_autoescaped(
    env: Environment, sources: dict[str, str]
) -> None:
    """A folder the loader does not know would escape these checks; a template whose name
    select_autoescape does not cover (.txt, .j2) would be rendered without escaping at all."""
    on_disk = {
        str(path.relative_to(folder))
        for folder in PACKAGE_DIR.rglob("templates")
        if folder.is_dir()
        for path in folder.rglob("*")
        if path.is_file()
    }
    assert on_disk <= set(sources)
    not_escaped = [name for name in sources if not env.autoescape(name)]  # type: ignore[operator]
    assert not not_escaped


def test_no_template_turns_escaping_off_except_for_our_own_svg(
    env: Environment, sources: dict[str, str]
) -> None:
    found: set[tuple[str, str]] = set()
    turned_off: list[str] = []
    for name, source in sources.items():
        tree = env.parse(source, name)
        for node in tree.find_all(nodes.Filter):
            if node.name == "safe":
                found.add((name, _expression(node.node) if node.node else "{% filter safe %}"))
        for modifier in tree.find_all(nodes.EvalContextModifier):
            if any(k.key == "autoescape" for k in modifier.options):
                turned_off.append(name)
    unexplained = found - set(SAFE_ALLOWED)
    assert not unexplained, f"|safe without a reason in SAFE_ALLOWED: {sorted(unexplained)}"
    assert not turned_off, f"{{% autoescape %}} in {turned_off}"
    # An entry whose use is gone must go too, or the list would vouch for a future use.
    assert set(SAFE_ALLOWED) <= found


def test_json_in_pages_is_only_ever_a_tojson_block(sources: dict[str, str]) -> None:
    """`tojson` leaves " as it is: inside a double-quoted attribute it would end the attribute.
    So it appears nowhere but as the whole content of a JSON block."""
    wrong_blocks = []
    stray = []
    for name, source in sources.items():
        blocks = list(JSON_BLOCK.finditer(source))
        for block in blocks:
            if not TOJSON_ONLY.fullmatch(block["body"].strip()):
                wrong_blocks.append(f"{name}: {block['body'].strip()[:80]}")
        inside = [range(b.start("body"), b.end("body")) for b in blocks]
        for use in TOJSON_USE.finditer(source):
            if not any(use.start() in span for span in inside):
                stray.append(name)
    assert not wrong_blocks, wrong_blocks
    assert not stray, f"tojson outside a JSON block: {stray}"


def test_python_code_does_not_mark_strings_safe() -> None:
    """Markup(...) in a route would bypass escaping as surely as |safe in a template."""
    offenders = [
        str(path.relative_to(PACKAGE_DIR))
        for path in PACKAGE_DIR.rglob("*.py")
        if re.search(r"\bMarkup\b|\bmarkupsafe\b", path.read_text(encoding="utf-8"))
    ]
    assert not offenders


def test_a_map_block_keeps_its_text_inside_the_json(env: Environment) -> None:
    """The shared map block with a hostile address: the page keeps one script element and the
    JSON reads back the address as written, keys in the order the page built them (a chart's
    series follow the table beside it), Chinese as it is."""
    map_data = {
        "settings": {"tiles": "", "attribution": "", "crs": "WGS84"},
        "markers": [{"at": [27.7, 111.3], "kind": "aed", "label": "广场" + PAYLOAD + "&amp;'"}],
        "circle": None,
    }
    html = env.get_template("emergency/_map.html").render(map_data=map_data)
    assert html.lower().count("</script") == 1
    assert "<meta" not in html and "<h1" not in html
    block = JSON_BLOCK.search(html)
    assert block is not None
    assert json.loads(block["body"]) == map_data
    assert list(json.loads(block["body"])) == ["settings", "markers", "circle"]
    assert "广场" in block["body"]


POST_FORM = re.compile(
    r"<form\b[^>]*\bmethod=[\"']post[\"'][^>]*>(?P<body>.*?)</form>", re.I | re.S
)


def test_every_form_that_writes_carries_the_csrf_field_from_one_place(
    sources: dict[str, str],
) -> None:
    """A form that posts without the token is refused for everyone; a token written by hand
    can drift from the one the shell checks. Every post form uses `{{ csrf_field() }}`."""
    missing = [
        name
        for name, source in sources.items()
        for form in POST_FORM.finditer(source)
        if "csrf_field()" not in form["body"]
    ]
    by_hand = [
        name
        for name, source in sources.items()
        if name != "_forms.html" and 'name="csrf_token"' in source
    ]
    assert not missing, f"post forms without {{{{ csrf_field() }}}}: {sorted(set(missing))}"
    assert not by_hand, f"CSRF inputs written by hand: {by_hand}"

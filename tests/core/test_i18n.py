from pathlib import Path

from babel.messages.pofile import read_po

from gongchuang.core.i18n import LOCALE_DIR
from tests.conftest import csrf_token

ROOT = Path(__file__).resolve().parents[2]


def _catalog(locale: str):
    with open(LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=locale)


def test_every_message_in_the_code_has_a_chinese_and_an_english_text() -> None:
    with open(LOCALE_DIR / "messages.pot", "rb") as handle:
        template = read_po(handle)
    wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in template if m.id}
    for locale in ("zh_CN", "en"):
        catalog = _catalog(locale)
        done = {
            m.id if isinstance(m.id, str) else m.id[0]
            for m in catalog
            if m.id and (m.string if isinstance(m.string, str) else m.string[0]) and not m.fuzzy
        }
        assert wanted - done == set(), f"{locale} lacks translations"


def test_the_template_is_up_to_date_with_the_code() -> None:
    """New strings in code or templates must be extracted (make extract-messages)."""
    from babel.messages.extract import extract_from_dir

    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT / "src"),
        method_map,
        options_map=options,
        keywords={"_": None, "gettext": None, "ngettext": (1, 2), "N_": None},
    ):
        found.add(message if isinstance(message, str) else message[0])
    with open(LOCALE_DIR / "messages.pot", "rb") as handle:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
    assert found - template == set()


def test_pages_default_to_chinese_and_switch_to_english(client, world) -> None:
    page = client.get("/")
    assert '<html lang="zh-CN"' in page.text and "首页" in page.text
    client.post(
        "/prefs/language",
        data={"locale": "en", "next": "/regions", "csrf_token": csrf_token(client)},
    )
    page = client.get("/")
    assert '<html lang="en"' in page.text and "Home" in page.text and "首页" not in page.text


def test_api_errors_follow_accept_language(client) -> None:
    zh = client.get("/api/v1/regions/999999", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    en = client.get("/api/v1/regions/999999", headers={"Accept-Language": "en-GB"})
    assert zh.json()["detail"] == "没有代码为 999999 的行政区划"
    assert en.json()["detail"] == "No region has the code 999999"
    assert en.headers["content-type"] == "application/problem+json"


def test_large_text_mode_persists(client) -> None:
    client.post("/prefs/large-text", data={"next": "/", "csrf_token": csrf_token(client)})
    assert 'class="large-text"' in client.get("/").text
    assert 'class="large-text"' in client.get("/regions").text
    client.post("/prefs/large-text", data={"next": "/", "csrf_token": csrf_token(client)})
    assert 'class="large-text"' not in client.get("/").text


def test_api_docs_load_without_a_cdn(client) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200 and "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_every_shell_page_has_a_plain_text_title(client, world) -> None:
    import re

    from tests.conftest import login

    login(client, world.admin.phone)
    for path in (
        "/",
        "/regions",
        "/regions/431322",
        "/orgs",
        f"/orgs/{world.village_a.id}",
        "/orgs/new",
        "/me",
        "/notifications",
        "/audit",
        f"/orgs/{world.village_a.id}/webhooks",
    ):
        page = client.get(path)
        assert page.status_code == 200, path
        title = re.search(r"<title>(.*?)</title>", page.text, re.S).group(1).strip()
        assert "<" not in title and title.endswith("· 共创"), (path, title)


def test_chinese_text_addresses_the_reader_one_way_and_never_shows_a_raw_gap() -> None:
    """One form of address (您) throughout; Chinese punctuation between Chinese words."""
    import re

    from babel.messages.pofile import read_po

    from gongchuang.core.i18n import LOCALE_DIR

    with open(LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po", "rb") as po:
        catalogue = read_po(po, locale="zh_CN")
    texts = [m.string for m in catalogue if m.id and isinstance(m.string, str)]
    assert not [t for t in texts if "你" in t]
    han = r"[\u4e00-\u9fff]"
    # (Commas are left out: input formats such as "名称, 纬度, 经度" show the file's own commas.)
    half_width = re.compile(rf"{han}[;:!?]\s*{han}")
    assert not [t for t in texts if half_width.search(t)]
    # Full stops and brackets in Chinese text are full-width; so are commas, except where a
    # text shows a file's own format ("名称, 纬度, 经度", "省份代码,年份,…").
    assert not [t for t in texts if re.search(rf"{han}\.(\s|$)|\([^)]*{han}", t)]
    formats = ("名称, 纬度", "省份代码,")
    assert not [t for t in texts if re.search(rf"{han},", t) and not any(f in t for f in formats)]
    # A name is written against its particle: "王大妈的成绩", "您已加入油茶示范村", never with a
    # gap ("王大妈 的成绩"). Numbers keep their spaces ("得 5 分").
    name = r"%\((?:name|organisation|title|place|region|village|person|venue|item)\)s"
    gap = re.compile(rf"{name} {han}|{han} {name}")
    assert not [t for t in texts if gap.search(t)]

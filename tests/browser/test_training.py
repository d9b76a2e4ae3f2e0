"""Training and quizzes in a real browser: an institution's class from roster to credentials, a
learner's course (offline included) to the certificate, a guest's quiz on a phone, and the
province's dashboard against its three-year plan."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from openpyxl import Workbook, load_workbook
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select

from gongchuang.core import credentials
from gongchuang.core.clock import local_today
from gongchuang.core.db import Database
from gongchuang.core.identity import id_check_digit
from gongchuang.core.models import Organisation, Person
from gongchuang.training.demo_content import EMERGENCY_QUESTIONS
from gongchuang.training.models import Course, Enrolment, LessonProgress
from tests.browser.conftest import check_accessibility, has_no_horizontal_scroll, login

RIGHT_ANSWERS = {
    stem: [options[i] for i in correct] if options else [("正确", "错误")[correct[0]]]
    for _kind, stem, options, correct, *_rest in EMERGENCY_QUESTIONS
}


def resident_id(serial: int) -> str:
    first17 = f"43132219900101{serial:03d}"
    return first17 + id_check_digit(first17)


def roster(rows: list[list[object]]) -> bytes:
    book = Workbook()
    book.active.append(["姓名", "手机号", "身份证号", "职务"])
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def answer_correctly(page: Page) -> None:
    for fieldset in page.locator("fieldset.question").all():
        stem = fieldset.locator("legend").inner_text().split(" ", 1)[1].strip()
        for text in RIGHT_ANSWERS[stem]:
            fieldset.locator("label.choice", has_text=text).first.click()


def test_institution_imports_roster_records_attendance_and_issues_credentials(
    page: Page, live: tuple[str, str]
) -> None:
    login(page, "13800000010")
    page.goto("/training")
    page.locator('a[href^="/training/institutions/"]').first.click()
    today = local_today()
    page.locator("#k-title").fill("应急救护员培训班（测试）")
    page.locator("#k-start").fill(str(today - timedelta(days=2)))
    page.locator("#k-end").fill(str(today))
    page.locator("#k-days").fill("3")
    page.locator("#k-venue").fill("学院培训楼201")
    page.locator("#k-trainer").fill("周医生")
    page.locator("#k-fund").fill("3200")
    page.locator("#k-ck").select_option("first_aid")
    page.locator("#k-ct").fill("红十字救护员证")
    page.locator("#k-cv").fill("730")
    page.get_by_role("button", name=re.compile("开班|Open the class")).click()
    expect(page.locator("h1")).to_have_text("应急救护员培训班（测试）")
    class_url = page.url
    check_accessibility(page)

    # A roster with a bad ID number and a repeated phone: refused whole, every line named.
    bad = roster(
        [
            ["张建国", "13711110001", resident_id(1), "村支书"],
            ["李秀英", "13711110002", "431322199001010019", "村主任"],
            ["王志强", "13711110001", resident_id(3), ""],
        ]
    )
    page.locator("#r-file").set_input_files(
        files=[{"name": "roster.xlsx", "mimeType": "application/octet-stream", "buffer": bad}]
    )
    with page.expect_response(lambda r: r.url.endswith("/roster")) as refused:
        page.locator('form[action$="/roster"] button').click()
    assert refused.value.status == 422
    expect(page.locator("main")).to_contain_text(re.compile("3"))
    page.goto(class_url)
    expect(page.locator("#assessment-form")).to_have_count(0)  # nobody was added

    good = roster(
        [
            ["张建国", "13711110001", resident_id(1), "村支书"],
            ["李秀英", "13711110002", resident_id(2), "村主任"],
            ["王志强", "13711110003", resident_id(3), "合作社理事长"],
        ]
    )
    page.locator("#r-file").set_input_files(
        files=[{"name": "roster.xlsx", "mimeType": "application/octet-stream", "buffer": good}]
    )
    page.locator('form[action$="/roster"] button').click()
    expect(page.locator("#assessment-form tbody tr")).to_have_count(3)
    expect(page.locator("#assessment-form")).to_contain_text("137****0001")
    expect(page.locator("#assessment-form")).not_to_contain_text(resident_id(1))

    # Three days' registers: 王志强 only came on the first day.
    for offset in range(3):
        page.locator("#a-day").fill(str(today - timedelta(days=2 - offset)))
        page.locator("#a-day").locator("xpath=ancestor::form").get_by_role("button").click()
        for name in ("张建国", "李秀英") + (("王志强",) if offset == 0 else ()):
            page.get_by_label(name, exact=True).check()
        page.locator('form[action$="/attendance"] button').click()
        expect(page.locator("#assessment-form")).to_be_visible()
    rows = page.locator("#assessment-form tbody tr")
    expect(rows.filter(has_text="张建国")).to_contain_text("3 / 3")
    expect(rows.filter(has_text="王志强")).to_contain_text("1 / 3")

    for name, score in (("张建国", "92"), ("李秀英", "55"), ("王志强", "88")):
        rows.filter(has_text=name).locator("input").fill(score)
    page.locator("#assessment-form").get_by_role("button").click()
    page.locator('form[action$="/complete"] button').click()
    expect(page.locator('p.ok[role="status"]')).to_be_visible()
    expect(page.locator("#assessment-form tbody tr").filter(has_text="张建国")).to_contain_text(
        re.compile("已发证|Credential issued")
    )
    check_accessibility(page)

    database = Database(live[1])
    try:
        with database.transaction(write=False) as session:
            ids = dict(
                session.execute(
                    select(Person.name, Person.id).where(Person.phone.like("1371111000%"))
                ).all()
            )
            holders = credentials.holders(session, "first_aid", list(ids.values()))
            assert holders == {ids["张建国"]}  # 李秀英 failed the assessment, 王志强 attendance
    finally:
        database.dispose()


def test_learner_finishes_a_course_offline_and_downloads_the_certificate(
    context: BrowserContext, page: Page, live: tuple[str, str]
) -> None:
    login(page, "13800000002")
    page.goto("/training?category=health")
    page.get_by_role("link", name="心肺复苏与AED使用（线上理论）").click()
    course_url = page.url
    page.locator('form[action$="/enrol"] button').click()
    # The service worker keeps the course's lessons for reading without signal.
    expect(page.locator("#offline-status[data-kept-count]")).to_have_count(1, timeout=20_000)
    check_accessibility(page)
    lessons = page.locator('section[aria-labelledby="lessons-h"] a')
    hrefs = [lessons.nth(i).get_attribute("href") for i in range(lessons.count())]
    assert len(hrefs) == 3

    page.goto(hrefs[0])
    page.locator("#lesson-done button").click()
    expect(page.locator('[data-testid="lesson-done"]')).to_be_visible()
    check_accessibility(page)

    # No signal: the next lesson opens from the phone and "finished" is kept on it.
    context.set_offline(True)
    page.goto(hrefs[1])
    expect(page.locator("h1")).to_have_text("高质量胸外按压")
    page.locator("#lesson-done button").click()
    expect(page.locator("#sync-status")).not_to_be_empty()
    database = Database(live[1])
    try:
        with database.transaction(write=False) as session:
            person_id = session.scalar(select(Person.id).where(Person.phone == "13800000002"))
            enrolment_id = session.scalar(
                select(Enrolment.id)
                .join(Course, Course.id == Enrolment.course_id)
                .where(
                    Enrolment.person_id == person_id,
                    Course.title == "心肺复苏与AED使用（线上理论）",
                )
            )

        def done_lessons() -> int:
            with database.transaction(write=False) as session:
                return len(
                    session.scalars(
                        select(LessonProgress).where(
                            LessonProgress.enrolment_id == enrolment_id,
                            LessonProgress.completed_at.is_not(None),
                        )
                    ).all()
                )

        assert done_lessons() == 1
        # Back online: the kept progress is sent by itself.
        context.set_offline(False)
        page.wait_for_function(
            "() => JSON.parse(localStorage.getItem('gc-training-progress') || '[]').length === 0",
            timeout=20_000,
        )
        assert done_lessons() == 2
    finally:
        database.dispose()

    page.goto(hrefs[2])
    page.locator("#lesson-done button").click()
    expect(page.locator('[data-testid="lesson-done"]')).to_be_visible()

    # Completing without the quiz is refused with what is missing.
    page.goto(course_url)
    with page.expect_response(lambda r: r.url.endswith("/complete")) as refused:
        page.locator('form[action$="/complete"] button').click()
    assert refused.value.status == 422
    page.goto(course_url)
    page.locator('form[action$="/quiz"] button').click()
    expect(page.locator("fieldset.question")).to_have_count(3)
    check_accessibility(page)
    answer_correctly(page)
    page.locator("#quiz-paper").get_by_role("button").click()
    expect(page.locator('[data-testid="score"]')).to_contain_text("3")
    expect(page.locator(".question-review").first).to_contain_text("来源")
    check_accessibility(page)
    page.locator('a.button.primary[href^="/training/courses/"]').click()
    certificate = page.locator('[data-testid="certificate"]')
    expect(certificate).to_be_visible()
    pdf = page.request.get(certificate.get_attribute("href"))
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
    # The QR code on it opens the public check.
    database = Database(live[1])
    try:
        with database.transaction(write=False) as session:
            code = session.scalar(
                select(Enrolment.certificate_code).where(Enrolment.id == enrolment_id)
            )
    finally:
        database.dispose()
    page.goto(f"/training/certificates/{code}")
    expect(page.locator("p.ok")).to_be_visible()
    expect(page.locator("dd").first).to_have_text("王**")
    check_accessibility(page)
    # The completion reached the inbox: its text, and no catalogue header for its empty body.
    page.goto("/notifications")
    expect(page.locator("main")).to_contain_text("结业")
    expect(page.locator("main")).not_to_contain_text("Project-Id-Version")


def test_the_demo_worlds_certificates_run_from_enrolment_to_completion(
    live: tuple[str, str],
) -> None:
    """Every certificate reads "from <enrolled> to <completed>": the dates in that order."""
    database = Database(live[1])
    try:
        with database.transaction(write=False) as session:
            finished = session.scalars(
                select(Enrolment).where(Enrolment.completed_at.is_not(None))
            ).all()
    finally:
        database.dispose()
    assert finished
    assert all(e.enrolled_at <= e.completed_at for e in finished)


def test_guest_takes_a_quiz_on_a_phone_in_large_text(page: Page) -> None:
    page.goto("/quiz/yingji-baiwen")
    page.get_by_role("button", name="大字模式").click()
    expect(page.locator("html")).to_have_class(re.compile("large-text"))
    # Only the rules that give points are said: this campaign gives none per correct answer.
    expect(page.get_by_test_id("scoring")).to_have_text("计分：完成得 1 分，全部答对再加 2 分。")
    check_accessibility(page)
    page.locator("#nick").fill("山里娃")
    page.locator("#region").select_option(index=1)
    page.locator('form[action$="/start"] button[type="submit"]').click()
    expect(page.locator("fieldset.question")).to_have_count(5)
    expect(page.locator("#quiz-timer")).to_have_text(re.compile(r"^[45]:\d\d$"))
    assert has_no_horizontal_scroll(page)
    check_accessibility(page)
    answer_correctly(page)
    page.locator("#quiz-paper").get_by_role("button").click()
    score = page.locator('[data-testid="score"]')
    expect(score).to_be_visible()
    assert re.findall(r"\d+", score.inner_text()) == ["5", "5", "3"]
    expect(page.locator('[data-testid="my-rank"]')).to_be_visible()
    assert has_no_horizontal_scroll(page)
    check_accessibility(page)
    share = page.locator('section[aria-labelledby="share-h"] a').get_attribute("href")
    page.locator('a[href$="#board-h"]').click()
    board = page.locator('[data-testid="leaderboard"]')
    expect(board).to_contain_text("山里娃")
    expect(page.locator('[data-testid="my-rank"]')).to_be_visible()
    assert has_no_horizontal_scroll(page)
    # The shared result page shows the score and no answers.
    page.goto(share)
    expect(page.locator("p.big")).to_contain_text("山里娃")
    expect(page.locator(".question-review")).to_have_count(0)


def test_province_dashboard_shows_progress_against_the_plan(page: Page) -> None:
    login(page, "13800000009")
    page.goto("/training")
    page.locator('a[href^="/training/departments/"]').first.click()
    page.locator('a[href^="/training/programmes/"]').first.click()
    expect(page.locator("#chart-trend canvas")).to_have_count(1)
    expect(page.locator("#chart-provinces canvas")).to_have_count(1)
    # Month by month as a table too; months to come have no trained figure (not 0), and the
    # month still running is marked as such, in the table and dashed in the chart.
    rows = page.get_by_test_id("trend-table").locator("tbody tr")
    current = rows.filter(has_text="（进行中）")
    expect(current).to_have_count(1)
    index = int(current.evaluate("tr => tr.rowIndex")) - 1
    if index + 1 < rows.count():
        expect(rows.nth(index + 1).locator("td").first).to_have_text("—")
    expect(page.get_by_test_id("partial-month")).to_contain_text("尚未结束")
    drawn = page.evaluate(
        """() => echarts.getInstanceByDom(document.getElementById('chart-trend')).getOption()
                 .series.filter(s => s.lineStyle && s.lineStyle.type === 'dashed').length"""
    )
    assert drawn == (2 if index > 0 else 0)
    provinces = page.locator('section[aria-labelledby="prov-h"] tbody tr')
    expect(provinces).to_have_count(2)
    expect(provinces.first).to_contain_text("湖南省")
    assert int(page.locator('[data-testid="offline-total"]').inner_text()) > 0
    check_accessibility(page)
    with page.expect_download() as download:
        page.locator('a[href*="report.xlsx"]').click()
    book = load_workbook(io.BytesIO(download.value.path().read_bytes()))
    assert len(book.sheetnames) == 3
    sheet = book.worksheets[0]
    names = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert "湖南省" in names and "贵州省" in names
    page.get_by_role("button", name="大字模式").click()
    expect(page.locator("html")).to_have_class(re.compile("large-text"))
    expect(page.locator("#chart-trend canvas")).to_have_count(1)
    assert has_no_horizontal_scroll(page)


def test_publisher_builds_a_course_and_a_campaign_and_a_department_accredits(
    page: Page, live: tuple[str, str]
) -> None:
    login(page, "13800000006")
    page.goto("/training")
    page.locator('a[href^="/training/manage/"]').first.click()
    manage_url = page.url
    check_accessibility(page)
    page.locator("details", has=page.locator("#c-title")).locator("summary").click()
    page.locator("#c-title").fill("止血包扎（测试）")
    page.locator("#c-cat").select_option("health")
    page.locator('form[action$="/courses"] button[type="submit"]').click()
    expect(page.locator("h1")).to_contain_text("止血包扎（测试）")
    # A document lesson needs a PDF: a picture is refused with the reason, nothing added.
    page.locator("#l-title").fill("止血卡片")
    page.locator("#l-kind").select_option("document")
    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
    page.locator("#l-file").set_input_files(
        files=[{"name": "card.png", "mimeType": "image/png", "buffer": png}]
    )
    course_url = page.url
    with page.expect_response(lambda r: r.url.endswith("/lessons")) as refused:
        page.locator('form[action$="/lessons"] button[type="submit"]').click()
    assert refused.value.status in (415, 422)
    # The refusal page is still loading when its response arrives: going "back" then raced
    # the navigation (Page.go_back: not attached to an active page). Open the course again.
    page.wait_for_load_state()
    page.goto(course_url)
    page.locator("#l-title").fill("压迫止血")
    page.locator("#l-kind").select_option("text")
    page.locator("#l-body").fill("用干净的纱布直接按压伤口，持续按压至少10分钟。")
    page.locator('form[action$="/lessons"] button[type="submit"]').click()
    expect(page.locator('section[aria-labelledby="lessons-h"] li')).to_have_count(1)
    page.locator('form[action$="/status"] button[value="published"]').click()
    expect(page.locator('form[action$="/status"] button[value="unpublished"]')).to_be_visible()
    check_accessibility(page)

    # A question bank from Excel, then a campaign drawing from it, open to guests.
    page.goto(manage_url)
    page.locator("details", has=page.locator("#b-name")).locator("summary").click()
    page.locator("#b-name").fill("止血题库（测试）")
    page.locator('form[action$="/banks"] button[type="submit"]').click()
    book = Workbook()
    book.active.append(["题型", "题目", "选项A", "选项B", "答案", "解析", "来源"])
    for n in range(3):
        book.active.append(
            ["判断", f"止血第{n}题：按压止血要持续按压？", "", "", "对", "至少10分钟。", "红十字会"]
        )
    out = io.BytesIO()
    book.save(out)
    page.locator("#qb-file").set_input_files(
        files=[{"name": "q.xlsx", "mimeType": "application/octet-stream", "buffer": out.getvalue()}]
    )
    page.locator('form[action$="/import"] button[type="submit"]').click()
    expect(page.locator('p.ok[role="status"]')).to_contain_text("3")
    check_accessibility(page)
    page.goto(manage_url)
    page.locator("details", has=page.locator("#q-title")).locator("summary").click()
    page.locator("#q-title").fill("止血知识答题（测试）")
    page.locator("#q-slug").fill("zhixue-test")
    page.locator("#q-bank").select_option(label="止血题库（测试）")
    page.locator("#q-count").fill("3")
    page.locator('form[action$="/campaigns"] button[type="submit"]').click()
    expect(page.locator("h1")).to_have_text("止血知识答题（测试）")
    expect(page.locator("#nick")).to_have_count(1)  # logged in: optional name; guests: required

    # The province department accredits the county hospital's training again, with a programme.
    page.context.clear_cookies()
    login(page, "13800000009")
    page.goto("/training")
    page.locator('a[href^="/training/departments/"]').first.click()
    department_url = page.url
    database = Database(live[1])
    try:
        with database.transaction(write=False) as session:
            hospital = session.scalar(
                select(Organisation.id).where(Organisation.name.like("新化县人民医院%"))
            )
    finally:
        database.dispose()
    page.locator("details", has=page.locator("#ac-org")).locator("summary").click()
    page.locator("#ac-org").fill(str(hospital))
    page.locator("#ac-no").fill("PX-TEST-1")
    page.locator("#ac-until").fill(str(local_today() + timedelta(days=700)))
    page.locator('form[action$="/accreditations"] button[type="submit"]').click()
    expect(page.locator('section[aria-labelledby="acc-h"] tbody')).to_contain_text("PX-TEST-1")
    page.goto(department_url)
    page.locator("details", has=page.locator("#p-code")).locator("summary").click()
    page.locator("#p-code").fill("TEST-PROG")
    page.locator("#p-name").fill("急救普及（测试）")
    page.locator('form[action$="/programmes"] button[type="submit"]').click()
    page.locator("#t-rows").fill(f"430000,{local_today().year},offline,50")
    page.locator('form[action$="/targets"] button[type="submit"]').click()
    expect(page.locator('section[aria-labelledby="prov-h"] tbody')).to_contain_text("50")
    check_accessibility(page)

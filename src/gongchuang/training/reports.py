"""The course completion certificate: an A4 PDF with a QR code anyone can scan to verify it."""

from __future__ import annotations

from gongchuang.core import pdf
from gongchuang.core.clock import local_time
from gongchuang.training.models import Course, Enrolment


def certificate_pdf(
    enrolment: Enrolment, course: Course, holder: str, issuer: str, verify_url: str
) -> bytes:
    """The certificate as training providers issue it: a formal document in its fixed Chinese
    wording (……同志：……准予结业), whatever language the holder reads the site in; the pages
    only link to it."""
    if enrolment.completed_at is None or enrolment.certificate_code is None:
        raise ValueError(f"enrolment {enrolment.id} is not complete: it has no certificate")
    completed = local_time(enrolment.completed_at, "%Y年%m月%d日")
    return pdf.certificate_pdf(
        "结业证书",
        [
            f"{holder} 同志：",
            f"于 {local_time(enrolment.enrolled_at, '%Y年%m月%d日')} 至 {completed} 参加在线课程",
            f"《{course.title}》的学习，完成全部课时并通过结业测验，准予结业。",
            f"颁发单位：{issuer}",
        ],
        enrolment.certificate_code,
        f"结业日期 {completed}",
        verify_url,
    )

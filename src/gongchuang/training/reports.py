"""The course completion certificate: an A4 PDF with a QR code anyone can scan to verify it."""

from __future__ import annotations

import io

from gongchuang.core.pdf import draw_qr, register_cjk_font
from gongchuang.core.web import local_time
from gongchuang.training.models import Course, Enrolment


def certificate_pdf(
    enrolment: Enrolment, course: Course, holder: str, issuer: str, verify_url: str
) -> bytes:
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    assert enrolment.completed_at is not None
    font = register_cjk_font()
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=landscape(A4))
    pdf.setTitle(f"结业证书 {enrolment.certificate_code}")
    width, height = landscape(A4)
    pdf.setLineWidth(2)
    pdf.rect(12 * mm, 12 * mm, width - 24 * mm, height - 24 * mm)
    pdf.setFont(font, 30)
    pdf.drawCentredString(width / 2, height - 45 * mm, "结业证书")
    pdf.setFont(font, 15)
    lines = [
        f"{holder} 同志：",
        f"于 {local_time(enrolment.enrolled_at, '%Y年%m月%d日')} 至 "
        f"{local_time(enrolment.completed_at, '%Y年%m月%d日')} 参加在线课程",
        f"《{course.title}》的学习，完成全部课时并通过结业测验，准予结业。",
        f"颁发单位：{issuer}",
    ]
    y = height - 75 * mm
    for line in lines:
        pdf.drawString(35 * mm, y, line)
        y -= 13 * mm
    pdf.setFont(font, 12)
    pdf.drawString(35 * mm, 30 * mm, f"证书编号 {enrolment.certificate_code}")
    pdf.drawString(
        35 * mm, 22 * mm, f"结业日期 {local_time(enrolment.completed_at, '%Y年%m月%d日')}"
    )
    pdf.drawString(width - 110 * mm, 22 * mm, "扫描二维码核验")
    draw_qr(pdf, verify_url, width - 65 * mm, 18 * mm, 40 * mm)
    pdf.showPage()
    pdf.save()
    return out.getvalue()

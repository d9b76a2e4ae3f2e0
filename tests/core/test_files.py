import io

from PIL import Image
from sqlalchemy import func, select

from gongchuang.core.models import StoredFile
from tests.conftest import api_token


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (40, 30), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (27.0, 44.0, 0.0)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


def test_uploaded_photo_loses_its_location(client, world) -> None:
    headers = api_token(client, world.villager_a.phone, ["read"])
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)
    response = client.post(
        "/api/v1/files", files={"file": ("photo.jpg", original)}, headers=headers
    )
    assert response.status_code == 201, response.text
    stored = response.json()
    assert stored["content_type"] == "image/jpeg"
    downloaded = client.get(f"/api/v1/files/{stored['id']}", headers=headers)
    assert downloaded.status_code == 200
    clean = Image.open(io.BytesIO(downloaded.content))
    assert not clean.getexif().get_ifd(0x8825)
    assert clean.size == (40, 30)
    other = api_token(client, world.outsider.phone, ["read"])
    assert client.get(f"/api/v1/files/{stored['id']}", headers=other).status_code == 404


def test_type_is_sniffed_not_trusted_from_the_name(client, world, session) -> None:
    headers = api_token(client, world.villager_a.phone, ["read"])
    before = session.scalar(select(func.count(StoredFile.id)))
    fake = b"MZ\x90\x00" + b"\x00" * 200  # a Windows executable named like a photo
    response = client.post("/api/v1/files", files={"file": ("cute.jpg", fake)}, headers=headers)
    assert response.status_code == 415
    assert session.scalar(select(func.count(StoredFile.id))) == before


def test_oversized_uploads_are_refused(client, world, monkeypatch) -> None:
    from gongchuang.config import get_settings

    monkeypatch.setattr(get_settings(), "upload_max_bytes", 1024)
    headers = api_token(client, world.villager_a.phone, ["read"])
    response = client.post(
        "/api/v1/files", files={"file": ("big.pdf", b"%PDF-1.4" + b"0" * 4096)}, headers=headers
    )
    assert response.status_code == 413


def test_anonymous_upload_is_refused(client, world) -> None:
    response = client.post("/api/v1/files", files={"file": ("a.pdf", b"%PDF-1.4 x")})
    assert response.status_code == 401


def test_housekeeping_removes_bytes_no_row_points_to(session, world, tmp_path) -> None:
    """An upload whose request was refused afterwards rolled back its row, not its bytes."""
    import os
    from datetime import timedelta

    from gongchuang.core import files
    from gongchuang.core.clock import utcnow
    from gongchuang.core.permissions import SYSTEM

    files.set_storage(files.LocalFileStorage(tmp_path))
    try:
        kept = files.save_upload(session, SYSTEM, filename="a.pdf", data=b"%PDF-1.4 kept")
        files.storage().save("ab/orphan", b"%PDF-1.4 orphan")
        files.storage().save("ab/fresh-orphan", b"%PDF-1.4 fresh")
        day_ago = (utcnow() - timedelta(days=2)).timestamp()
        for key in (kept.storage_key, "ab/orphan"):
            os.utime(tmp_path / key, (day_ago, day_ago))
        assert files.sweep_orphans(session) == 1
        assert (tmp_path / kept.storage_key).exists()
        assert not (tmp_path / "ab/orphan").exists()
        assert (tmp_path / "ab/fresh-orphan").exists()  # may belong to a request in flight
    finally:
        files.set_storage(None)

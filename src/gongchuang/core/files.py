"""Uploaded files: limits, type sniffing, EXIF stripping, and a storage interface."""

from __future__ import annotations

import hashlib
import io
import secrets
from pathlib import Path
from typing import Protocol

import filetype
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Session

from gongchuang.config import get_settings
from gongchuang.core import audit
from gongchuang.core.errors import InvalidInput, NotFound, PayloadTooLarge, UnsupportedMediaType
from gongchuang.core.i18n import N_
from gongchuang.core.models import StoredFile
from gongchuang.core.permissions import Principal

IMAGE_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
DOCUMENT_TYPES = {"application/pdf"}
ACCEPTED_TYPES = frozenset(IMAGE_TYPES) | DOCUMENT_TYPES


class FileStorage(Protocol):
    def save(self, key: str, data: bytes) -> None: ...
    def load(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...


class LocalFileStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError("storage key escapes the storage root")
        return path

    def save(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)

    def load(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


_storage: FileStorage | None = None


def storage() -> FileStorage:
    global _storage
    if _storage is None:
        _storage = LocalFileStorage(get_settings().storage_dir)
    return _storage


def set_storage(custom: FileStorage | None) -> None:
    global _storage
    _storage = custom


def sniff(data: bytes) -> str | None:
    kind = filetype.guess(data)
    return kind.mime if kind else None


def strip_image_metadata(data: bytes, content_type: str) -> bytes:
    """Re-encode an image without EXIF (GPS, camera serial), keeping its visible orientation."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            upright = ImageOps.exif_transpose(image)
            out = io.BytesIO()
            clean = upright.convert("RGB") if IMAGE_TYPES[content_type] == "JPEG" else upright
            clean.save(out, format=IMAGE_TYPES[content_type], quality=90)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise InvalidInput(N_("The image could not be read")) from exc


def save_upload(
    session: Session,
    actor: Principal,
    *,
    filename: str,
    data: bytes,
    accepted: frozenset[str] = ACCEPTED_TYPES,
) -> StoredFile:
    limit = get_settings().upload_max_bytes
    if len(data) > limit:
        raise PayloadTooLarge(N_("The file is larger than %(mb)s MB"), mb=limit // (1024 * 1024))
    if not data:
        raise InvalidInput(N_("The file is empty"))
    content_type = sniff(data)
    if content_type not in accepted:
        raise UnsupportedMediaType(
            N_("This type of file is not accepted (accepted: %(types)s)"),
            types=", ".join(sorted(accepted)),
        )
    if content_type in IMAGE_TYPES:
        data = strip_image_metadata(data, content_type)
    digest = hashlib.sha256(data).hexdigest()
    key = f"{digest[:2]}/{digest}-{secrets.token_hex(4)}"
    storage().save(key, data)
    stored = StoredFile(
        uploader_person_id=actor.person_id,
        sha256=digest,
        size=len(data),
        content_type=content_type,
        original_name=Path(filename or "file").name[:255],
        storage_key=key,
    )
    session.add(stored)
    session.flush()
    audit.record(
        session,
        actor,
        "file.upload",
        "stored_file",
        stored.id,
        after={"sha256": digest, "type": content_type, "size": len(data)},
    )
    return stored


def get_file_for(session: Session, actor: Principal, file_id: int) -> tuple[StoredFile, bytes]:
    """The uploader and platform administrators may read a file; domains that publish files
    (evidence on a public board) serve them through their own rules."""
    stored = session.get(StoredFile, file_id)
    if stored is None or not (
        actor.is_platform_admin
        or (actor.person_id and stored.uploader_person_id == actor.person_id)
    ):
        raise NotFound()
    return stored, storage().load(stored.storage_key)

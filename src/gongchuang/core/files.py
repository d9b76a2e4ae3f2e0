"""Uploaded files: limits, type sniffing, EXIF stripping, and a storage interface."""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import filetype
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.config import get_settings
from gongchuang.core import audit
from gongchuang.core.clock import utcnow
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
    def keys_older_than(self, moment: datetime) -> Iterator[str]: ...


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

    def keys_older_than(self, moment: datetime) -> Iterator[str]:
        if not self.root.exists():
            return
        cutoff = moment.timestamp()
        for path in self.root.rglob("*"):
            if path.is_file() and path.stat().st_mtime < cutoff:
                yield path.relative_to(self.root).as_posix()


def sweep_orphans(session: Session, older_than: timedelta = timedelta(days=1)) -> int:
    """Delete stored bytes no `StoredFile` row points to: an upload whose request was refused
    after the file was written (the row rolled back, the bytes stayed). A villager's photo must
    not outlive the record it was sent for."""
    removed = 0
    batch: list[str] = []

    def flush_batch() -> int:
        known = set(
            session.scalars(select(StoredFile.storage_key).where(StoredFile.storage_key.in_(batch)))
        )
        gone = 0
        for key in batch:
            if key not in known:
                storage().delete(key)
                gone += 1
        batch.clear()
        return gone

    for key in storage().keys_older_than(utcnow() - older_than):
        batch.append(key)
        if len(batch) >= 500:
            removed += flush_batch()
    if batch:
        removed += flush_batch()
    return removed


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


THUMBNAIL_PX = 192


def thumbnail(data: bytes, max_px: int = THUMBNAIL_PX) -> bytes:
    """A small JPEG of a stored image, for lists on slow phone connections (a few kB in place of
    a photo of several MB). The stored image already stands upright (strip_image_metadata)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (max_px * 2, max_px * 2))  # JPEG: decode at a fraction of the size
            small = image.convert("RGB")
            small.thumbnail((max_px, max_px))
            out = io.BytesIO()
            small.save(out, format="JPEG", quality=75, optimize=True)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise InvalidInput(N_("The image could not be read")) from exc


class Readable(Protocol):
    def read(self, size: int = -1) -> bytes: ...


def read_upload(stream: Readable) -> bytes:
    """The bytes of an upload Starlette has spooled to a temporary file, refused when over the
    limit: one byte past it is read, never the whole of an oversized file."""
    limit = get_settings().upload_max_bytes
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(N_("The file is larger than %(mb)s MB"), mb=limit // (1024 * 1024))
    return data


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

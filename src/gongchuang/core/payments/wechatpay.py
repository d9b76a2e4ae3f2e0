"""The WeChat Pay APIv3 scheme, as pure functions: used by the real provider and by the
sandbox, which signs and encrypts its notifications exactly as WeChat Pay does.

- A notification is signed by the platform key: base64 RSA-SHA256 (PKCS#1 v1.5) over
  "timestamp\\nnonce\\nbody\\n", sent in the Wechatpay-Timestamp, -Nonce, -Signature and -Serial
  headers (the serial names which platform key signed).
- Its `resource` is encrypted with the merchant's APIv3 key (32 bytes): AEAD_AES_256_GCM with a
  12-character nonce and the associated data, the 16-byte tag appended, base64.
- A request to WeChat Pay is signed by the merchant key over
  "METHOD\\nURL\\ntimestamp\\nnonce\\nbody\\n" and sent as the Authorization header.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gongchuang.core.errors import GongchuangError
from gongchuang.core.i18n import N_

ALGORITHM = "AEAD_AES_256_GCM"
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
# WeChat Pay refuses a notification older or newer than this; so do we.
TIMESTAMP_TOLERANCE_SECONDS = 5 * 60
APIV3_KEY_BYTES = 32


class SignatureRefused(GongchuangError):
    """The notification is not proven to come from the provider: nothing was read from it."""

    status_code = 401
    type_slug = "signature-refused"
    title = N_("The notification's signature was refused")


class MalformedNotification(GongchuangError):
    status_code = 400
    type_slug = "malformed-notification"
    title = N_("The notification could not be read")


# --- keys --------------------------------------------------------------------------------------


def generate_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@lru_cache(maxsize=16)
def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the merchant key must be an RSA key")
    return key


@lru_cache(maxsize=16)
def load_public_key(pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the platform public key must be an RSA key")
    return key


# --- signatures --------------------------------------------------------------------------------


def sign_message(key: rsa.RSAPrivateKey, message: bytes) -> str:
    """Base64 RSA-SHA256 PKCS#1 v1.5 signature of `message`."""
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def verify_signature(key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature.encode("ascii"), validate=True)
        key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError, UnicodeEncodeError):
        return False
    return True


def notification_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """What a notification's signature covers: the body exactly as it was sent."""
    return timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"


def request_message(method: str, url_path: str, timestamp: str, nonce: str, body: str) -> bytes:
    """What a merchant request's signature covers (the URL's path and query, no host)."""
    return f"{method.upper()}\n{url_path}\n{timestamp}\n{nonce}\n{body}\n".encode()


def authorization_header(
    *,
    mch_id: str,
    serial_no: str,
    key: rsa.RSAPrivateKey,
    method: str,
    url_path: str,
    body: str,
    timestamp: int,
    nonce: str,
) -> str:
    """The Authorization header of a request to WeChat Pay, signed with the merchant key."""
    signature = sign_message(key, request_message(method, url_path, str(timestamp), nonce, body))
    return (
        f'{SIGNATURE_TYPE} mchid="{mch_id}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


# --- the encrypted resource --------------------------------------------------------------------


def encrypt_resource(
    apiv3_key: bytes, plaintext: bytes, *, nonce: str, associated_data: str
) -> str:
    return base64.b64encode(
        AESGCM(apiv3_key).encrypt(nonce.encode(), plaintext, associated_data.encode())
    ).decode()


def decrypt_resource(
    apiv3_key: bytes, ciphertext: str, *, nonce: str, associated_data: str
) -> bytes:
    """The plaintext, or MalformedNotification: a wrong key, a changed byte of the ciphertext,
    nonce or associated data all fail the tag, and are refused the same way."""
    try:
        raw = base64.b64decode(ciphertext.encode("ascii"), validate=True)
        return AESGCM(apiv3_key).decrypt(nonce.encode(), raw, associated_data.encode())
    except (InvalidTag, binascii.Error, ValueError, UnicodeEncodeError, OverflowError) as exc:
        raise MalformedNotification(
            N_("The notification's resource could not be decrypted")
        ) from exc


# --- notifications -----------------------------------------------------------------------------


def new_nonce(length: int = 32) -> str:
    return secrets.token_hex(length // 2)


def signed_headers(
    key: rsa.RSAPrivateKey, serial: str, body: bytes, *, timestamp: int, nonce: str | None = None
) -> dict[str, str]:
    """The headers with which the platform key vouches for `body`."""
    nonce = nonce or new_nonce()
    return {
        "Wechatpay-Timestamp": str(timestamp),
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": sign_message(key, notification_message(str(timestamp), nonce, body)),
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": SIGNATURE_TYPE,
    }


def build_notification(
    *,
    key: rsa.RSAPrivateKey,
    serial: str,
    apiv3_key: bytes,
    notification_id: str,
    create_time: str,
    event_type: str,
    summary: str,
    original_type: str,
    resource: Mapping[str, Any],
    timestamp: int,
) -> tuple[dict[str, str], bytes]:
    """(headers, body) of a notification as WeChat Pay sends it: the resource encrypted with
    the APIv3 key, the body signed with the platform key."""
    nonce = secrets.token_hex(6)  # 12 characters, as WeChat Pay's resource nonces are
    plaintext = json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode()
    body = json.dumps(
        {
            "id": notification_id,
            "create_time": create_time,
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": {
                "original_type": original_type,
                "algorithm": ALGORITHM,
                "ciphertext": encrypt_resource(
                    apiv3_key, plaintext, nonce=nonce, associated_data=original_type
                ),
                "associated_data": original_type,
                "nonce": nonce,
            },
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    return signed_headers(key, serial, body, timestamp=timestamp), body


def verify_notification(
    headers: Mapping[str, str], body: bytes, keys: Mapping[str, rsa.RSAPublicKey], *, now: int
) -> None:
    """Refuses (SignatureRefused) a notification whose headers are missing, whose timestamp is
    more than five minutes from `now`, whose serial names no key we trust, or whose signature
    does not verify over the body as sent."""
    lowered = {name.lower(): value for name, value in headers.items()}
    timestamp = lowered.get("wechatpay-timestamp", "")
    nonce = lowered.get("wechatpay-nonce", "")
    signature = lowered.get("wechatpay-signature", "")
    serial = lowered.get("wechatpay-serial", "")
    if not (timestamp and nonce and signature and serial):
        raise SignatureRefused(N_("The notification is not signed"))
    if lowered.get("wechatpay-signature-type", SIGNATURE_TYPE) != SIGNATURE_TYPE:
        raise SignatureRefused(N_("The notification's signature does not match"))
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureRefused(N_("The notification's timestamp is not valid"))
    if abs(now - int(timestamp)) > TIMESTAMP_TOLERANCE_SECONDS:
        raise SignatureRefused(N_("The notification is too old or from the future"))
    key = keys.get(serial)
    if key is None:
        raise SignatureRefused(N_("The notification was signed with a key we do not know"))
    if not verify_signature(key, notification_message(timestamp, nonce, body), signature):
        raise SignatureRefused(N_("The notification's signature does not match"))


def open_notification(body: bytes, apiv3_key: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """(envelope, resource): the body parsed and its resource decrypted. MalformedNotification
    for anything that is not a well-formed, decryptable notification."""
    try:
        envelope = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedNotification(N_("The notification is not valid JSON")) from exc
    if not isinstance(envelope, dict):
        raise MalformedNotification(N_("The notification is not valid JSON"))
    resource = envelope.get("resource")
    fields = ("id", "event_type", "resource_type")
    if not all(isinstance(envelope.get(f), str) and 0 < len(envelope[f]) <= 64 for f in fields):
        raise MalformedNotification(N_("The notification lacks its id or event type"))
    if not isinstance(resource, dict) or resource.get("algorithm") != ALGORITHM:
        raise MalformedNotification(N_("The notification's resource is not AEAD_AES_256_GCM"))
    parts = [resource.get(f) for f in ("ciphertext", "nonce", "associated_data")]
    if not all(isinstance(p, str) for p in parts[:2]) or not isinstance(parts[2], str | None):
        raise MalformedNotification(N_("The notification's resource is incomplete"))
    plaintext = decrypt_resource(
        apiv3_key, str(parts[0]), nonce=str(parts[1]), associated_data=str(parts[2] or "")
    )
    try:
        opened = json.loads(plaintext)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedNotification(N_("The notification's resource is not valid JSON")) from exc
    if not isinstance(opened, dict):
        raise MalformedNotification(N_("The notification's resource is not valid JSON"))
    return envelope, opened

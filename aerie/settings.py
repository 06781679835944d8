"""One typed settings object, read once from ``AERIE_*`` environment variables."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///var/aerie.db"


class Settings(BaseSettings):
    """Everything a service may be configured with; defaults run with no setup."""

    model_config = SettingsConfigDict(env_prefix="AERIE_", frozen=True)

    database_url: str = DEFAULT_DATABASE_URL
    db_timeout_seconds: float = Field(5.0, gt=0, description="connect/lock timeout")

    web_host: str = "127.0.0.1"
    web_port: int = Field(8000, ge=1, le=65535)
    api_host: str = "127.0.0.1"
    api_port: int = Field(8001, ge=1, le=65535)
    api_workers: int = Field(1, ge=1)

    commit_interval_ms: float = Field(
        0.0, ge=0, le=1000, description="extra wait before a group commit, to gather more points"
    )
    verbose_answers: bool = False
    batch_limit: int = Field(1000, ge=1, description="points in one JSON batch")
    max_body_bytes: int = Field(1_048_576, ge=1024)
    max_future_seconds: int = Field(3600, ge=0, description="how far ahead a point's t may be")
    max_past_days: int = Field(3650, ge=1, description="how far back a point's t may be")
    key_cache_seconds: float = Field(30.0, ge=0, description="how long key lookups are cached")

    retention_minutes_days: int = Field(30, ge=0, description="0 keeps forever")
    retention_hours_days: int = Field(730, ge=0, description="0 keeps forever")
    retention_days_days: int = Field(0, ge=0, description="0 keeps forever")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: str) -> str:
        if not url.startswith(("sqlite://", "mysql+pymysql://", "mariadb+pymysql://")):
            raise ValueError(
                "AERIE_DATABASE_URL must start with sqlite:// or mysql+pymysql:// "
                f"(got {url.split('://')[0]!r})"
            )
        return url

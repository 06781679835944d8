"""One typed settings object, read once from ``AERIE_*`` environment variables."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from aerie.transactions import DEFAULT_RETRY_SECONDS
from aerie.webhook_targets import AllowList

DEFAULT_DATABASE_URL = "sqlite:///var/aerie.db"


class Settings(BaseSettings):
    """Everything a service may be configured with; defaults run with no setup."""

    model_config = SettingsConfigDict(env_prefix="AERIE_", frozen=True)

    database_url: str = DEFAULT_DATABASE_URL
    database_urls: str = Field(
        "", description="several MariaDB/Galera nodes, comma-separated: a process uses one "
        "and moves to the next that answers when it goes away; empty: AERIE_DATABASE_URL"
    )
    read_database_urls: str = Field(
        "", description="MariaDB replicas, comma-separated, for the web app's page reads and "
        "the graph and analysis servers; empty: read the primary"
    )
    max_replica_lag_seconds: float = Field(
        30.0, gt=0, description="a replica further behind its primary is not read"
    )
    db_timeout_seconds: float = Field(5.0, gt=0, description="connect/lock timeout")
    db_retry_seconds: float = Field(
        DEFAULT_RETRY_SECONDS, gt=0, le=60, description="how long a write runs again after conflicts (deadlocks, "
        "Galera certification) or a lost connection before it is answered 503"
    )

    web_host: str = "127.0.0.1"
    web_port: int = Field(8000, ge=1, le=65535)
    api_host: str = "127.0.0.1"
    api_port: int = Field(8001, ge=1, le=65535)
    api_workers: int = Field(1, ge=1)
    public_api_url: str = Field(
        "", description="the API's address as clients see it, for examples; empty: api host:port"
    )

    commit_interval_ms: float = Field(
        0.0, ge=0, le=1000, description="extra wait before a group commit, to gather more points"
    )
    commit_process: bool = Field(
        False, description="run the API's group commits in a process of their own, off the "
        "event loop's interpreter lock: more posts a second, but on a small machine a "
        "longer tail for one account's posts while another floods (bench/README.md)"
    )
    verbose_answers: bool = Field(
        True, description="answer a committed post 200 with {\"status\":200,\"msg\":\"ok\"}; "
        "false: 204 with no body (StatHat's since 2017), which old clients fail on"
    )
    batch_limit: int = Field(1000, ge=1, description="points in one JSON batch")
    max_body_bytes: int = Field(1_048_576, ge=1024)
    max_future_seconds: int = Field(3600, ge=0, description="how far ahead a point's t may be")
    max_past_days: int = Field(3650, ge=1, description="how far back a point's t may be")
    key_cache_seconds: float = Field(30.0, ge=0, description="how long key lookups are cached")
    max_stats_per_account: int = Field(
        10_000, ge=0, description="stats one account may have (the trash included); 0: no limit"
    )
    rate_limit_points: int = Field(
        20_000, ge=0,
        description="points per second one account may post to one API process, with five "
        "seconds' worth as a burst; 0 turns the limit off",
    )

    ez_signup: bool = Field(
        False, description="an EZ post naming an unknown e-mail as its ezkey makes a pending "
        "account holding the data and mails an invitation to claim it (StatHat's way)"
    )
    ez_signup_per_address: int = Field(
        3, ge=0, description="pending accounts one client address may make in a day; 0: no limit"
    )
    ez_signup_per_day: int = Field(
        100, ge=0, description="pending accounts all clients together may make in a day; "
        "0: no limit"
    )
    ez_signup_max_stats: int = Field(
        25, ge=1, description="stats a pending account may hold until it is claimed"
    )
    ez_signup_days: int = Field(
        30, ge=1, le=365, description="days an unclaimed account and its data are kept"
    )
    public_cache_bytes: int = Field(
        64 * 1024 * 1024, ge=0,
        description="bytes of finished embed and shared-dashboard answers each web process "
        "keeps (web_service/public_cache.py); 0 turns that cache off",
    )

    trusted_proxies: str = Field(
        "127.0.0.1",
        description="addresses or networks (comma-separated) whose X-Forwarded-For/-Proto "
        "the web app believes: the proxies in front of it",
    )
    api_docs: bool = Field(
        False, description="serve /docs and /openapi.json (Swagger UI loads from a CDN)"
    )

    signups_per_hour: int = Field(
        10, ge=0, description="accounts one client address may sign up in an hour; 0: no limit"
    )
    password_hash_time_cost: int = Field(
        3, ge=1, description="argon2id passes; lower only in tests"
    )
    password_hash_memory_kib: int = Field(
        65536, ge=32, description="argon2id memory in KiB (4 lanes of at least 8); lower only in tests"
    )
    secret_key: str = Field(
        "", description="signs session cookies; empty: generated once into var/secret_key"
    )
    graph_urls: str = Field(
        "http://127.0.0.1:8010,http://127.0.0.1:8011", description="graph server copies, comma-separated"
    )
    analysis_urls: str = Field(
        "http://127.0.0.1:8020,http://127.0.0.1:8021",
        description="analysis server copies, comma-separated",
    )
    scheduler_urls: str = Field(
        "http://127.0.0.1:8030,http://127.0.0.1:8031",
        description="scheduler copies (one acts at a time, by a lease in the database)",
    )
    rpc_secret: str = Field(
        "",
        description="signs JSON-RPC calls to the app servers, the same on every host; "
        "empty: generated once into var/rpc_secret",
    )
    rpc_timeout_seconds: float = Field(10.0, gt=0, description="one call to one app server copy")

    public_web_url: str = Field(
        "", description="the web app's address as people see it, for links in mail; empty: web host:port"
    )
    smtp_host: str = Field(
        "", description="mail relay; empty: development mode, mail is kept for the /dev/mail page"
    )
    dev_mail_view: Literal["own", "all", "off"] = Field(
        "own", description="with no relay, who reads the kept mail on /dev/mail: own, each "
        "logged-in user their own; all, visitors not logged in too, every address's "
        "account mail (password links: only on a machine nobody else reaches); off, no page"
    )
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = Field(True, description="upgrade the relay connection with STARTTLS")
    smtp_from: str = "Aerie <aerie@localhost>"
    smtp_timeout_seconds: float = Field(10.0, gt=0)
    smtp_deadline_seconds: float = Field(
        60.0, gt=0, le=240, description="the most handing one mail to the relay may take "
        "(well under the outbox's 300 s claim, so no other deliverer sends it meanwhile)"
    )
    webhook_allow: str = Field(
        "", description="internal CIDRs or host names webhooks may reach, comma-separated; "
        "empty: the public internet only"
    )
    webhook_deadline_seconds: float = Field(
        10.0, gt=0, le=240, description="the most one webhook delivery may take, answer "
        "included (well under a delivery's 300 s claim)"
    )

    monitor_seconds: float = Field(
        60.0, ge=0, description="how often each process reports its own figures; 0 turns it off"
    )
    system_email: str = Field(
        "system@aerie.local", min_length=3, description="the account Aerie's own stats belong to"
    )

    statsd_user: str = Field(
        "", description="the account (e-mail) StatsD metrics go to; set, `aerie up` starts "
        "a StatsD listener"
    )
    statsd_host: str = "127.0.0.1"
    statsd_port: int = Field(8125, ge=1, le=65535, description="UDP (and, with --tcp, TCP)")
    statsd_flush_seconds: float = Field(
        10.0, gt=0, le=3600, description="how long StatsD metrics are aggregated before a write"
    )
    statsd_percentiles: str = Field(
        "", description="percentile stats per flush for timers, such as 90,99 (name.p90...)"
    )
    graphite_user: str = Field(
        "", description="the account (e-mail) Graphite metrics go to; set, `aerie up` starts "
        "a Graphite plaintext listener"
    )
    graphite_host: str = "127.0.0.1"
    graphite_port: int = Field(2003, ge=1, le=65535, description="TCP and UDP")
    graphite_counters: str = Field(
        "", description="glob patterns (comma-separated, such as *.count) of Graphite paths "
        "that are counters; other paths are values"
    )

    retention_minutes_days: int = Field(30, ge=0, description="0 keeps forever")
    retention_hours_days: int = Field(730, ge=0, description="0 keeps forever")
    retention_days_days: int = Field(0, ge=0, description="0 keeps forever")

    @property
    def api_url(self) -> str:
        return self.public_api_url.rstrip("/") or f"http://{self.api_host}:{self.api_port}"

    @property
    def web_url(self) -> str:
        return self.public_web_url.rstrip("/") or f"http://{self.web_host}:{self.web_port}"

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def docs_url(self) -> str | None:
        return "/docs" if self.api_docs else None

    @property
    def openapi_url(self) -> str | None:
        return "/openapi.json" if self.api_docs else None

    @property
    def dev_mail(self) -> bool:
        """No relay configured: mail is kept for the development mail page, not sent."""
        return not self.smtp_host

    @property
    def graph_replicas(self) -> list[str]:
        return _urls(self.graph_urls)

    @property
    def analysis_replicas(self) -> list[str]:
        return _urls(self.analysis_urls)

    @property
    def scheduler_replicas(self) -> list[str]:
        return _urls(self.scheduler_urls)

    @property
    def statsd_percentile_list(self) -> tuple[float, ...]:
        return tuple(float(p) for p in _items(self.statsd_percentiles))

    @field_validator("statsd_percentiles")
    @classmethod
    def _percentiles(cls, text: str) -> str:
        for item in _items(text):
            try:
                good = 0 < float(item) <= 100
            except ValueError:
                good = False
            if not good:
                raise ValueError(f"give percentiles between 0 and 100 such as 90,99, not {item!r}")
        return text

    @property
    def graphite_counter_patterns(self) -> tuple[str, ...]:
        return tuple(_items(self.graphite_counters))

    @property
    def listeners(self) -> list[tuple[str, str, int]]:
        """The listeners ``aerie up`` starts, as (name, host, port): each one given an account."""
        wanted = [("statsd", self.statsd_user, self.statsd_host, self.statsd_port),
                  ("graphite", self.graphite_user, self.graphite_host, self.graphite_port)]
        return [(name, host, port) for name, user, host, port in wanted if user]

    @field_validator("graph_urls", "analysis_urls", "scheduler_urls")
    @classmethod
    def _some_urls(cls, urls: str) -> str:
        if not _urls(urls) or not all(u.startswith(("http://", "https://")) for u in _urls(urls)):
            raise ValueError(f"give one or more http:// URLs separated by commas, not {urls!r}")
        return urls

    @property
    def webhook_targets(self) -> AllowList:
        return AllowList.parse(self.webhook_allow)

    @field_validator("webhook_allow")
    @classmethod
    def _allow_list(cls, text: str) -> str:
        AllowList.parse(text)  # ValueError names the entry that is neither CIDR nor host
        return text

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_addresses(cls, proxies: str) -> str:
        for proxy in (p.strip() for p in proxies.split(",") if p.strip()):
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    "AERIE_TRUSTED_PROXIES lists the proxies' addresses or networks, such as "
                    f"10.0.0.10,192.168.0.0/24 (not {proxy!r}; '*' would trust anyone)"
                ) from None
        return proxies

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: str) -> str:
        if not url.startswith(("sqlite://", "mysql+pymysql://", "mariadb+pymysql://")):
            raise ValueError(
                "AERIE_DATABASE_URL must start with sqlite:// or mysql+pymysql:// "
                f"(got {url.split('://')[0]!r})"
            )
        return url

    @field_validator("database_urls", "read_database_urls")
    @classmethod
    def _server_nodes(cls, urls: str) -> str:
        for url in _items(urls):
            if not url.startswith(("mysql+pymysql://", "mariadb+pymysql://")):
                raise ValueError(
                    "several database nodes must be MariaDB servers, each "
                    f"mysql+pymysql://user:password@host:port/database (not {url.split('://')[0]!r})"
                )
        return urls

    @property
    def database_nodes(self) -> list[str]:
        """The primary's addresses in order of preference: AERIE_DATABASE_URLS, else the one
        AERIE_DATABASE_URL."""
        return _items(self.database_urls) or [self.database_url]

    @property
    def replica_nodes(self) -> list[str]:
        return _items(self.read_database_urls)


def _urls(text: str) -> list[str]:
    return [u.strip().rstrip("/") for u in text.split(",") if u.strip()]


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]

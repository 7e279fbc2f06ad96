"""Sliding-window event quotas."""

from __future__ import annotations

from sonet.relay.config import HostQuotas, RelayConfig, parse_duration
from sonet.relay.quotas import HostLimiter, SlidingWindow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_window_limits_and_slides() -> None:
    clock = Clock()
    window = SlidingWindow(1.0, 10, clock)
    assert sum(window.allow() for _ in range(15)) == 10
    clock.now += 0.5  # half of the previous window still counts
    assert sum(window.allow() for _ in range(15)) == 0
    clock.now += 0.6
    assert 0 < sum(window.allow() for _ in range(15)) < 10
    clock.now += 5
    assert sum(window.allow() for _ in range(15)) == 10


async def test_limiter_waits_and_counts() -> None:
    clock = Clock()
    limiter = HostLimiter(HostQuotas(2, 100, 1000), clock)
    await limiter.acquire()
    await limiter.acquire()
    assert limiter.throttled == 0
    limiter.set_quotas(HostQuotas(3, 100, 1000))
    await limiter.acquire()
    assert limiter.quotas == HostQuotas(3, 100, 1000)


def test_quotas_follow_the_reference_relay() -> None:
    config = RelayConfig()
    assert config.quotas(100, trusted=False) == HostQuotas(50, 2_600, 21_000)
    assert config.quotas(10_000, trusted=False) == HostQuotas(60, 12_500, 120_000)
    assert config.quotas(100, trusted=True) == HostQuotas(5_000, 50_000_000, 500_000_000)


def test_config_from_env(tmp_path: object) -> None:
    config = RelayConfig.from_env(
        {
            "SONET_RELAY_PORT": "2471",
            "SONET_DATA_DIR": "/tmp/x",
            "SONET_RELAY_REPLAY_WINDOW": "24h",
            "SONET_RELAY_TRUSTED_DOMAINS": "*.example.com, pds.test",
            "SONET_RELAY_LENIENT_SYNC_VALIDATION": "true",
            "SONET_RELAY_VERIFY_WORKERS": "3",
        }
    )
    assert config.port == 2471
    assert config.replay_window == 86_400
    assert config.trusted_domains == ("*.example.com", "pds.test")
    assert config.lenient_sync_validation and config.verify_workers == 3
    assert config.database.endswith("/tmp/x/relay.sqlite")
    assert config.event_log_kind == "disk"
    postgres = RelayConfig.from_env({"SONET_RELAY_DATABASE_URL": "postgresql://h/db"})
    assert postgres.event_log_kind == "database"
    assert parse_duration("250ms") == 0.25 and parse_duration("2d") == 172_800

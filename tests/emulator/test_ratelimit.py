"""Rate limits: headers on every response of a group, 429 + Retry-After, penalty restarts."""

from __future__ import annotations

from engine.emulator import EmulatorConfig, RateLimitConfig
from engine.emulator.ratelimit import LIGHT, RateLimiter

from .conftest import ApiFactory
from .helpers import A2P, ACCOUNT, recipients


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_penalty_restarts_on_every_request_made_during_it() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimitConfig(light=2, window=60.0), clock)
    assert [limiter.hit("s", LIGHT).allowed for _ in range(2)] == [True, True]  # type: ignore[union-attr]
    over = limiter.hit("s", LIGHT)
    assert over is not None and not over.allowed
    assert over.retry_after == 60
    assert over.headers["X-Rate-Limit-Remaining"] == "0"
    clock.now += 59  # still in the penalty: answered 429 and the penalty restarts
    again = limiter.hit("s", LIGHT)
    assert again is not None and not again.allowed
    clock.now += 59  # 118 s after the first 429, but only 59 s after the last one
    still = limiter.hit("s", LIGHT)
    assert still is not None and not still.allowed
    clock.now += 60.5  # a full quiet window
    free = limiter.hit("s", LIGHT)
    assert free is not None and free.allowed
    assert free.headers["X-Rate-Limit-Remaining"] == "1"
    other = limiter.hit("another-session", LIGHT)
    assert other is not None and other.allowed


def test_a_sub_second_real_window_asks_for_a_whole_second() -> None:
    # Real time (no compression): Retry-After in whole seconds, as RingCentral sends.
    clock = FakeClock()
    limiter = RateLimiter(RateLimitConfig(light=1, window=0.4), clock)
    first = limiter.hit("s", LIGHT)
    assert first is not None and first.headers["X-Rate-Limit-Window"] == "0.4"
    over = limiter.hit("s", LIGHT)
    assert over is not None and not over.allowed
    assert (over.retry_after, over.headers["Retry-After"]) == (1, "1")


def test_window_resets_the_budget() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimitConfig(light=2, window=10.0), clock)
    limiter.hit("s", LIGHT)
    limiter.hit("s", LIGHT)
    clock.now += 10
    decision = limiter.hit("s", LIGHT)
    assert decision is not None and decision.allowed
    assert RateLimiter(RateLimitConfig(enabled=False), clock).hit("s", LIGHT) is None


async def test_light_group_headers_429_and_penalty_over_http(api: ApiFactory) -> None:
    # A real-time minute, crossed with `advance` (no sleeping against a short window).
    client = await api(EmulatorConfig.fast(rate_limits=RateLimitConfig(light=3, window=60)))
    replies = [await client.get(A2P + "/batches") for _ in range(3)]
    for left, reply in zip(("2", "1", "0"), replies, strict=True):
        assert reply.status == 200
        assert reply.headers["X-Rate-Limit-Group"] == "light"
        assert reply.headers["X-Rate-Limit-Limit"] == "3"
        assert reply.headers["X-Rate-Limit-Window"] == "60"
        assert reply.headers["X-Rate-Limit-Remaining"] == left

    over = await client.send(recipients(1))
    assert over.status == 429
    assert over.headers["Retry-After"] == "60"
    assert over.headers["X-Rate-Limit-Group"] == "light"
    assert over.body == {"errorCode": "CMN-301", "message": "Request rate exceeded",
                         "errors": [{"errorCode": "CMN-301",
                                     "message": "Request rate exceeded"}]}
    client.emu.advance(40)
    assert (await client.get(ACCOUNT + "/extension/~/phone-number")).status == 429
    client.emu.advance(40)  # past the first penalty, not past the restarted one
    assert (await client.get(A2P + "/statuses")).status == 429
    client.emu.advance(61)
    assert (await client.get(A2P + "/batches")).status == 200

    ledger = client.emu.ledger()
    assert ledger["responses_429"] == 3
    assert ledger["batches"] == 0  # the refused POST stored nothing


async def test_limits_are_per_user_and_app_not_per_session(api: ApiFactory) -> None:
    client = await api(EmulatorConfig.fast(rate_limits=RateLimitConfig(light=1)))
    first_token = client.token
    assert (await client.get(A2P + "/batches")).status == 200
    assert (await client.get(A2P + "/batches")).status == 429
    await client.login()  # a fresh session does not get a fresh budget
    assert client.token != first_token
    assert (await client.get(A2P + "/batches")).status == 429


async def test_compressed_time_shortens_windows_and_says_so_in_real_seconds(
        api: ApiFactory) -> None:
    client = await api(EmulatorConfig.fast(time_scale=600.0,
                                           rate_limits=RateLimitConfig(light=1)))
    ok = await client.get(A2P + "/batches")
    assert ok.headers["X-Rate-Limit-Window"] == "0.1"  # 60 emulated seconds
    over = await client.get(A2P + "/batches")
    assert (over.status, over.headers["Retry-After"]) == (429, "0.1")
    client.emu.advance(61)  # past the penalty without waiting
    assert (await client.get(A2P + "/batches")).status == 200


async def test_rate_limits_can_be_switched_off(api: ApiFactory) -> None:
    client = await api(EmulatorConfig.fast(rate_limits=RateLimitConfig(light=1)))
    client.emu.configure(rate_limits={"enabled": False})
    replies = [await client.get(A2P + "/batches") for _ in range(5)]
    assert {r.status for r in replies} == {200}
    assert "X-Rate-Limit-Group" not in replies[0].headers

"""OAuth: JWT grant, single-use refresh tokens, revoke, and the 401 codes."""

from __future__ import annotations

from engine.emulator import EmulatorConfig, RateLimitConfig
from engine.emulator.auth import JWT_GRANT

from .conftest import ApiFactory
from .helpers import A2P, ACCOUNT


async def test_jwt_grant_returns_token_info(api: ApiFactory) -> None:
    client = await api(login=False)
    info = await client.login()
    assert info["token_type"] == "bearer"
    assert info["expires_in"] == 3600
    assert info["refresh_token_expires_in"] == 604800
    assert {"access_token", "refresh_token", "scope", "owner_id", "endpoint_id",
            "session_id"} <= set(info)


async def test_no_refresh_token_when_not_issued(api: ApiFactory) -> None:
    client = await api(EmulatorConfig.fast(issue_refresh_tokens=False))
    assert "refresh_token" not in client.token_info
    assert "refresh_token_expires_in" not in client.token_info


async def test_bad_client_credentials_are_401_invalid_client(api: ApiFactory) -> None:
    client = await api(login=False)
    reply = await client.oauth({"grant_type": JWT_GRANT, "assertion": client.emu.config.jwt},
                               authorization=client.basic(secret="nope"))
    assert reply.status == 401
    assert reply.body["error"] == "invalid_client"
    assert reply.body["errors"][0]["errorCode"].startswith("OAU-")


async def test_bad_jwt_is_invalid_grant(api: ApiFactory) -> None:
    client = await api(login=False)
    reply = await client.oauth({"grant_type": JWT_GRANT, "assertion": "forged"})
    assert reply.status == 400
    assert reply.body["error"] == "invalid_grant"
    assert reply.body["error_description"]


async def test_refresh_is_single_use_and_kills_old_access_token(api: ApiFactory) -> None:
    client = await api()
    old_access, old_refresh = client.token, client.token_info["refresh_token"]

    reply = await client.oauth({"grant_type": "refresh_token", "refresh_token": old_refresh})
    assert reply.status == 200
    assert reply.body["access_token"] != old_access
    assert reply.body["session_id"] == client.token_info["session_id"]

    again = await client.oauth({"grant_type": "refresh_token", "refresh_token": old_refresh})
    assert again.status == 400
    assert again.body["error"] == "invalid_grant"

    stale = await client.get(A2P + "/batches")
    assert stale.status == 401
    client.token = reply.body["access_token"]
    fresh = await client.get(A2P + "/batches")
    assert fresh.status == 200


async def test_expired_access_token_is_401_oau_128(api: ApiFactory) -> None:
    client = await api(EmulatorConfig.fast(access_token_ttl=1))
    assert client.token_info["expires_in"] == 1
    assert (await client.get(A2P + "/batches")).status == 200
    client.emu.advance(1.5)  # past the token's lifetime, without sleeping
    reply = await client.get(A2P + "/batches")
    assert reply.status == 401
    assert reply.body["errorCode"] == "OAU-128"
    assert reply.body["errors"] == [{"errorCode": "OAU-128", "message": "Access token expired"}]


async def test_missing_and_malformed_authorization(api: ApiFactory) -> None:
    client = await api(login=False)
    missing = await client.get(A2P + "/batches")
    assert (missing.status, missing.body["errorCode"]) == (401, "AGW-401")
    malformed = await client.get(A2P + "/batches", headers={"Authorization": "Token abc"})
    assert (malformed.status, malformed.body["errorCode"]) == (401, "AGW-402")
    unknown = await client.get(A2P + "/batches", headers={"Authorization": "Bearer nope"})
    assert (unknown.status, unknown.body["errorCode"]) == (401, "OAU-129")


async def test_bearer_scheme_is_case_insensitive(api: ApiFactory) -> None:
    client = await api()
    for scheme in ("bearer", "BEARER", "Bearer"):
        reply = await client.get(ACCOUNT + "/extension/~/phone-number",
                                 headers={"Authorization": f"{scheme} {client.token}"})
        assert reply.status == 200


async def test_revoke_ends_the_session(api: ApiFactory) -> None:
    client = await api()
    assert client.token is not None
    reply = await client.oauth({"token": client.token}, path="/restapi/oauth/revoke")
    assert reply.status == 200
    after = await client.get(A2P + "/batches")
    assert after.status == 401
    refresh = await client.oauth({"grant_type": "refresh_token",
                                  "refresh_token": client.token_info["refresh_token"]})
    assert refresh.status == 400


async def test_token_endpoint_is_in_the_auth_group(api: ApiFactory) -> None:
    client = await api(EmulatorConfig.fast(rate_limits=RateLimitConfig(auth=2)), login=False)
    form = {"grant_type": JWT_GRANT, "assertion": client.emu.config.jwt}
    first = await client.oauth(form)
    assert first.headers["X-Rate-Limit-Group"] == "auth"
    assert first.headers["X-Rate-Limit-Remaining"] == "1"
    await client.oauth(form)
    third = await client.oauth(form)
    assert third.status == 429
    assert third.body["errorCode"] == "CMN-301"

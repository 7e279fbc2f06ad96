"""Inter-service JWTs with real K-256 and P-256 keys."""

from __future__ import annotations

import base64
import time
from typing import Any

import orjson
import pytest

from sonet.crypto import K256Keypair, Keypair, P256Keypair
from sonet.crypto.p256 import CURVE_ORDER as P256_ORDER
from sonet.xrpc import AuthRequiredError, InvalidRequestError, SessionTokens, create_service_jwt
from sonet.xrpc import verify_service_jwt as verify
from tests.xrpc.toy import ALICE, SECRET, SERVICE_DID, KeyDirectory

K256_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
ORDERS = {"ES256K": K256_ORDER, "ES256": P256_ORDER}
LXM = "app.bsky.feed.getFeedSkeleton"
ISS = "did:plc:issuer234567abcdefghijk"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def craft(keypair: Keypair, header: dict[str, Any], claims: dict[str, Any]) -> str:
    signing_input = f"{b64(orjson.dumps(header))}.{b64(orjson.dumps(claims))}"
    return f"{signing_input}.{b64(keypair.sign(signing_input.encode()))}"


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iat": now, "iss": ISS, "aud": SERVICE_DID, "exp": now + 60, "lxm": LXM, **extra}


@pytest.fixture(params=["k256", "p256"])
def keypair(request: pytest.FixtureRequest) -> Keypair:
    return K256Keypair.generate() if request.param == "k256" else P256Keypair.generate()


@pytest.fixture
def keys(keypair: Keypair) -> KeyDirectory:
    directory = KeyDirectory()
    directory.register(ISS, keypair)
    return directory


async def refused(token: str, keys: KeyDirectory, error: str, **kwargs: Any) -> AuthRequiredError:
    aud = kwargs.pop("aud", SERVICE_DID)
    lxm = kwargs.pop("lxm", LXM)
    with pytest.raises(AuthRequiredError) as exc:
        await verify(token, aud, lxm, keys.resolve, **kwargs)
    assert exc.value.status == 401
    assert exc.value.error == error
    return exc.value


async def test_round_trip(keypair: Keypair, keys: KeyDirectory) -> None:
    token = create_service_jwt(keypair, ISS, SERVICE_DID, LXM)
    header_part, claims_part, signature_part = token.split(".")
    header = orjson.loads(unb64(header_part))
    body = orjson.loads(unb64(claims_part))
    assert header == {"typ": "JWT", "alg": keypair.jwt_alg}
    assert set(body) == {"iat", "iss", "aud", "exp", "lxm", "jti"}
    assert body["exp"] - body["iat"] == 60
    assert len(body["jti"]) == 32 and int(body["jti"], 16) >= 0
    signature = unb64(signature_part)
    assert len(signature) == 64
    assert int.from_bytes(signature[32:], "big") <= ORDERS[keypair.jwt_alg] // 2
    payload = await verify(token, SERVICE_DID, LXM, keys.resolve)
    assert (payload.iss, payload.aud, payload.lxm, payload.did) == (ISS, SERVICE_DID, LXM, ISS)
    assert keys.calls == [(ISS, False)]


async def test_several_audiences_and_skipped_checks(keypair: Keypair, keys: KeyDirectory) -> None:
    token = create_service_jwt(keypair, ISS, "did:web:entryway.test", None)
    assert (
        await verify(token, ["did:web:a.test", "did:web:entryway.test"], None, keys.resolve)
    ).lxm is None
    assert (await verify(token, None, None, keys.resolve)).aud == "did:web:entryway.test"


async def test_wrong_audience(keypair: Keypair, keys: KeyDirectory) -> None:
    token = create_service_jwt(keypair, ISS, "did:web:other.test", LXM)
    err = await refused(token, keys, "BadJwtAudience")
    assert err.message == "jwt audience does not match service did"


async def test_wrong_and_missing_lxm(keypair: Keypair, keys: KeyDirectory) -> None:
    token = create_service_jwt(keypair, ISS, SERVICE_DID, "com.atproto.repo.createRecord")
    err = await refused(token, keys, "BadJwtLexiconMethod")
    assert err.message == f'bad jwt lexicon method ("lxm"). must match: {LXM}'
    token = create_service_jwt(keypair, ISS, SERVICE_DID, None)
    err = await refused(token, keys, "BadJwtLexiconMethod")
    assert err.message == f'missing jwt lexicon method ("lxm"). must match: {LXM}'


async def test_expired(keypair: Keypair, keys: KeyDirectory) -> None:
    past = time.time() - 600
    token = create_service_jwt(keypair, ISS, SERVICE_DID, LXM, iat=past)
    err = await refused(token, keys, "JwtExpired")
    assert err.message == "jwt expired"
    later = create_service_jwt(keypair, ISS, SERVICE_DID, LXM, exp=time.time() + 30)
    await refused(later, keys, "JwtExpired", now=time.time() + 31)


async def test_forged_signature_retries_with_a_fresh_key(
    keypair: Keypair, keys: KeyDirectory
) -> None:
    forger = type(keypair).generate()
    token = create_service_jwt(forger, ISS, SERVICE_DID, LXM)
    err = await refused(token, keys, "BadJwtSignature")
    assert err.message == "jwt signature does not match jwt issuer"
    assert keys.calls == [(ISS, False), (ISS, True)]


async def test_rotated_key_is_picked_up(keypair: Keypair, keys: KeyDirectory) -> None:
    await keys.resolve(ISS, False)  # caches the old key
    rotated = type(keypair).generate()
    keys.register(ISS, rotated)
    payload = await verify(
        create_service_jwt(rotated, ISS, SERVICE_DID, LXM), SERVICE_DID, LXM, keys.resolve
    )
    assert payload.iss == ISS
    assert keys.calls[-2:] == [(ISS, False), (ISS, True)]


async def test_high_s_signature_is_refused(keypair: Keypair, keys: KeyDirectory) -> None:
    token = create_service_jwt(keypair, ISS, SERVICE_DID, LXM)
    head, body, signature_part = token.split(".")
    signature = unb64(signature_part)
    s = int.from_bytes(signature[32:], "big")
    high = signature[:32] + (ORDERS[keypair.jwt_alg] - s).to_bytes(32, "big")
    await refused(f"{head}.{body}.{b64(high)}", keys, "BadJwtSignature")


async def test_der_signature_is_refused(keypair: Keypair, keys: KeyDirectory) -> None:
    token = create_service_jwt(keypair, ISS, SERVICE_DID, LXM)
    head, body, signature_part = token.split(".")
    r, s = unb64(signature_part)[:32], unb64(signature_part)[32:]
    der = b"\x30\x44\x02\x20" + r + b"\x02\x20" + s
    await refused(f"{head}.{body}.{b64(der)}", keys, "BadJwtSignature")


async def test_algorithm_must_match_the_key(keypair: Keypair, keys: KeyDirectory) -> None:
    other_alg = "ES256" if keypair.jwt_alg == "ES256K" else "ES256K"
    token = craft(keypair, {"typ": "JWT", "alg": other_alg}, claims())
    err = await refused(token, keys, "BadJwtSignature")
    assert err.message == "could not verify jwt signature"


@pytest.mark.parametrize("typ", ["at+jwt", "refresh+jwt", "dpop+jwt"])
async def test_session_token_types_are_refused(
    keypair: Keypair, keys: KeyDirectory, typ: str
) -> None:
    token = craft(keypair, {"typ": typ, "alg": keypair.jwt_alg}, claims())
    err = await refused(token, keys, "BadJwtType")
    assert err.message == f'Invalid jwt type "{typ}"'


async def test_session_access_token_is_not_service_auth(keys: KeyDirectory) -> None:
    token = SessionTokens(SECRET, SERVICE_DID).create_access(ALICE)
    await refused(token, keys, "BadJwtType")


async def test_service_token_is_not_a_session_token(keypair: Keypair) -> None:
    token = create_service_jwt(keypair, ISS, SERVICE_DID, LXM)
    with pytest.raises(InvalidRequestError) as exc:
        SessionTokens(SECRET, SERVICE_DID).verify_access(token)
    assert exc.value.error == "InvalidToken"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.rsplit(".", 1)[0],
        lambda t: "!!!." + t.split(".", 1)[1],
        lambda t: b64(b"[1,2]") + "." + t.split(".", 1)[1],
        lambda t: t.split(".")[0] + "." + b64(b"not json") + "." + t.split(".")[2],
        lambda t: t.split(".")[0] + "=." + t.split(".", 1)[1],
    ],
)
async def test_poorly_formatted(keypair: Keypair, keys: KeyDirectory, mangle: Any) -> None:
    token = mangle(create_service_jwt(keypair, ISS, SERVICE_DID, LXM))
    err = await refused(token, keys, "BadJwt")
    assert err.message == "poorly formatted jwt"


@pytest.mark.parametrize(
    "bad",
    [
        {"exp": None},
        {"exp": "soon"},
        {"aud": 5},
        {"iss": None},
        {"lxm": 7},
    ],
)
async def test_claims_of_wrong_type(
    keypair: Keypair, keys: KeyDirectory, bad: dict[str, Any]
) -> None:
    body = {key: value for key, value in claims(**bad).items() if value is not None}
    token = craft(keypair, {"typ": "JWT", "alg": keypair.jwt_alg}, body)
    await refused(token, keys, "BadJwt")


@pytest.mark.parametrize("iss", ["not-a-did", "did:plc:x#", "did:plc:issuer234567abcdefghijk#a#b"])
async def test_bad_issuer(keypair: Keypair, keys: KeyDirectory, iss: str) -> None:
    token = craft(keypair, {"typ": "JWT", "alg": keypair.jwt_alg}, claims(iss=iss))
    err = await refused(token, keys, "BadJwtIss")
    assert err.message == "jwt iss is not a valid did"


async def test_issuer_with_service_suffix(keypair: Keypair, keys: KeyDirectory) -> None:
    iss = f"{ISS}#atproto_labeler"
    payload = await verify(
        create_service_jwt(keypair, iss, SERVICE_DID, LXM), SERVICE_DID, LXM, keys.resolve
    )
    assert (payload.iss, payload.did) == (iss, ISS)
    assert keys.calls == [(iss, False)]


async def test_unknown_issuer(keypair: Keypair, keys: KeyDirectory) -> None:
    token = create_service_jwt(keypair, "did:plc:stranger234567abcdefghi", SERVICE_DID, LXM)
    err = await refused(token, keys, "AuthenticationRequired")
    assert err.message == "could not resolve iss did"

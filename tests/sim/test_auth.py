"""Digest auth as Shelly does it: hashes per RFC 7616 with SHA-256, nonces issued by the device and expiring."""

import re

from zeropower.sim.auth import NONCE_LIFETIME_S, DigestAuthenticator, parse_digest_header, sha256_hex

REALM = "shellypro3em-aabbccddeeff"
URI = "/rpc/EM.GetStatus?id=0"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def answer(challenge: str, password: str, uri: str = URI) -> str:
    nonce = re.search(r'nonce="(\d+)"', challenge)[1]
    ha1 = sha256_hex(f"admin:{REALM}:{password}")
    response = sha256_hex(f"{ha1}:{nonce}:00000001:abc:auth:{sha256_hex(f'GET:{uri}')}")
    return (
        f'Digest username="admin", realm="{REALM}", nonce="{nonce}", uri="{uri}", '
        f'response="{response}", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="abc"'
    )


def test_parses_quoted_and_bare_parameters():
    assert parse_digest_header('Digest username="admin", uri="/a?b=1,2", nc=00000001, qop=auth') == {
        "username": "admin",
        "uri": "/a?b=1,2",
        "nc": "00000001",
        "qop": "auth",
    }
    assert parse_digest_header("Basic YWRtaW46eA==") is None


def test_accepts_a_correct_answer_until_the_nonce_expires():
    clock = FakeClock()
    auth = DigestAuthenticator(REALM, "pw", clock)
    header = answer(auth.challenge(), "pw")
    assert auth.verify("GET", URI, header)
    assert not auth.verify("POST", URI, header)
    assert not auth.verify("GET", URI, answer(auth.challenge(), "other"))
    clock.now += NONCE_LIFETIME_S
    assert not auth.verify("GET", URI, header)


def test_rejects_nonces_it_did_not_issue_and_missing_fields():
    auth = DigestAuthenticator(REALM, "pw")
    assert not auth.verify("GET", URI, answer('nonce="12345"', "pw"))
    header = answer(auth.challenge(), "pw")
    assert not auth.verify("GET", URI, header.replace(', cnonce="abc"', ""))
    assert not auth.verify("GET", URI, None)

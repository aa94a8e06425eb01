"""When the shared token check fetches identity's key set while identity cannot be reached (a fake
key-set client on a clock the test moves, no HTTP)."""

import jwt
import pytest

from accounts_common.auth import JwksCache, KeySetUnavailable


class UnreachableKeySet:
    """PyJWKClient's stand-in for an identity that does not answer: each fetch fails, and is counted."""

    def __init__(self) -> None:
        self.fetches = 0

    def get_jwk_set(self, refresh: bool = False) -> jwt.PyJWKSet:
        self.fetches += 1
        raise jwt.PyJWKClientError("Fail to fetch data from the url, err: timed out")


def test_with_no_usable_keys_left_checks_do_not_each_fetch_the_key_set():
    """Past the stale-if-error window every check used to fetch, one after another under the lock:
    each check of every request waited out its own fetch's timeout behind the others', and identity,
    once back, met a fetch per request of every service at once."""
    now = [0.0]
    cache = JwksCache("http://identity/.well-known/jwks.json", clock=lambda: now[0])
    unreachable = UnreachableKeySet()
    cache._client = unreachable  # type: ignore[assignment]

    for _ in range(50):
        with pytest.raises(KeySetUnavailable):
            cache.key("kid")
    assert unreachable.fetches == 1, "one fetch per cooldown, the other checks answer 503 at once"

    now[0] += cache.refresh_cooldown_s + 1
    with pytest.raises(KeySetUnavailable):
        cache.key("kid")
    assert unreachable.fetches == 2, "tried again once the cooldown is over"

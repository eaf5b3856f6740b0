"""The remote stores' retry policy: its worst case, as the README states it."""

from __future__ import annotations

from rules.cache.stores.base import (
    ATTEMPTS,
    BACKOFF,
    CONNECT_TIMEOUT,
    READ_ATTEMPTS,
    TIMEOUT,
)
from tests.support import REPO


def test_the_readme_states_the_worst_case_of_the_retry_policy() -> None:
    """The sums in rules/cache/stores/base.py's comment, from its constants: the README must agree."""
    # urllib3 waits nothing before the second attempt, then BACKOFF x 2^n.
    refused = sum(BACKOFF * 2**n for n in range(1, ATTEMPTS - 1))
    silent = READ_ATTEMPTS * TIMEOUT + sum(BACKOFF * 2**n for n in range(1, READ_ATTEMPTS - 1))
    bound = ATTEMPTS * CONNECT_TIMEOUT + READ_ATTEMPTS * TIMEOUT + refused
    # botocore's standard mode: every attempt may wait both timeouts, then up to 2^n s.
    s3 = ATTEMPTS * (CONNECT_TIMEOUT + TIMEOUT) + sum(2**n for n in range(ATTEMPTS - 1))
    readme = " ".join((REPO / "README.md").read_text().split())
    assert (
        f"about {refused:g} s when it refuses connections, {silent:g} s when it accepts and "
        f"never answers, {bound:g} s at most (S3: {s3:g} s)"
    ) in readme

"""The remote stores' retry policy: its worst case, as the README states it."""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
import pytest
from tests.support.servers import buildgrid, failing_proxy, free_port, moto_s3, nginx_webdav, silent_server
from converter.files import sweep
from rules.cache.artifacts import ArtifactCache, CacheSettings
from rules.cache.stores.base import (
    ATTEMPTS,
    BACKOFF,
    CONNECT_TIMEOUT,
    READ_ATTEMPTS,
    TIMEOUT,
    Access,
)
from rules.cache.stores.local import LocalStore
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

"""``require``, the one switch for real components: a failure under CI, a skip anywhere else."""

from __future__ import annotations

import pytest

from tests.support import in_ci, require


@pytest.mark.parametrize("value", ["1", "true", "yes", "on", "anything"])
def test_under_ci_a_missing_component_fails(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert in_ci()
    with pytest.raises(pytest.fail.Exception, match="no chromium; CI must run this test"):
        require("no chromium")


@pytest.mark.parametrize("value", [None, "", "0", "false", "No", "off"])
def test_elsewhere_it_skips(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    assert not in_ci()
    with pytest.raises(pytest.skip.Exception, match=r"^no chromium$"):
        require("no chromium")

"""The shadow build's summary for people: summary.md's rows and summary.html's section."""

from __future__ import annotations

from typing import Any

from rules.summary.shadow import markdown, section

DOCUMENT: dict[str, Any] = {
    "toolchains": {
        "tensorflow": {
            "today": {"tensorflow": "2.21.0", "keras": "3.13.2"},
            "shadow": {
                "requirements": ["tensorflow==2.20.0", "ai-edge-litert>=2.3"],
                "versions": {"tensorflow": "2.20.0", "keras": "3.12.0"},
            },
        },
        "pytorch": {
            "today": {"torch": "2.13.0", "litert-torch": "0.10.0"},
            "shadow": {"python": "/opt/next/bin/python", "error": "pip could not install it"},
        },
    },
    "variants": [
        {
            "variant": "cnn/int8",
            "status": "worse under the shadow",
            "size": {"today": 12000, "shadow": 11980, "change": -20},
            "ops_added": ["GELU"],
            "ops_removed": [],
            "op_versions_changed": {"CONV_2D": {"today": [3], "shadow": [3, 5]}},
            "runtime": {"today": "2.14.0", "shadow": "2.17.0"},
            "outputs": {
                "data": "test.npz, 40 samples",
                "max_abs_difference": 0.25,
                "top1_agreement": 0.9,
                "accuracy": {"today": 0.95, "shadow": 0.85, "drop": 0.1},
            },
            "today_sha256": "ab",
        },
        {
            "variant": "cnn/float32",
            "status": "fails under the shadow",
            "shadow_error": "boom\nmore",
        },
        {"variant": "jx/float32", "status": "not shadowed", "why": "JAX variants are not shadowed"},
    ],
}


def test_markdown_names_both_toolchains_and_every_variant() -> None:
    text = markdown(DOCUMENT)
    assert (
        "| tensorflow | tensorflow 2.21.0, keras 3.13.2 | tensorflow 2.20.0, keras 3.12.0 " in text
    )
    assert "(requirements tensorflow==2.20.0 ai-edge-litert>=2.3) |" in text
    assert "| pytorch | torch 2.13.0, litert-torch 0.10.0 | cannot be made: pip could not" in text
    assert (
        "| cnn/int8 | worse under the shadow | 12,000 -> 11,980 (-20) | GELU |  | CONV_2D 3 -> 3/5 "
        "| 2.14.0 -> 2.17.0 | max difference 0.25, top-1 agreement 0.9000, "
        "accuracy 0.9500 -> 0.8500 |"
    ) in text
    assert "| cnn/float32 | fails under the shadow: boom more |" in text  # on one line
    assert "| jx/float32 | not shadowed: JAX variants are not shadowed |" in text
    # Every row has as many cells as the header.
    widths = {line.count("|") for line in text.splitlines() if line.startswith("| ")}
    assert widths == {4, 9}


def test_the_html_section_marks_failures_and_what_changed_since() -> None:
    html = section(DOCUMENT, {"cnn/int8"})
    assert html.startswith('<section class="shadow" id="shadow"><h2>Shadow build</h2>')
    assert (
        '<td class="bad">worse under the shadow (today&#x27;s artifact has changed since: '
        "run doit shadow again)</td>"
    ) in html
    assert '<td class="bad" colspan="7">fails under the shadow: boom more</td>' in html
    assert '<td class="muted" colspan="7">not shadowed: JAX variants are not shadowed</td>' in html
    assert "<td>CONV_2D 3 -&gt; 3/5</td>" in html
    assert section(DOCUMENT, set()).count("changed since") == 0

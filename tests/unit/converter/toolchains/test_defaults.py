"""What names a toolchain (its identity from pins), and what a shadow must name to try."""

from __future__ import annotations

from converter.toolchains import defaults
from converter.toolchains.environments import Toolchain


def test_an_identity_comes_from_pins_when_they_name_every_package() -> None:
    pinned = Toolchain("tensorflow", ("tensorflow==2.20.0", "keras==3.15.1", "numpy<3"))
    assert defaults.identity(pinned) == {"tensorflow": "2.20.0", "keras": "3.15.1"}
    nightly = Toolchain("tensorflow", ("tf-nightly==2.23.0.dev1", "keras-nightly==3.16.0.dev2"))
    assert defaults.identity(nightly) == {"tensorflow": "2.23.0.dev1", "keras": "3.16.0.dev2"}
    names = ("tensorflow", "keras", "tf-keras")
    legacy = Toolchain("tensorflow", ("tensorflow==2.20.0", "keras==3.15.1", "tf_keras==2.20.1"))
    assert defaults.identity(legacy, names=names)["tf-keras"] == "2.20.1"


def test_a_shadow_must_name_the_converter_it_tries() -> None:
    assert defaults.shadow_problem(defaults.shadow_of({"requirements": ["tf-nightly"]})) is None
    assert defaults.shadow_problem(defaults.shadow_of({"python": "/opt/tf/bin/python"})) is None
    torch = {"requirements": ["torch==2.13.0", "litert_torch_nightly==0.11.0.dev1"]}
    assert defaults.shadow_problem(defaults.shadow_of(torch, "pytorch")) is None
    problem = defaults.shadow_problem(defaults.shadow_of({"requirements": ["torch==2.13.0"]}))
    assert problem == (
        "the tensorflow shadow's requirements (torch==2.13.0, ai-edge-litert>=2.3, "
        "flatbuffers>=25.2) name no tensorflow or tensorflow-cpu or tf-nightly or "
        "tf-nightly-cpu: the shadow would convert with nothing new"
    )
    bare = defaults.shadow_of({"requirements": ["torch==2.13.0"]}, "pytorch")
    assert defaults.shadow_problem(bare) == (
        "the pytorch shadow's requirements (torch==2.13.0) name no litert-torch or "
        "litert-torch-nightly: the shadow would convert with nothing new"
    )

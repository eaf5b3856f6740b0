"""Settings: pyproject.toml and the TFLITE_BUILD_* variables, read once into one typed table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from converter.execution.worker import DEFAULT_TIMEOUT
from converter.service import client
from rules.build.context import service_config
from rules.cache.settings import settings_for
from rules.cache.stores.http import HttpStore
from rules.errors import RulesError
from rules.project.root import load_project
from rules.project.settings import KEYS, TABLE, VARIABLES, Settings, load_settings, markdown
from tests.support import REPO
from tests.support.project import write_files

PYPROJECT = """\
[tool.tflite-build]
build_dir = "out"
manifests = ["models/**/model.yaml"]
exclude = ["old/**"]
cache = "shared"
cache_read_only = true
cache_max_size = "2GiB"
worker_timeout = 30
worker_memory = "1GB"
measure_latency = "always"
baseline = "main.json"
save_baseline = "main"
daemon = "off"
daemon_idle_timeout = 60
daemon_workers = 3
executor = "dask://scheduler.example:8786"
toolchains = {pytorch = {requirements = ["torch==2.13.0"], pip_args = ["--no-index"]}, jax = {python = "/opt/jax/bin/python"}}
toolchains_dir = "~/toolchains"
shadow = {requirements = ["tensorflow==2.20.0"]}
"""


def settings(root: Path, pyproject: str | None = None, **environ: str) -> Settings:
    if pyproject is not None:
        write_files(root, {"pyproject.toml": pyproject})
    return load_settings(root, environ)


def problems(root: Path, pyproject: str | None = None, **environ: str) -> list[str]:
    with pytest.raises(RulesError) as raised:
        settings(root, pyproject, **environ)
    return str(raised.value).splitlines()


def test_defaults_without_a_pyproject(tmp_path: Path) -> None:
    found = settings(tmp_path)
    assert found == Settings()
    assert found.build_dir == "build" and found.manifests == ("**/model.yaml",)
    assert found.cache == found.local_cache == "~/.cache/tflite-build"
    assert found.cache_max_size == 10 * 10**9 and found.worker_timeout == DEFAULT_TIMEOUT
    assert (found.shard, found.baseline, found.worker_memory) == (None, None, None)
    assert found.cache_options == {} and found.cache_read_only is False
    assert (found.daemon, found.daemon_workers, found.daemon_dir, found.ci) == (
        "auto",
        None,
        None,
        None,
    )
    assert found.daemon_on and found.daemon_idle_timeout == client.DEFAULT_IDLE_TIMEOUT


def test_every_key_is_read_and_typed(tmp_path: Path) -> None:
    found = settings(tmp_path, PYPROJECT)
    assert found == Settings(
        build_dir="out",
        manifests=("models/**/model.yaml",),
        exclude=("old/**",),
        cache="shared",
        cache_read_only=True,
        cache_max_size=2 * 2**30,
        worker_timeout=30.0,
        worker_memory=10**9,
        measure_latency="always",
        baseline="main.json",
        save_baseline="main",
        daemon="off",
        daemon_idle_timeout=60.0,
        daemon_workers=3,
        executor="dask://scheduler.example:8786",
        toolchains={
            "pytorch": {
                "requirements": ("torch==2.13.0",),
                "python": None,
                "pip_args": ("--no-index",),
            },
            "jax": {"requirements": (), "python": "/opt/jax/bin/python", "pip_args": ()},
        },
        toolchains_dir="~/toolchains",
        shadow={
            "tensorflow": {"requirements": ("tensorflow==2.20.0",), "python": None, "pip_args": ()}
        },
    )
    assert set(KEYS) == {line.split(" = ")[0] for line in PYPROJECT.splitlines()[1:]}


def test_a_variable_wins_over_its_key_and_an_empty_one_is_unset(tmp_path: Path) -> None:
    found = settings(
        tmp_path,
        PYPROJECT,
        TFLITE_BUILD_CACHE="s3://bucket/cache",
        TFLITE_BUILD_CACHE_READ_ONLY="no",
        TFLITE_BUILD_MEASURE_LATENCY="budgets",
        TFLITE_BUILD_BASELINE="cache:main",
        TFLITE_BUILD_SAVE_BASELINE="",
        TFLITE_BUILD_SHARD="2/4",
        TFLITE_BUILD_LOCAL_CACHE="/tmp/local",
        TFLITE_BUILD_CACHE_OPTIONS='{"endpoint_url": "http://127.0.0.1:9000"}',
        TFLITE_BUILD_MANIFESTS=" **/model.yaml, extra/*.yaml ,",
    )
    assert (found.cache, found.cache_read_only, found.measure_latency) == (
        "s3://bucket/cache",
        False,
        "budgets",
    )
    assert (found.baseline, found.save_baseline, found.shard) == ("cache:main", "main", (2, 4))
    assert found.local_cache == "/tmp/local"
    assert found.cache_options == {"endpoint_url": "http://127.0.0.1:9000"}
    assert found.manifests == ("**/model.yaml", "extra/*.yaml")


def test_every_bad_value_is_a_located_problem_all_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # problems name files relative to where doit runs
    pyproject = (
        "[tool.tflite-build]\nbuild_dir = ''\nmanifests = 'x'\ncache_read_only = 'yes'\n"
        "worker_timeout = 0\nworker_memory = '0GB'\nmeasure_latncy = 'always'\n"
    )
    assert problems(
        tmp_path,
        pyproject,
        TFLITE_BUILD_CACHE_READ_ONLY="maybe",
        TFLITE_BUILD_CACHE_OPTIONS='{"secret": "hunter2"',
        TFLITE_BUILD_MEASURE_LATENCY="sometimes",
        TFLITE_BUILD_SHARD="4/3",
    ) == [
        "pyproject.toml: tool.tflite-build -> measure_latncy: unknown setting; did you mean "
        "'measure_latency'? (valid: " + ", ".join(KEYS) + ")",
        "pyproject.toml: tool.tflite-build -> build_dir: expected a string; got ''",
        "pyproject.toml: tool.tflite-build -> manifests: expected a list of globs; got 'x'",
        "pyproject.toml: tool.tflite-build -> cache_read_only: expected true or false; got 'yes'",
        "TFLITE_BUILD_CACHE_READ_ONLY='maybe': expected one of 1, true, yes, on, 0, false, no, off",
        'TFLITE_BUILD_CACHE_OPTIONS: expected a JSON object, e.g. {"endpoint_url": "..."}',
        "pyproject.toml: tool.tflite-build -> worker_timeout: expected seconds > 0; got 0",
        "pyproject.toml: tool.tflite-build -> worker_memory: expected a size like 16GB; got '0GB'",
        "TFLITE_BUILD_MEASURE_LATENCY='sometimes': expected one of budgets, always",
        "TFLITE_BUILD_SHARD='4/3': expected K/N with 1 <= K <= N, e.g. 2/4",
    ]


def test_a_bad_variable_is_located_at_the_variable_not_the_key(tmp_path: Path) -> None:
    """The file's measure_latency is fine: the problem is the variable's, and says so."""
    assert problems(
        tmp_path,
        "[tool.tflite-build]\nmeasure_latency = 'always'\n",
        TFLITE_BUILD_MEASURE_LATENCY="x",
    ) == ["TFLITE_BUILD_MEASURE_LATENCY='x': expected one of budgets, always"]


def test_pyproject_that_is_not_toml_or_not_a_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (only,) = problems(tmp_path, "[tool.tflite-build\n")
    assert only.startswith("pyproject.toml: not valid TOML: ")
    assert problems(tmp_path, "[tool]\ntflite-build = 3\n") == [
        "pyproject.toml: tool.tflite-build: expected a table; got 3"
    ]


def test_secrets_are_never_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found = settings(
        tmp_path,
        TFLITE_BUILD_CACHE_USER="alice",
        TFLITE_BUILD_CACHE_PASSWORD="hunter2",
        TFLITE_BUILD_CACHE_TOKEN="t0ken",
        TFLITE_BUILD_CACHE_OPTIONS='{"secret": "s3cret"}',
    )
    assert (found.cache_user, found.cache_password, found.cache_token) == (
        "alice",
        "hunter2",
        "t0ken",
    )
    for secret in ("alice", "hunter2", "t0ken", "s3cret"):
        assert secret not in repr(found)
    monkeypatch.setenv("TFLITE_BUILD_CACHE", "http://127.0.0.1:1/cache")
    monkeypatch.setenv("TFLITE_BUILD_CACHE_TOKEN", "t0ken")
    cache = settings_for(load_project(tmp_path))
    assert "t0ken" not in repr(cache) and "t0ken" not in cache.describe()


def test_the_cache_takes_its_values_from_the_settings_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFLITE_BUILD_CACHE", "http://127.0.0.1:1/cache")
    monkeypatch.setenv("TFLITE_BUILD_LOCAL_CACHE", "local")
    monkeypatch.setenv("TFLITE_BUILD_CACHE_READ_ONLY", "1")
    monkeypatch.setenv("TFLITE_BUILD_CACHE_TOKEN", "first")
    project = load_project(tmp_path)
    monkeypatch.setenv("TFLITE_BUILD_CACHE_TOKEN", "changed later")  # read once: ignored
    monkeypatch.setenv("TFLITE_BUILD_CACHE_READ_ONLY", "0")
    cache = settings_for(project)
    assert (cache.local, cache.remote, cache.read_only) == (
        tmp_path / "local",
        "http://127.0.0.1:1/cache",
        True,
    )
    assert cache.max_size == project.settings.cache_max_size == 10 * 10**9
    store = HttpStore(cache.remote or "", cache.timeout, cache.access)
    assert store.headers["Authorization"] == "Bearer first"


def test_the_project_keeps_the_names_other_modules_read(tmp_path: Path) -> None:
    write_files(tmp_path, {"pyproject.toml": PYPROJECT})
    project = load_project(tmp_path)
    assert project.build_dir == tmp_path.resolve() / "out"
    assert (project.baseline, project.save_baseline, project.measure_latency) == (
        "main.json",
        "main",
        "always",
    )
    assert (project.limits.timeout, project.limits.memory_mb) == (30.0, 10**9 / 2**20)


def test_the_readme_shows_the_table() -> None:
    readme = (REPO / "README.md").read_text()
    assert markdown() in readme, (
        "README.md's settings table: paste rules.project.settings.markdown()"
    )
    mentioned = set(re.findall(r"\bTFLITE_BUILD_[A-Z_]+\b", readme))
    assert mentioned == {v for v in VARIABLES if v.startswith("TFLITE_BUILD_")}


def test_no_other_module_reads_the_environment() -> None:
    """rules.project.settings is the one reader: the rest take their values from Settings."""
    readers = [
        path.relative_to(REPO).as_posix()
        for path in sorted((REPO / "rules").rglob("*.py"))
        if re.search(r"os\.environ|getenv|TFLITE_BUILD_", path.read_text())
    ]
    assert readers == ["rules/project/settings.py"]


def test_every_row_states_its_kind_default_and_meaning() -> None:
    assert [s.name for s in TABLE] == list(Settings.__dataclass_fields__)
    for row in TABLE:
        assert row.meaning and row.kind.name and (row.key or row.variable), row.name
        # CI is the one variable we read that is not ours (the service is off under it).
        assert row.variable in (None, "CI") or row.variable.startswith("TFLITE_BUILD_"), row.name


@pytest.mark.parametrize(
    ("pyproject", "environ", "on"),
    [
        ("", {}, True),  # auto, interactive
        ("", {"CI": "true"}, False),  # auto under CI: no process left behind
        ("", {"CI": "1", "TFLITE_BUILD_DAEMON": "on"}, True),
        ("", {"CI": "false"}, True),  # a CI variable that says no is not CI
        ("daemon = 'off'\n", {}, False),
        ("daemon = true\n", {"CI": "1"}, True),
        ("daemon = 'on'\n", {"TFLITE_BUILD_DAEMON": "Auto", "CI": "yes"}, False),
        ("daemon = 'on'\n", {"TFLITE_BUILD_DAEMON": "0"}, False),
    ],
)
def test_the_daemon_is_on_unless_ci_says_otherwise(
    tmp_path: Path, pyproject: str, environ: dict[str, str], on: bool
) -> None:
    found = settings(tmp_path, f"[tool.tflite-build]\n{pyproject}", **environ)
    assert found.daemon_on is on


def test_bad_daemon_settings_are_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pyproject = "[tool.tflite-build]\ndaemon_workers = 0\ndaemon_idle_timeout = -1\n"
    assert problems(tmp_path, pyproject, TFLITE_BUILD_DAEMON="sometimes") == [
        "TFLITE_BUILD_DAEMON='sometimes': expected one of on, off, auto",
        "pyproject.toml: tool.tflite-build -> daemon_idle_timeout: expected seconds > 0; got -1",
        "pyproject.toml: tool.tflite-build -> daemon_workers: expected a whole number >= 1; got 0",
    ]


def test_the_service_config_comes_from_the_settings(tmp_path: Path) -> None:
    found = settings(
        tmp_path,
        "[tool.tflite-build]\ndaemon_workers = 2\ndaemon_idle_timeout = 30\n",
        TFLITE_BUILD_DAEMON_DIR=str(tmp_path / "service"),
    )
    config = service_config(found)
    assert (config.directory, config.workers, config.idle_timeout) == (
        tmp_path / "service",
        2,
        30.0,
    )
    assert service_config(Settings()) == client.ServiceConfig()


@pytest.mark.parametrize(
    "table",
    [
        '{pytorch = {requirements = ["torch"], python = "/usr/bin/python3"}}',  # one or the other
        '{pytorch = {requirement = ["torch"]}}',  # an unknown key
        '{pytorch = {requirements = "torch"}}',  # not a list
        '{pytorch = {python = ""}}',
        '["pytorch"]',
    ],
)
def test_a_bad_toolchain_table_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (found,) = problems(tmp_path, f"[tool.tflite-build]\ntoolchains = {table}\n")
    assert found.startswith(
        "pyproject.toml: tool.tflite-build -> toolchains: expected a table per toolchain: "
        "[tool.tflite-build.toolchains.<kind>] with requirements = [...]"
    ), found


def test_a_shadow_per_kind_from_the_table_or_the_variable(tmp_path: Path) -> None:
    torch = ("torch==2.13.0", "litert-torch-nightly==0.11.0.dev20261026")
    both = settings(
        tmp_path,
        "[tool.tflite-build.shadow]\nrequirements = ['tensorflow==2.20.0']\n"
        "[tool.tflite-build.shadow.pytorch]\n"
        f"requirements = {list(torch)!r}\npip_args = ['--pre']\n",
    )
    assert both.shadow == {
        "tensorflow": {"requirements": ("tensorflow==2.20.0",), "python": None, "pip_args": ()},
        "pytorch": {"requirements": torch, "python": None, "pip_args": ("--pre",)},
    }
    text = settings(
        tmp_path,
        None,
        TFLITE_BUILD_SHADOW=f"pytorch: {', '.join(torch)}; tensorflow==2.20.0",
    )
    assert text.shadow is not None and set(text.shadow) == {"pytorch", "tensorflow"}
    assert text.shadow["pytorch"]["requirements"] == torch


def test_a_shadow_of_an_unknown_kind_or_of_nothing_is_refused(tmp_path: Path) -> None:
    for pyproject in (
        "[tool.tflite-build.shadow.jax]\nrequirements = ['jax==0.9']\n",
        "[tool.tflite-build.shadow.pytorch]\n",
        "[tool.tflite-build.shadow]\nrequirements = ['tensorflow==2.20.0']\n"
        "[tool.tflite-build.shadow.tensorflow]\nrequirements = ['tensorflow==2.19.0']\n",
    ):
        (problem,) = problems(tmp_path, pyproject)
        assert "tool.tflite-build -> shadow: expected a table" in problem, problem
    (tmp_path / "pyproject.toml").unlink()
    for text in ("jax: jax==0.9", "{requirements = 5}", "tensorflow==2.20.0; tensorflow==2.19.0"):
        (problem,) = problems(tmp_path, None, TFLITE_BUILD_SHADOW=text)
        assert problem.startswith(f"TFLITE_BUILD_SHADOW={text!r}: expected requirements")
    found = settings(tmp_path, None, TFLITE_BUILD_SHADOW="tf-nightly, keras[tf]>=3.1 numpy<3")
    assert found.shadow is not None
    assert found.shadow["tensorflow"]["requirements"] == ("tf-nightly", "keras[tf]>=3.1", "numpy<3")

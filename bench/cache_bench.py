"""Benchmark: example_project from a fresh clone, cold against a warm cache (local, and S3).

Target (the design): a fresh clone with a warm cache builds at least 20x faster
than a cold build, and TensorFlow is never imported.

1. Cold: ``git clone`` of HEAD, an empty cache, ``python -m doit convert`` at the
   clone's root (which builds example_project: training, exports, 20 conversions).
2. Warm local: a new clone each time, pointed at the cache the cold build filled.
3. Warm S3: moto's S3-compatible server on loopback holds the same entries; a new
   clone each time with an empty local cache and only the S3 remote.

4. Reports: ``python -m doit summary`` in a fresh clone with an empty cache
   (training, exports, conversions, every report measured: the source models run
   in TensorFlow), against a fresh clone pointed at the cache that run filled:
   every artifact and every report's measurements from the cache.

Every warm build must take all 20 variants from the cache, produce the cold
build's bytes, and (checked once per kind, in a probe process) import no
TensorFlow; every warm summary must take all 20 reports from the cache, run none
of the project's own tasks, write the cold run's reports byte for byte, and
import no TensorFlow. Timings are whole processes, spawn to exit; medians of
--reps.

    .venv/bin/python bench/cache_bench.py [--reps N] [--cold-reps N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from common import (
    PYTHON,
    REPO,
    WORK,
    Check,
    Timed,
    checks_table,
    load_average,
    machine_lines,
    median,
    run_timed,
    runs,
    update_results,
    verdict,
)

HERE = WORK / "cache"
BUCKET = "tflite-bench"
VARIANTS = 20
PROBE = (
    "import runpy, sys\n"
    "from doit.cmd_base import ModuleTaskLoader\n"
    "from doit.doit_cmd import DoitMain\n"
    "code = DoitMain(ModuleTaskLoader(runpy.run_path('dodo.py'))).run([sys.argv[1]])\n"
    "print('PROBE', code, 'tensorflow' in sys.modules)\n"
)


def fresh_clone(name: str) -> Path:
    target = HERE / name
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(target)], check=True)
    return target


def artifacts(clone: Path) -> dict[str, bytes]:
    build = clone / "example_project" / "build"
    return {
        p.relative_to(build).as_posix(): p.read_bytes() for p in sorted(build.rglob("*.tflite"))
    }


def build(clone: Path, env: dict[str, str], task: str = "convert") -> Timed:
    result = run_timed([PYTHON, "-m", "doit", task], clone, env)
    if result.returncode != 0:
        raise SystemExit(f"doit {task} failed in {clone}:\n{result.output[-3000:]}")
    return result


def reports(clone: Path) -> dict[str, bytes]:
    build_dir = clone / "example_project" / "build"
    found = [*build_dir.rglob("*.report.json"), *build_dir.glob("summary.*")]
    return {p.relative_to(build_dir).as_posix(): p.read_bytes() for p in sorted(found)}


def check_warm_summary(result: Timed, clone: Path, reference: dict[str, bytes]) -> None:
    cached = result.output.count("(measurements from the cache)")
    if cached != VARIANTS:
        raise SystemExit(
            f"{cached} of {VARIANTS} reports came from the cache:\n{result.output[-2000:]}"
        )
    executed = [
        line
        for line in result.output.splitlines()
        if line.startswith(".  ") and not line[3:].startswith(("report:", "summary"))
    ]
    if executed:
        raise SystemExit(f"a warm summary ran tasks: {executed}")
    if reports(clone) != reference:
        raise SystemExit("a warm summary's reports differ from the cold run's")


def environment(cache: str, local: Path | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TFLITE_BUILD_")}
    env["TFLITE_BUILD_CACHE"] = cache
    if local is not None:
        env["TFLITE_BUILD_LOCAL_CACHE"] = str(local)
    env.update(extra)
    return env


def check_warm(result: Timed, clone: Path, reference: dict[str, bytes], remote: bool) -> None:
    expected = f"0 built, {VARIANTS} from cache" + (f" ({VARIANTS} remote)" if remote else "")
    if expected not in result.output:
        raise SystemExit(f"expected '{expected}' in:\n{result.output[-2000:]}")
    executed = [line for line in result.output.splitlines() if line.startswith(".  ")]
    if executed:
        raise SystemExit(f"a warm build ran tasks: {executed}")
    if artifacts(clone) != reference:
        raise SystemExit("a warm build's artifacts differ from the cold build's")


def probe_imports(env: dict[str, str], name: str, task: str = "convert") -> bool:
    """Run ``task`` in one more fresh clone inside a probe; True when TensorFlow stayed out."""
    clone = fresh_clone(name)
    out = subprocess.run(
        [PYTHON, "-c", PROBE, task], cwd=clone, env=env, capture_output=True, text=True
    )
    return out.stdout.strip().endswith("PROBE 0 False")


def upload(local_cache: Path, endpoint: str) -> int:
    """Copy a local cache into the bucket in the remote layout (ac/<key>, cas/<sha256>)."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    count = 0
    for kind in ("ac", "cas"):
        for path in (local_cache / kind).glob("*/*"):
            s3.put_object(Bucket=BUCKET, Key=f"cache/{kind}/{path.name}", Body=path.read_bytes())
            count += 1
    return count


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="warm builds per kind")
    parser.add_argument("--cold-reps", type=int, default=2, help="cold builds")
    args = parser.parse_args(argv)
    HERE.mkdir(parents=True, exist_ok=True)
    before = load_average()

    cold: list[float] = []
    for i in range(args.cold_reps):
        cache = HERE / f"cold-cache-{i}"
        shutil.rmtree(cache, ignore_errors=True)
        clone = fresh_clone("cold")
        result = build(clone, environment(str(cache)))
        if f"{VARIANTS} built" not in result.output:
            raise SystemExit(
                f"the cold build did not convert all {VARIANTS}:\n{result.output[-2000:]}"
            )
        cold.append(result.seconds)
        print(f"cold build {i + 1}: {result.seconds:.1f} s", flush=True)
    warm_cache = HERE / f"cold-cache-{args.cold_reps - 1}"
    reference = artifacts(HERE / "cold")

    local: list[float] = []
    for _ in range(args.reps):
        clone = fresh_clone("warm-local")
        result = build(clone, environment(str(warm_cache)))
        check_warm(result, clone, reference, remote=False)
        local.append(result.seconds)
    local_tf_free = probe_imports(environment(str(warm_cache)), "probe-local")
    print(f"warm local: {runs(local)}", flush=True)

    from moto.server import ThreadedMotoServer

    sys.path.insert(0, str(REPO))  # the tests package: its servers
    from tests.support.servers import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    credentials = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    os.environ.update(credentials)
    try:
        objects = upload(warm_cache, endpoint)
        options = json.dumps({"endpoint_url": endpoint})
        remote: list[float] = []
        for _ in range(args.reps):
            empty = HERE / "empty-local"
            shutil.rmtree(empty, ignore_errors=True)
            clone = fresh_clone("warm-s3")
            env = environment(
                f"s3://{BUCKET}/cache", empty, TFLITE_BUILD_CACHE_OPTIONS=options, **credentials
            )
            result = build(clone, env)
            check_warm(result, clone, reference, remote=True)
            remote.append(result.seconds)
        shutil.rmtree(HERE / "empty-local", ignore_errors=True)
        env = environment(
            f"s3://{BUCKET}/cache",
            HERE / "empty-local",
            TFLITE_BUILD_CACHE_OPTIONS=options,
            **credentials,
        )
        s3_tf_free = probe_imports(env, "probe-s3")
    finally:
        server.stop()
    print(f"warm S3: {runs(remote)}", flush=True)

    summary_cache = HERE / "summary-cache"
    shutil.rmtree(summary_cache, ignore_errors=True)
    cold_summary = build(fresh_clone("cold-summary"), environment(str(summary_cache)), "summary")
    print(f"cold summary: {cold_summary.seconds:.1f} s", flush=True)
    reference_reports = reports(HERE / "cold-summary")
    warm_summary: list[float] = []
    for _ in range(args.reps):
        clone = fresh_clone("warm-summary")
        result = build(clone, environment(str(summary_cache)), "summary")
        check_warm_summary(result, clone, reference_reports)
        warm_summary.append(result.seconds)
    summary_tf_free = probe_imports(environment(str(summary_cache)), "probe-summary", "summary")
    print(f"warm summary: {runs(warm_summary)}", flush=True)
    ratio_summary = cold_summary.seconds / median(warm_summary)

    ratio_local = median(cold) / median(local)
    ratio_s3 = median(cold) / median(remote)
    checks = [
        Check("cold / warm local", f"{ratio_local:.0f}x", ">= 20x", ratio_local >= 20),
        Check("cold / warm S3", f"{ratio_s3:.0f}x", ">= 20x", ratio_s3 >= 20),
        Check(
            "reports: cold / warm `doit summary`",
            f"{ratio_summary:.0f}x",
            ">= 20x",
            ratio_summary >= 20,
        ),
        Check("no TensorFlow in a warm build (local, S3)", "", "", local_tf_free and s3_tf_free),
        Check("no TensorFlow in a warm summary", "", "", summary_tf_free),
    ]
    section = "\n".join(
        [
            "## cache_bench: example_project from a fresh clone, cold against a warm cache",
            "",
            "Reproduce from the repository root: `.venv/bin/python bench/cache_bench.py`",
            "",
            *machine_lines(before),
            f"- Each build: `git clone` of HEAD, then `python -m doit convert` at its root "
            f"(example_project: training and export tasks, {VARIANTS} conversions); whole processes, "
            "spawn to exit. Warm S3: moto's S3 server on loopback holding the cold build's "
            f"{objects} cache objects, an empty local cache each time.",
            "",
            "| build | median (s) | runs (s) |",
            "| --- | ---: | --- |",
            f"| cold (empty cache) | {median(cold):.2f} | {runs(cold)} |",
            f"| fresh clone, warm local cache | {median(local):.2f} | {runs(local)} |",
            f"| fresh clone, warm S3 cache only | {median(remote):.2f} | {runs(remote)} |",
            f"| `doit summary`, cold (empty cache) | {cold_summary.seconds:.2f} | "
            f"{cold_summary.seconds:.2f} |",
            f"| `doit summary`, fresh clone, warm local cache | {median(warm_summary):.2f} | "
            f"{runs(warm_summary)} |",
            "",
            *checks_table("ratio", "value", checks[:3]),
            "",
            f"- Every warm build took all {VARIANTS} variants from the cache, ran no training or "
            "export task, and wrote the cold build's bytes: yes",
            f"- TensorFlow imported by a warm build (probe process): local "
            f"{'no' if local_tf_free else 'YES'}, S3 {'no' if s3_tf_free else 'YES'} "
            f"({verdict(local_tf_free and s3_tf_free)})",
            f"- Every warm `doit summary` took all {VARIANTS} reports' measurements from the "
            "cache, ran none of the project's tasks (no training) and wrote the cold run's "
            "reports and summary byte for byte: yes; TensorFlow imported (probe process): "
            f"{'no' if summary_tf_free else 'YES'} ({verdict(summary_tf_free)})",
        ]
    )
    update_results("cache_bench", section)
    print(section)
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""ci/bench.yml, the GitHub Actions workflow that fans `kzt bench` out:
valid YAML, plan -> shards -> merge, and a matrix that covers exactly the
shards 1..N of the plan it names (each of which has a block to run)."""
from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml

from kzt import cli
from kzt.bench import loop
from kzt.bench.plan import BenchRequest, Shard
from kzt.layout import Layout

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / "ci" / "bench.yml"


def workflow() -> dict[str, Any]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(doc, dict)
    return doc


def runs(job: dict[str, Any]) -> str:
    return "\n".join(str(s.get("run", "")) for s in job["steps"])


def uses(job: dict[str, Any]) -> list[str]:
    return [str(s["uses"]).split("@")[0] for s in job["steps"] if "uses" in s]


def test_the_workflow_is_yaml_with_plan_shards_and_merge() -> None:
    doc = workflow()
    on = doc.get("on", doc.get(True))           # YAML 1.1 reads a bare `on` as true
    assert "workflow_dispatch" in on
    jobs = doc["jobs"]
    assert set(jobs) == {"plan", "shard", "merge"}
    assert jobs["shard"]["needs"] == "plan" and jobs["merge"]["needs"] == "shard"
    assert "actions/upload-artifact" in uses(jobs["plan"])
    assert "actions/download-artifact" in uses(jobs["shard"])
    assert "actions/upload-artifact" in uses(jobs["shard"])
    assert "actions/download-artifact" in uses(jobs["merge"])
    assert "kzt bench --plan --json" in runs(jobs["plan"])
    assert "./kzt build" in runs(jobs["plan"])
    shard_run = runs(jobs["shard"])
    assert '--shard "${{ matrix.shard }}/$KZT_BENCH_SHARDS"' in shard_run
    # every shard benches the one image the plan job built (merge compares image hashes)
    assert "--kernel bench-plan/image/bzImage" in shard_run
    assert "./kzt bench merge shards/*" in runs(jobs["merge"])
    for job in jobs.values():
        assert job["timeout-minutes"] > 0                 # nothing waits forever


def test_the_matrix_covers_exactly_the_shards_of_its_plan() -> None:
    doc = workflow()
    env = doc["env"]
    n = int(env["KZT_BENCH_SHARDS"])
    assert doc["jobs"]["shard"]["strategy"]["matrix"]["shard"] == list(range(1, n + 1))
    assert doc["jobs"]["shard"]["strategy"]["fail-fast"] is False
    args = cli.parser().parse_args(["bench", *shlex.split(env["KZT_BENCH_ARGS"]),
                                    "--seed", "1", "--clock", "wall"])
    words = tuple(w for w in (args.configs or "").split(",") if w)
    wl = tuple(w for w in (args.workloads or "").split(",") if w)
    layout = Layout(REPO)
    blocks: set[int] = set()
    for k in range(1, n + 1):
        req = BenchRequest(args.quick, args.reps, words, wl, seed=1, shard=Shard(k, n))
        plan = loop.plan_of(layout, req)       # refuses a shard without a block
        mine = {p.block for p in plan.runs(req.shard)}
        assert mine and not mine & blocks
        blocks |= mine
    assert blocks == {b.id for b in plan.blocks()}

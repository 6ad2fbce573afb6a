"""The Ray executor on a real local cluster (2 CPUs) with the tiny model: same results as the local executor, and a
worker killed mid-run costs a retry, not a result. Skipped when Ray is not installed (`pip install ray`)."""

import json
import os
import signal
from collections import Counter

import pytest

from seal.utils.imports import is_ray_available

pytestmark = [pytest.mark.ray, pytest.mark.skipif(not is_ray_available(), reason="Ray is not installed (pip install ray)")]

PASSAGES = [
    {"title": "Tor", "context": "Tor is a harbour town with 12 bridges. It was founded in 1201 by Ama Venn.",
     "questions": [{"question": "How many bridges does Tor have?", "answer": "12"},
                   {"question": "Who founded Tor?", "answer": "Ama Venn"}],
     "completions": ["Tor has twelve bridges.\nAma Venn founded Tor.", "Tor is old."]},
    {"title": "Quelm", "context": "Quelm is a red mineral mined on Pell island since 1750.",
     "questions": [{"question": "What colour is Quelm?", "answer": "red"}],
     "completions": ["Quelm is red.", "Quelm comes from Pell."]},
]


@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=128 * 1024**2, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def passages_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ray") / "passages.json"
    path.write_text(json.dumps(PASSAGES))
    return path


def config(passages_file, root, kind: str, seeds: int = 1):
    from seal.config import load_config
    from seal.domains.knowledge.config import KnowledgeConfig

    return load_config(KnowledgeConfig, None, [
        "model.name=tiny-llama", f"data.source={passages_file}", "eval.conditions=[base, passage, external]",
        f"eval.external_file={passages_file}", "self_edit.k=2", "inner.epochs=2", f"inner.seeds={seeds}", "inner.lora.r=4",
        "quiz.max_new_tokens=8", f"run.root={root}", f"executor.kind={kind}", "executor.num_workers=2"])


def inner_results(cfg) -> dict:
    from seal.config import to_dict
    from seal.domains.knowledge.plugin import KnowledgePlugin
    from seal.recipes.eval import run_eval
    from seal.store.runs import create_run

    run = create_run(cfg.run.root, "knowledge eval", cfg.executor.kind, to_dict(cfg), argv=[])
    run_eval(run, cfg, KnowledgePlugin())
    return {r["key"]: (r["score"], r["details"]["predictions"], r["details"].get("train", {}).get("final_loss"))
            for r in run.store.rows("inner_results")}


def test_ray_matches_local(ray_cluster, passages_file, tmp_path):
    local = inner_results(config(passages_file, tmp_path / "runs", "local"))
    ray = inner_results(config(passages_file, tmp_path / "runs", "ray"))
    assert len(local) == 2 + 2 + 2 * 2 and set(ray) == set(local)  # base, passage, external (2 edits) per passage
    for key in local:
        assert ray[key][:2] == local[key][:2], key
        loss = local[key][2]  # None for base rows; workers use 1 torch thread, so losses agree to rounding
        assert ray[key][2] == (loss if loss is None else pytest.approx(loss, rel=1e-4)), key


def test_killed_worker_is_replaced_and_every_result_recorded_once(ray_cluster, passages_file, tmp_path):
    from seal.domains.knowledge.data import load_passages
    from seal.domains.knowledge.domain import from_spec
    from seal.executors import Job
    from seal.executors.base import record
    from seal.executors.ray import RayExecutor
    from seal.store import Store

    cfg = config(passages_file, tmp_path / "runs", "ray", seeds=2)
    domain = from_spec(cfg, "tiny-llama")
    passages = load_passages(str(passages_file))
    jobs = [Job(f"kill/{p.id}/{i}/s{seed}", p, p_edit, seed, "external")
            for p, raw in zip(passages, PASSAGES) for i, p_edit in enumerate(raw["completions"]) for seed in range(2)]
    store = Store(tmp_path / "seal.db")
    executor = RayExecutor(cfg.executor, domain)
    executor.start()
    first_pids = set(executor.worker_pids())
    calls, killed = Counter(), []

    def on_result(job, outcome):
        if not killed:  # the other worker is mid-job now: kill its process
            killed.extend(executor.busy_pids())
            for pid in killed:
                os.kill(pid, signal.SIGKILL)
        calls[job.key] += 1
        record(store, domain, job, outcome)

    try:
        executor.run(jobs, on_result)
        assert killed and executor.retries >= 1 and executor.restarts >= 1
        assert not set(executor.worker_pids()) & set(killed) and set(executor.worker_pids()) != first_pids
        assert calls == Counter({j.key: 1 for j in jobs})
        rows = store.rows("inner_results")
        assert sorted(r["key"] for r in rows) == sorted(j.key for j in jobs)
        executor.run(jobs[:2], on_result)  # the pool is reused across calls
        assert calls[jobs[0].key] == 2 and executor.restarts == len(killed)
    finally:
        executor.close()
    assert executor.workers == []


def test_arc_eval_on_ray_matches_local(ray_cluster, tmp_path):
    """The ARC domain rebuilds on Ray actors from its spec too: icl and oracle TTT give the local executor's rows."""
    from seal.config import LoraConfig, ModelConfig, RunConfig, to_dict
    from seal.domains.arc.config import ArcConfig, ArcDataConfig, ArcEvalConfig, ArcSolveConfig, ArcTTTConfig
    from seal.executors import ExecutorConfig
    from seal.domains.arc.plugin import ArcPlugin
    from seal.recipes.eval import run_eval
    from seal.store.runs import create_run

    task = {"train": [{"input": [[c, c]], "output": [[5]]} for c in (1, 2, 3)], "test": [{"input": [[4, 4]]}]}
    (tmp_path / "toy_challenges.json").write_text(json.dumps({"aaaa0001": task, "bbbb0002": task}))
    (tmp_path / "toy_solutions.json").write_text(json.dumps({"aaaa0001": [[[5]]], "bbbb0002": [[[5]]]}))

    def rows(kind):
        cfg = ArcConfig(run=RunConfig(root=str(tmp_path / "runs")), model=ModelConfig(name="tiny-llama", device="cpu"),
                        data=ArcDataConfig(source=str(tmp_path / "toy_challenges.json")),
                        ttt=ArcTTTConfig(lora=LoraConfig(r=4, alpha=8), max_examples=4),
                        solve=ArcSolveConfig(views=("Identity()",)), eval=ArcEvalConfig(conditions=("icl", "oracle")),
                        executor=ExecutorConfig(kind=kind, num_workers=2))
        run = create_run(cfg.run.root, "arc eval", kind, to_dict(cfg), argv=[])
        run_eval(run, cfg, ArcPlugin())
        return {r["key"]: (r["reward"], json.dumps(r["details"], sort_keys=True)) for r in run.store.rows("inner_results")}

    local, ray = rows("local"), rows("ray")
    assert len(local) == 4 and ray == local


def test_executor_bench_runs_the_same_loops_everywhere(ray_cluster, passages_file, tmp_path):
    from seal.config import to_dict
    from seal.bench.executors import format_executor_bench, run_executor_bench
    from seal.store.runs import create_run

    cfg = config(passages_file, tmp_path / "runs", "local")
    run = create_run(cfg.run.root, "bench inner-loop", "executors", to_dict(cfg), argv=[])
    results = run_executor_bench(run, cfg, 4, ("local", "ray-2"))
    assert json.loads((run.dir / "bench.json").read_text())["setups"].keys() == {"local", "ray-2"}
    assert all(r["same_scores"] for r in results["setups"].values())
    assert results["setups"]["ray-2"]["workers"] == 2 and results["setups"]["local"]["speedup"] == 1.0
    assert "ray-2" in format_executor_bench(results)

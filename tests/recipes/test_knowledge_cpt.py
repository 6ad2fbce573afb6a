"""Continued pretraining on a tiny model: both modes end to end, the pooled corpus, exact restoration of the base
weights between conditions, and resume."""

import copy
import doctest
import json

import pytest
import torch

import seal.recipes.knowledge_cpt as cpt_module
from seal.config import InnerConfig, load_config, to_dict
from seal.domains.knowledge.config import KnowledgeConfig
from seal.domains.knowledge.data import Passage
from seal.inner.full import FullAdapter
from seal.recipes.knowledge_cpt import cpt_documents, cpt_inner, format_cpt, run_cpt
from seal.store.runs import create_run

PASSAGES = [
    {"title": "Tor", "context": "Tor is a harbour town with 12 bridges. It was founded in 1201 by Ama Venn.",
     "questions": [{"question": "How many bridges does Tor have?", "answer": "12"},
                   {"question": "Who founded Tor?", "answer": "Ama Venn"}],
     "completions": ["Tor has twelve bridges.\nAma Venn founded Tor.", "Tor is old."]},
    {"title": "Quelm", "context": "Quelm is a red mineral mined on Pell island since 1750.",
     "questions": [{"question": "What colour is Quelm?", "answer": "red"}],
     "completions": ["Quelm is red.", "Quelm comes from Pell."]},
    {"title": "Brill", "context": "Brill is a river that floods every April.",
     "questions": [{"question": "When does the Brill flood?", "answer": "April"}],
     "completions": ["The Brill floods in April.", "April floods."]},
]
TINY = ["model.name=tiny-llama", "self_edit.k=2", "self_edit.max_new_tokens=12", "quiz.max_new_tokens=6",
        "cpt.epochs=1", "cpt.lora.r=4", "model.threads=1"]


def make_run(tmp_path, mode: str, extra=()):
    data = tmp_path / "passages.json"
    data.write_text(json.dumps(PASSAGES))
    cfg = load_config(KnowledgeConfig, None, [*TINY, f"data.source={data}", f"cpt.mode={mode}",
                                              "eval.conditions=[base, passage, self-edit, external]",
                                              f"eval.external_file={data}", *extra])
    return create_run(tmp_path / "runs", "knowledge cpt", f"cpt-{mode}", to_dict(cfg), argv=[]), cfg


@pytest.mark.parametrize("mode", ["lora", "full"])
def test_cpt_end_to_end_and_resume(tmp_path, mode):
    run, cfg = make_run(tmp_path, mode)
    results = run_cpt(run, cfg)
    on_disk = json.loads((run.dir / "results.json").read_text())
    assert on_disk == json.loads(json.dumps(results))
    assert list(results["conditions"]) == ["base", "passage", "self-edit", "external"]
    assert results["mode"] == mode and results["learning_rate"] == (1e-3 if mode == "lora" else 1e-5)
    # the same keys as `seal knowledge eval`'s results.json, plus the training mode
    assert {"conditions", "model", "n_passages", "round", "judge_errors"} <= set(results)
    for c in results["conditions"].values():
        assert c["n_questions"] == 4 and c["n_passages"] == 3 and 0 <= c["accuracy"] <= 1
    # passages once each, plus one document per non-empty generation (not split into lines)
    assert results["n_documents"] == {"passage": 3, "self-edit": 3 + 6, "external": 3 + 6}
    rows = run.store.rows("inner_results")
    assert len(rows) == 4 * 3 and {r["key"] for r in rows} == {
        f"cpt/{c}/{p}" for c in results["conditions"] for p in {r["context_id"] for r in rows}}
    assert sum(bool(r["timings"]) for r in rows if r["condition"] == "passage") == 1  # one training run, timed once
    assert "continued pretraining: mode " + mode in format_cpt(results)
    # both measures, and the paired differences on the same 4 questions of 3 passages
    assert all(c["loglik"] < 0 for c in results["conditions"].values())
    assert list(results["differences"]) == ["passage - base", "self-edit - passage", "external - passage",
                                            "external - base", "external - self-edit"]
    for d in results["differences"].values():
        assert (d["loglik"]["n_items"], d["loglik"]["n_units"], d["loglik"]["unit"]) == (4, 3, "passages")
        assert d["loglik"]["ci95"][0] <= d["loglik"]["mean"] <= d["loglik"]["ci95"][1]
    assert "passage - base" in format_cpt(results)
    before = [(r["key"], r["score"], r["created_at"]) for r in rows]
    again = run_cpt(run, cfg)  # resume: everything is stored, nothing is trained again
    assert [(r["key"], r["score"], r["created_at"]) for r in run.store.rows("inner_results")] == before
    assert again["conditions"] == results["conditions"]


def test_conditions_train_from_the_same_base_weights(tmp_path, monkeypatch):
    """Full mode: every condition starts from the exact base weights (restored in memory)."""
    seen = []
    original = FullAdapter.trained

    def spy(self, docs, seed, cfg=None):
        seen.append({k: v.clone() for k, v in self.model.state_dict().items()})
        return original(self, docs, seed, cfg)

    monkeypatch.setattr(FullAdapter, "trained", spy)
    run, cfg = make_run(tmp_path, "full", ["eval.conditions=[passage, self-edit]"])
    run_cpt(run, cfg)
    assert len(seen) == 2 and all(torch.equal(seen[0][k], seen[1][k]) for k in seen[0])


def test_full_adapter_trains_every_weight_and_restores_exactly(tiny):
    model, tokenizer = copy.deepcopy(tiny[0]), tiny[1]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    adapter = FullAdapter(model, tokenizer, InnerConfig(learning_rate=1e-3, epochs=2, seeds=1))
    with adapter.trained(["Zorbia\nThe capital of Zorbia is Quelmar."], seed=0) as stats:
        changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
        assert stats.steps == 2 and len(changed) > len(before) // 2  # attention, MLP, norms, embeddings
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_cpt_settings_and_pooled_documents():
    cfg = load_config(KnowledgeConfig, None, ["cpt.mode=lora"])
    inner = cpt_inner(cfg)  # SEAL's CPT.sh: r 32, alpha 64, 3 epochs, lr 1e-3, batch 4 x 2
    assert (inner.lora.r, inner.lora.alpha, inner.epochs, inner.learning_rate, inner.batch_size, inner.grad_accum) == \
        (32, 64, 3, 1e-3, 4, 2)
    assert KnowledgeConfig().cpt.mode == "full" and KnowledgeConfig().cpt.lr == 1e-5
    p = Passage("t", "Tor", "Tor is a town.", ())
    edits = {"t": [(1, "A.\nB."), (2, "C.")]}
    assert cpt_documents([p], edits, passage_per_self_edit=True) == ["Tor\nTor is a town."] * 2 + ["Tor\nA.\nB.",
                                                                                                   "Tor\nC."]
    assert doctest.testmod(cpt_module).failed == 0

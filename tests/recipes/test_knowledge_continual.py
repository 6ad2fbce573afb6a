"""Sequential self-edits on a tiny model: the forgetting matrix's bookkeeping on a planted sequence, folding LoRA
updates into the weights, the KL penalty, and the recipe end to end with the three mitigations and resume."""

import copy
import doctest
import json

import pytest
import torch

import seal.recipes.knowledge_continual as continual_module
from seal.config import InnerConfig, LoraConfig, load_config, to_dict
from seal.domains.knowledge.config import KnowledgeConfig
from seal.inner.lora import attach_lora, base_weights, fold_lora, reset_lora, restore_base_weights
from seal.inner.train import tokenize_documents, train_lora
from seal.recipes.knowledge_continual import draw_sequences, kl_penalty, replay_documents, run_continual
from seal.reports.forgetting import assemble_matrix, build_forgetting, format_forgetting
from seal.store.runs import create_run

# ----------------------------------------------------------------------------------------------------------------------
# The matrix on a planted sequence (pure)


def planted(seq: int, step: int, pid: str) -> float:
    """A value that names its cell: step in the tenths, passage in the hundredths, sequence in the thousandths."""
    return step / 10 + {"a": 0.01, "b": 0.02, "c": 0.03}[pid] + seq / 1000


def test_matrix_puts_each_result_under_its_step_and_arrival_position():
    orders = {0: ["a", "b", "c"], 1: ["c", "a", "b"]}
    cells = [(s, k, pid, planted(s, k, pid)) for s, order in orders.items()
             for k in range(1, 4) for pid in order[:k]]
    m = assemble_matrix(orders, cells, baseline={"a": 0.5, "b": 0.6, "c": 0.7})
    assert m["length"] == 3 and m["complete_sequences"] == 2
    # row 0: the baseline of the passage that arrived j-th, averaged over sequences
    assert m["mean"][0] == pytest.approx([(0.5 + 0.7) / 2, (0.6 + 0.5) / 2, (0.7 + 0.6) / 2])
    # row k, column j: after k edits, the j-th passage of each sequence (seq 0: a b c; seq 1: c a b)
    assert m["mean"][1] == [pytest.approx((planted(0, 1, "a") + planted(1, 1, "c")) / 2), None, None]
    assert m["mean"][2][1] == pytest.approx((planted(0, 2, "b") + planted(1, 2, "a")) / 2)
    assert m["mean"][3][2] == pytest.approx((planted(0, 3, "c") + planted(1, 3, "b")) / 2)
    assert m["n"][3] == [2, 2, 2] and m["n"][1] == [2, None, None]
    sd = abs(planted(0, 2, "b") - planted(1, 2, "a")) / 2 ** 0.5
    assert m["sd"][2][1] == pytest.approx(sd) and m["se"][2][1] == pytest.approx(sd / 2 ** 0.5)
    # forgetting of the first passage: right after its own edit (step 1) minus after the last (step 3)
    assert m["forgetting"][0]["mean"] == pytest.approx(-0.2)
    own = (planted(0, 1, "a") + planted(1, 1, "c")) / 2
    final = (planted(0, 3, "a") + planted(1, 3, "c")) / 2
    assert m["retention"][0] == pytest.approx(final / own)
    # damage: the shortfall of the final accuracy under the baseline (here every planted value is below it)
    assert m["damage"][0]["mean"] == pytest.approx(((0.5 - planted(0, 3, "a")) + (0.7 - planted(1, 3, "c"))) / 2)
    assert m["below_baseline"] == [1.0, 1.0, 1.0]


def test_sequences_are_reproducible_and_independent_of_their_count():
    ids = [f"p{i}" for i in range(10)]
    first = draw_sequences(ids, 4, 3, seed=42)
    assert first == draw_sequences(ids, 4, 5, seed=42)[:3]
    assert all(len(set(s)) == 4 for s in first) and first[0] != first[1]
    assert draw_sequences(ids, 4, 3, seed=43) != first
    assert replay_documents(["x", "y", "z"], 4, 0.5, seed=1) == replay_documents(["x", "y", "z"], 4, 0.5, seed=1)
    assert len(replay_documents(["x", "y", "z"], 4, 0.5, seed=1)) == 2 and replay_documents([], 4, 0.5, 1) == []
    assert doctest.testmod(continual_module).failed == 0


# ----------------------------------------------------------------------------------------------------------------------
# Folding updates, restoring the base, the KL penalty


def test_fold_keeps_the_update_and_restore_brings_back_the_base(tiny):
    model, tokenizer = copy.deepcopy(tiny[0]), tiny[1]
    peft_model = attach_lora(model, LoraConfig(r=4, alpha=8))
    ids = tokenizer("Zorbia\nThe capital of Zorbia is Quelmar.", return_tensors="pt")["input_ids"]
    out = lambda: peft_model(input_ids=ids).logits.detach()  # noqa: E731
    original, saved = out(), base_weights(peft_model)
    examples = tokenize_documents(tokenizer, ["Zorbia\nThe capital of Zorbia is Quelmar."], 64, add_eos=True)
    reset_lora(peft_model, 1)
    train_lora(peft_model, examples, InnerConfig(learning_rate=1e-2, epochs=3, seeds=1), 1, tokenizer.pad_token_id)
    adapted = out()
    fold_lora(peft_model, 1)  # the update moves into the base weights; the LoRA is zero again
    assert torch.allclose(out(), adapted, atol=1e-4) and not torch.allclose(adapted, original, atol=1e-3)
    with peft_model.disable_adapter():
        assert torch.allclose(out(), adapted, atol=1e-4)
    restore_base_weights(peft_model, saved)
    assert torch.equal(out(), original)


def test_kl_penalty_is_zero_at_the_previous_model_and_positive_away_from_it(tiny):
    model, tokenizer = copy.deepcopy(tiny[0]), tiny[1]
    peft_model = attach_lora(model, LoraConfig(r=4, alpha=8))
    reset_lora(peft_model, 0)
    examples = tokenize_documents(tokenizer, ["Tor\nTor has 12 bridges."], 64, add_eos=True)
    penalty = kl_penalty(examples, weight=1.0, pad_id=tokenizer.pad_token_id, seed=0)
    assert penalty(peft_model).item() == pytest.approx(0.0, abs=1e-6)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    value = penalty(peft_model)
    assert value.item() > 1e-3 and value.requires_grad


# ----------------------------------------------------------------------------------------------------------------------
# The recipe end to end


TINY = ["model.name=tiny-llama", "data.source=builtin", "data.n=5", "self_edit.max_new_tokens=12",
        "quiz.max_new_tokens=6", "inner.epochs=2", "inner.lora.r=4", "model.threads=1",
        "continual.sequence_length=3", "continual.sequences=2"]


@pytest.fixture(scope="module")
def continual_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("continual")
    cfg = load_config(KnowledgeConfig, None, [*TINY, "continual.mitigations=[none, replay, kl]"])
    run = create_run(tmp / "runs", "knowledge continual", "continual", to_dict(cfg), argv=[])
    return run, cfg, run_continual(run, cfg)


def test_matrix_mitigations_and_store(continual_run):
    run, cfg, result = continual_run
    on_disk = json.loads((run.dir / "forgetting.json").read_text())
    assert on_disk == json.loads(json.dumps(result)) and (run.dir / "forgetting.png").stat().st_size > 5000
    assert list(result["mitigations"]) == ["none", "replay", "kl"]
    for m in result["mitigations"].values():
        assert m["complete_sequences"] == 2 and len(m["mean"]) == 4 and all(len(row) == 3 for row in m["mean"])
        assert m["n"] == [[2, 2, 2], [2, None, None], [2, 2, None], [2, 2, 2]]
        assert set(m["seconds"]) == {"sample", "train", "quiz"}
    assert set(result["paired_vs_none"]) == {"replay", "kl"} and result["paired_vs_none"]["kl"]["n"] == 2
    store = run.store
    orders = run.manifest["sequences"]
    assert len(orders) == 2 and all(len(o) == 3 for o in orders)
    rows = store.rows("inner_results")
    assert len([r for r in rows if r["condition"].startswith("continual/") and r["condition"] != "continual/base"]) \
        == 3 * 2 * (1 + 2 + 3)
    # which passage after which edit: the row of step k, position j is the j-th passage of its sequence
    for r in rows:
        if r["condition"] not in ("continual/base",):
            d = r["details"]
            assert orders[d["sequence"]][d["position"]] == r["context_id"] and d["position"] < d["step"]
    replay = [r["details"]["train"] for r in rows if r["condition"] == "continual/replay" and r["round"] >= 2]
    kl = [r["details"]["train"] for r in rows if r["condition"] == "continual/kl" and r["round"] >= 2]
    assert all(t["replayed"] >= 1 for t in replay) and all(t["kl"] is not None for t in kl)
    # a self-edit's reward: its passage's accuracy right after its update minus before any edit
    own = [r for r in rows if r["self_edit_id"] is not None]
    assert len(own) == 3 * 2 * 3 and all(r["reward"] == r["score"] - r["base_score"] for r in own)
    assert all(r["reward"] is None for r in rows if r["self_edit_id"] is None and r["condition"] != "continual/base")
    # the first self-edit of a sequence comes from the original weights with the same seed, whatever the mitigation
    first = {m: store.get("self_edits", f"continual/{m}/q0/e1")["text"] for m in ("none", "replay", "kl")}
    assert first["none"] == first["replay"] == first["kl"]
    assert "mitigation kl" in format_forgetting(result)
    # knowledge as well as accuracy: own-edit and final log-likelihood against the unedited model, paired per question
    from seal.reports.stats import paired_difference

    base = {(r["context_id"], i): v for r in rows if r["condition"] == "continual/base"
            for i, v in enumerate(r["details"]["logliks"])}
    finals = {}
    for r in rows:
        if r["condition"] == "continual/none" and r["details"]["step"] == 3:
            for i, v in enumerate(r["details"]["logliks"]):
                finals.setdefault((r["context_id"], i), []).append(v)
    expected = paired_difference({k: sum(v) / len(v) for k, v in finals.items()}, base)
    assert set(result["knowledge"]) == {"none", "replay", "kl"}
    got = result["knowledge"]["none"]["final - baseline"]["loglik"]
    assert got["mean"] == pytest.approx(expected["mean"]) and got["ci95"] == pytest.approx(expected["ci95"])
    assert got["unit"] == "passages" and got["n_items"] == len(base)
    assert "none, own edit - baseline: accuracy" in format_forgetting(result)


def test_resume_skips_finished_sequences_and_redoes_the_rest(continual_run):
    run, cfg, result = continual_run
    store = run.store
    before = {r["key"]: r["created_at"] for r in store.rows("inner_results")}
    with store.transaction():  # as if killed during sequence 1 of `kl`
        store.conn.execute("DELETE FROM evaluations WHERE key='continual/kl/q1'")
    again = run_continual(run, cfg)
    after = {r["key"]: r["created_at"] for r in store.rows("inner_results")}
    assert after == before  # the redone sequence re-offers the same keys; nothing else ran
    assert store.has("evaluations", "continual/kl/q1")
    assert again["mitigations"]["kl"]["mean"] == result["mitigations"]["kl"]["mean"]  # deterministic on CPU
    assert build_forgetting(run)["mitigations"]["none"] == again["mitigations"]["none"]

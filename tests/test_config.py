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
    with pytest.raises(ConfigError, match="learning_rate must be positive"):
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


def test_every_shipped_config_validates():
    from pathlib import Path

    configs = sorted((Path(__file__).resolve().parents[1] / "configs").rglob("*.yaml"))
    assert configs
    for path in configs:
        if path.parent.name == "knowledge":
            load_config(KnowledgeConfig, path)

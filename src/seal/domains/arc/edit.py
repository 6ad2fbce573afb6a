"""The ARC self-edit: a JSON test-time-training configuration the model writes, its parser and its budget.

Schema (every key required, no others)::

    {"data_generation": {"use_basic_augmentations": bool, "use_size_augmentations": bool,
                         "use_chain_augmentations": bool, "use_repeat_augmentations": bool},
     "training": {"strategy": "all_tokens" | "output_only", "learning_rate": float, "num_train_epochs": int}}

`parse_self_edit(text)` takes the first JSON object with a ``data_generation`` or ``training`` key in the model's
text (bare, in a ```json fence, or surrounded by prose) and returns an `EditConfig`, or an `EditRejection` with
the reason. Types are strict: ``"false"`` is not a boolean, ``true`` is not an epoch count, ``2.0`` is not an int;
the learning rate must be a JSON number in (0, 1e-2], epochs an int in 1..10. A rejected self-edit scores
zero in the outer loop.

The step budget: SEAL discards configurations whose training would take more than 375 steps (paper, ARC
experiments). `step_budget(n_examples, epochs, batch_size=1)` is ``ceil(n_examples * epochs / batch_size)`` and
`check_budget(cfg, n_examples)` returns a rejection reason when it exceeds `MAX_STEPS`.

Constrained sampling (`self_edit.constrained`): `self_edit_schema(max_epochs)` is the JSON schema of exactly the
self-edits `parse_self_edit` accepts, with epochs bounded by `budget_epochs(...)` so that every instance is within the
step budget whatever augmentations it picks (TTT data never exceed `ttt.max_examples` pairs); decoded under it
(`models.constrain`), a self-edit always parses and passes `check_budget`, and the model still picks every value.
SEAL sampled free-form, as `constrained: false` does.

Departures from SEAL: the key and strategy names are this project's schema; anything that does not match it is
rejected rather than patched up. Leave-two-out data are always on, as in SEAL's TTT (`EditConfig.leave_two_out`,
not part of the JSON the model writes). The prompt text (`tools_description`) is written afresh; it shows the form
with placeholders and recommends no value: an example configuration in it (lr 1e-4, 2 epochs) was copied by 15 of 40
of SmolLM2's constrained self-edits and its 2 epochs by 35 of 40 (BENCHMARKS.md, "Issue 19: the self-edit prompt").
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace

from seal.domains.arc.format import format_example, grid_to_text

MAX_STEPS = 375  # SEAL paper: self-edits needing more training steps are discarded
STRATEGIES = ("all_tokens", "output_only")
LR_MAX = 1e-2
EPOCHS_RANGE = (1, 10)
_AUG_KEYS = ("use_basic_augmentations", "use_size_augmentations", "use_chain_augmentations",
             "use_repeat_augmentations")
_TRAIN_KEYS = ("strategy", "learning_rate", "num_train_epochs")


@dataclass(frozen=True)
class EditConfig:
    """A valid self-edit: which augmentation families to generate data with, and how to train on it."""

    use_basic_augmentations: bool
    use_size_augmentations: bool
    use_chain_augmentations: bool
    use_repeat_augmentations: bool
    strategy: str  # "all_tokens": loss on prompt and answer; "output_only": loss on the answer grid only
    learning_rate: float
    num_train_epochs: int
    leave_two_out: bool = True  # SEAL's TTT always adds leave-two-out tasks; not chosen by the model

    def to_json(self) -> dict:
        """The JSON object of the schema (what the model writes), without `leave_two_out`."""
        return {
            "data_generation": {k: getattr(self, k) for k in _AUG_KEYS},
            "training": {k: getattr(self, k) for k in _TRAIN_KEYS},
        }

    def to_dict(self) -> dict:
        """All fields, flat (for storage)."""
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> "EditConfig":
        """A stored configuration (`to_dict`'s flat fields; `leave_two_out` optional), checked as a self-edit is.

        Raises:
            ValueError: saying what is wrong: not an object, a missing or unknown key, a wrong type, a value out of
                range.
        """
        if not isinstance(d, dict):
            raise ValueError(f"expected an object, got {type(d).__name__}")
        unknown = sorted(set(d) - set(_AUG_KEYS) - set(_TRAIN_KEYS) - {"leave_two_out"})
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(map(str, unknown))}")
        parsed = parse_self_edit(json.dumps({"data_generation": {k: d[k] for k in _AUG_KEYS if k in d},
                                             "training": {k: d[k] for k in _TRAIN_KEYS if k in d}}))
        if isinstance(parsed, EditRejection):
            raise ValueError(parsed.reason)
        if not isinstance(d.get("leave_two_out", True), bool):
            raise ValueError(f"leave_two_out must be true or false, got {d['leave_two_out']!r}")
        return replace(parsed, leave_two_out=d.get("leave_two_out", True))

    def ttt_kwargs(self) -> dict:
        """Keyword arguments for `ttt_data.make_ttt_examples` (besides the task)."""
        return {"use_basic": self.use_basic_augmentations, "use_size": self.use_size_augmentations,
                "use_chain": self.use_chain_augmentations, "use_repeat": self.use_repeat_augmentations,
                "leave_two_out": self.leave_two_out}


@dataclass(frozen=True)
class EditRejection:
    """Why a self-edit was rejected (malformed, out of range, or over budget)."""

    reason: str


# The human-chosen configuration ("oracle" TTT in SEAL, marc's recipe): every family, loss on the answer only,
# lr 1e-4, 2 epochs. At SEAL's 250-example cap that is 500 steps at batch size 1, 250 at SEAL's batch size 2.
ORACLE_EDIT = EditConfig(
    use_basic_augmentations=True, use_size_augmentations=True, use_chain_augmentations=True,
    use_repeat_augmentations=True, strategy="output_only", learning_rate=1e-4, num_train_epochs=2,
    leave_two_out=True,
)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def extract_json_object(text: str, any_of_keys: tuple[str, ...] = ()) -> dict | None:
    """The first JSON object in `text` (bare, fenced or inside prose), or None when there is none.

    Each ``{`` is tried in turn; the first position where a complete JSON object decodes wins. NaN and Infinity
    are not accepted.

    Args:
        text: the text to search.
        any_of_keys: when given, only an object with at least one of these top-level keys counts (so a stray
            ``{"x": 1}`` in the prose, or a nested object of a broken outer one, is skipped). Default: ().
    """
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    start = text.find("{")
    while start != -1:
        try:
            obj, _ = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep, as a model may write
            obj = None
        if isinstance(obj, dict) and (not any_of_keys or any(k in obj for k in any_of_keys)):
            return obj
        start = text.find("{", start + 1)
    return None


def _section(obj: dict, name: str, keys: tuple[str, ...]) -> dict | str:
    sec = obj.get(name)
    if not isinstance(sec, dict):
        return f"'{name}' must be an object"
    missing = [k for k in keys if k not in sec]
    if missing:
        return f"'{name}' is missing {', '.join(missing)}"
    unknown = sorted(set(sec) - set(keys))
    if unknown:
        return f"'{name}' has unknown key(s) {', '.join(unknown)}"
    return sec


def _check_training(tr: dict) -> str | None:
    if tr["strategy"] not in STRATEGIES:
        return f"strategy must be one of {', '.join(STRATEGIES)}, got {tr['strategy']!r}"
    lr = tr["learning_rate"]
    if isinstance(lr, bool) or not isinstance(lr, (int, float)):
        return f"learning_rate must be a number, got {lr!r}"
    if not 0 < lr <= LR_MAX or not math.isfinite(lr):
        return f"learning_rate must be in (0, {LR_MAX}], got {lr!r}"
    ep = tr["num_train_epochs"]
    if isinstance(ep, bool) or not isinstance(ep, int):
        return f"num_train_epochs must be an integer, got {ep!r}"
    if not EPOCHS_RANGE[0] <= ep <= EPOCHS_RANGE[1]:
        return f"num_train_epochs must be in {EPOCHS_RANGE[0]}..{EPOCHS_RANGE[1]}, got {ep}"
    return None


def parse_self_edit(text: str) -> EditConfig | EditRejection:
    """Parse and validate a self-edit written by the model.

    Args:
        text: the model's completion; its first JSON object with a `data_generation` or `training` key is read.

    Returns:
        An `EditConfig`, or an `EditRejection` saying what was wrong (no JSON object, a missing or unknown key, a
        wrong type, a value out of range).
    """
    if not isinstance(text, str):
        return EditRejection(f"expected text, got {type(text).__name__}")
    obj = extract_json_object(text, any_of_keys=("data_generation", "training"))
    if obj is None:
        return EditRejection("no JSON object with 'data_generation' or 'training' found")
    unknown = sorted(set(obj) - {"data_generation", "training"})
    if unknown:
        return EditRejection(f"unknown top-level key(s) {', '.join(unknown)}")
    gen = _section(obj, "data_generation", _AUG_KEYS)
    if isinstance(gen, str):
        return EditRejection(gen)
    tr = _section(obj, "training", _TRAIN_KEYS)
    if isinstance(tr, str):
        return EditRejection(tr)
    for k in _AUG_KEYS:
        if not isinstance(gen[k], bool):
            return EditRejection(f"{k} must be true or false, got {gen[k]!r}")
    reason = _check_training(tr)
    if reason:
        return EditRejection(reason)
    return EditConfig(**{k: gen[k] for k in _AUG_KEYS}, strategy=tr["strategy"],
                      learning_rate=float(tr["learning_rate"]), num_train_epochs=tr["num_train_epochs"])


def self_edit_schema(max_epochs: int = EPOCHS_RANGE[1]) -> dict:
    """The JSON schema of a valid self-edit (every key required, no others, the ranges `parse_self_edit` checks),
    with `num_train_epochs` at most `max_epochs` (see `budget_epochs`).

    Raises:
        ValueError: `max_epochs` is below 1.
    """
    if max_epochs < 1:
        raise ValueError(f"max_epochs must be at least 1, got {max_epochs}")

    def obj(props: dict) -> dict:
        return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}

    return obj({
        "data_generation": obj({k: {"type": "boolean"} for k in _AUG_KEYS}),
        "training": obj({"strategy": {"enum": list(STRATEGIES)},
                         "learning_rate": {"type": "number", "exclusiveMinimum": 0, "maximum": LR_MAX},
                         "num_train_epochs": {"type": "integer", "minimum": EPOCHS_RANGE[0],
                                              "maximum": min(max_epochs, EPOCHS_RANGE[1])}}),
    })


def budget_epochs(max_examples: int, batch_size: int = 1, max_steps: int = MAX_STEPS) -> int:
    """The most epochs that stay within `max_steps` on any TTT data of at most `max_examples` pairs:
    ``max_steps * batch_size // max_examples``, at most 10 (0 when even one epoch of a full cap is over budget).

    Args:
        max_examples: the cap on TTT pairs (`ttt.max_examples`; the paper's 250 gives 3 epochs at batch 2).
        batch_size: pairs per step (`ttt.batch_size * ttt.grad_accum`). Default: 1.
        max_steps: the budget (`ttt.max_steps`). Default: 375 (SEAL).
    """
    return min(EPOCHS_RANGE[1], max_steps * batch_size // max_examples)


def step_budget(n_examples: int, epochs: int, batch_size: int = 1) -> int:
    """Optimizer steps to train `epochs` passes over `n_examples`: ``ceil(n_examples * epochs / batch_size)``.

    Args:
        n_examples: training pairs (from `ttt_data.make_ttt_examples`).
        epochs: passes over them.
        batch_size: pairs per step (including gradient accumulation). Default: 1.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    return math.ceil(n_examples * epochs / batch_size)


def check_budget(cfg: EditConfig, n_examples: int, batch_size: int = 1, max_steps: int = MAX_STEPS) -> str | None:
    """A rejection reason when `cfg` on `n_examples` pairs would take more than `max_steps` steps, else None.

    Args:
        cfg: the self-edit.
        n_examples: training pairs it generates.
        batch_size: pairs per step. Default: 1.
        max_steps: the budget. Default: 375 (SEAL).
    """
    if n_examples == 0:
        return "the configuration generates no training data"
    steps = step_budget(n_examples, cfg.num_train_epochs, batch_size)
    if steps > max_steps:
        return (f"{n_examples} examples x {cfg.num_train_epochs} epochs / batch {batch_size} = {steps} steps, "
                f"over the budget of {max_steps}")
    return None


def tools_description(max_steps: int = MAX_STEPS) -> str:
    """What the self-edit may choose, as the model reads it; `max_steps` is the run's budget (`ttt.max_steps`)."""
    return f"""\
You can adapt yourself to this puzzle before solving it, by training on examples made from its demonstrations.
Each demonstration in turn is held out and used as a practice question, with the others as its examples.
Choose how to build that practice data and how to train on it.

Data generation (each true or false):
- use_basic_augmentations: also practise on the puzzle rotated, flipped, transposed, mirrored next to itself, or
  shifted a little.
- use_size_augmentations: also practise with every grid doubled in height, in width, or in both (each cell 2x2).
- use_chain_augmentations: also practise with a rotation, flip or transpose followed by doubling the resolution.
- use_repeat_augmentations: also practise with every grid tiled twice across, down, or both.

Training:
- strategy: "output_only" learns only from the answer grids; "all_tokens" learns from the whole practice text.
- learning_rate: a number greater than 0 and at most {LR_MAX}: 0.00001 changes you very little, {LR_MAX} a lot.
- num_train_epochs: an integer from {EPOCHS_RANGE[0]} to {EPOCHS_RANGE[1]}, passes over the practice data.

Too little training changes nothing; too much can make you memorise the practice data instead of learning the
rule. More augmentation gives more practice data, and up to {max_steps}
training steps are allowed in all: configurations that would take longer are discarded.

Answer with one JSON object of this form, your choices in place of the angle brackets, and nothing else:
{{"data_generation": {{"use_basic_augmentations": <true or false>, "use_size_augmentations": <true or false>, \
"use_chain_augmentations": <true or false>, "use_repeat_augmentations": <true or false>}}, \
"training": {{"strategy": <"output_only" or "all_tokens">, "learning_rate": <number>, "num_train_epochs": <integer>}}}}"""


def self_edit_prompt(task, max_steps: int = MAX_STEPS) -> str:
    """The prompt asking the model for a self-edit: the task's demonstrations, then `tools_description(max_steps)`.

    Args:
        task: a `tasks.Task`; its test inputs are shown without outputs (test outputs are never shown).
        max_steps: the step budget the prompt states (`ttt.max_steps`, the one the budget check applies).
    """
    demos = "\n\n".join(format_example(ex) for ex in task.train)
    tests = "\n\n".join(f"Test input:\n{grid_to_text(ex.input)}" for ex in task.test)
    parts = ["Here is a puzzle. Grids are written one row per line, one digit (a colour, 0-9) per cell.",
             demos]
    if tests:
        parts.append(tests)
    parts.append(tools_description(max_steps))
    return "\n\n".join(parts)

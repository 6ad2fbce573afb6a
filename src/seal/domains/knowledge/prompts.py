"""Self-edit prompt families, as named templates (the quiz prompts are `seal.domains.knowledge.quiz`'s).

The families follow the paper's descriptions (Section 4.2 and its appendix: implications, longer implications,
rewrites, self-generated question-answer pairs, and no instruction at all); the wording is ours. A user adds a
family with a YAML file mapping names to templates that contain `{passage}` and may contain `{title}` (no other
placeholder, no format spec such as `{passage:>20}`, no conversion but `!s`, `!r` or `!a`; a literal brace is
written twice, `{{` or `}}`; every template is checked when the file is read):

    my-family: "List every fact in this passage about {title}, one per line.\\n\\n{passage}"

A self-edit that numbers its questions (`Question 1:` ... `Answer:`) becomes one document per question/answer pair,
any other one document per line (see `parse.py`, SEAL's rule).
"""

from __future__ import annotations

import string
from pathlib import Path

import yaml

from seal.config import load_yaml
from seal.errors import ConfigError, DataError

FAMILIES: dict[str, str] = {
    "implications": (
        "Read the passage below and write out what follows from it: its implications, consequences and the facts "
        "it entails, each stated plainly on its own line.\n\nTitle: {title}\n{passage}"
    ),
    "implications-long": (
        "Read the passage below and write a long, thorough list of what follows from it: implications, "
        "consequences, restatements of each fact in other words, and how the facts relate to one another. "
        "Put each statement on its own line.\n\nTitle: {title}\n{passage}"
    ),
    "implications-very-long": (
        "Read the passage below and write as many statements as you can that follow from it: every fact restated "
        "several ways, every implication, every connection between the people, places, dates and numbers it "
        "mentions. Be exhaustive and put each statement on its own line.\n\nTitle: {title}\n{passage}"
    ),
    "rewrite": (
        "Rewrite the passage below in your own words several times, each version on its own line, keeping every "
        "name, date and number exactly as given.\n\nTitle: {title}\n{passage}"
    ),
    "self-qa": (
        "Write questions that the passage below answers, each followed by its short answer, numbered in the form\n"
        "Question 1: ...\nAnswer: ...\n\nTitle: {title}\n{passage}"
    ),
    "no-prompt": "Title: {title}\n{passage}",
}

# What a completion prompt (a model without a chat template, or `self_edit.chat: plain`) ends with, after a blank
# line, so that a base model writes the self-edit instead of continuing the passage: the part a chat template's
# generation prompt plays for an instruct model. The paper prompts its base model (Qwen2.5-7B) by completion; the
# wording is ours. no-prompt (the passage alone) and a family file's templates get none: they end as written.
CUES: dict[str, str] = {
    "implications": "Implications:\n",
    "implications-long": "Implications:\n",
    "implications-very-long": "Statements:\n",
    "rewrite": "Rewrites:\n",
    "self-qa": "Questions and answers:\n",
}


PLACEHOLDERS = ("title", "passage")


def check_template(template, where: str) -> None:
    """Raise DataError (naming `where`) unless `template` is a string whose only `str.format` placeholders are
    `{title}` and `{passage}`, `{passage}` among them, with no format spec (`{passage:d}` fails on text and
    `{passage:>99999999}` asks for a gigabyte) and no conversion but `!s`, `!r` and `!a` (`{passage!x}` fails);
    `{{` and `}}` are literal braces. Checked when a family file is read, so that formatting never fails later."""
    if not isinstance(template, str):
        raise DataError(f"{where}: expected a template string, got {template!r}")
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(template)
                  if name is not None]
    except ValueError as e:  # a lone brace
        raise DataError(f"{where}: {e}; write a literal brace as {{{{ or }}}}") from None
    unknown = [name for name, _, _ in fields if name not in PLACEHOLDERS]
    if unknown:
        raise DataError(f"{where}: unknown placeholder {{{unknown[0]}}} (known: {{title}}, {{passage}}; "
                        "write a literal brace as {{ or }})")
    for name, spec, conversion in fields:
        written = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        if spec:
            raise DataError(f"{where}: {written} has a format spec; write the placeholder as {{{name}}}")
        if conversion not in (None, "s", "r", "a"):
            raise DataError(f"{where}: {written} has an unknown conversion !{conversion} (known: !s, !r, !a)")
    if "passage" not in (name for name, _, _ in fields):
        raise DataError(f"{where}: the template needs the {{passage}} placeholder")


def load_families(path: str | Path | None) -> dict[str, str]:
    """The built-in families, plus (or overridden by) those in a YAML file of `name: template`.

    Raises:
        DataError: the file is missing, not YAML, not a mapping, or a template fails `check_template` (checked
            here, before any work, rather than when the first self-edit prompt is formatted).
    """
    families = dict(FAMILIES)
    if not path:
        return families
    p = Path(path)
    if not p.is_file():
        raise DataError(f"prompt family file not found: {p}")
    try:
        extra = load_yaml(p.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise DataError(f"{p}: not a YAML file ({str(e).splitlines()[0]})") from None
    if not isinstance(extra, dict):
        raise DataError(f"{p}: expected a mapping of family name to template, got {type(extra).__name__}")
    for name, template in extra.items():
        check_template(template, f"{p}: family {name!r}")
        families[str(name)] = template
    return families


def self_edit_prompt(family: str, title: str, passage: str, families: dict[str, str] | None = None) -> str:
    """The instruction that asks the model for a self-edit of `passage` (before any chat template)."""
    families = families or FAMILIES
    if family not in families:
        raise ConfigError(f"unknown prompt family {family!r} (known: {', '.join(families)})")
    return families[family].format(title=title, passage=passage)


def completion_cue(family: str, families: dict[str, str] | None = None) -> str:
    """What a completion-style self-edit prompt of `family` ends with (`CUES`, after a blank line); "" for
    no-prompt and for a template a family file gives (also one that replaces a built-in family)."""
    template = (families or FAMILIES).get(family)
    return "\n\n" + CUES[family] if family in CUES and template == FAMILIES[family] else ""

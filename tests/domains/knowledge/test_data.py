import json

import pytest

from seal.domains.knowledge.data import load_passages, passage_id, select_passages
from seal.errors import DataError


def write(tmp_path, obj, name="p.json"):
    path = tmp_path / name
    path.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return path


def test_seal_and_squad_layouts_give_the_same_passage(tmp_path):
    seal = write(tmp_path, [{"title": "T", "context": "C is here.", "questions": [{"question": "Q?", "answer": "C"}]}])
    squad = write(tmp_path, {"data": [{"title": "T", "paragraphs": [{"context": "C is here.", "qas": [
        {"question": "Q?", "answers": [{"text": "C"}, {"text": "c"}]}]}]}]}, "squad.json")
    a, b = load_passages(seal)[0], load_passages(squad)[0]
    assert a.id == b.id == passage_id("T", "C is here.")
    assert a.questions[0].answers == ("C",) and b.questions[0].answers == ("C", "c")


@pytest.mark.parametrize("obj, message", [
    ("{not json", "not valid JSON"),
    ([], "no passages"),
    ([{"title": "T", "context": "   ", "questions": [{"question": "q", "answer": "a"}]}], "empty context"),
    ([{"title": "T", "context": "text", "questions": []}], "no questions"),
    ([{"title": "T", "context": "text", "questions": [{"question": "q", "answer": ""}]}], "question 0"),
    ({"rows": []}, "expected a JSON list"),
])
def test_bad_files_give_clear_errors(tmp_path, obj, message):
    with pytest.raises(DataError, match=message):
        load_passages(write(tmp_path, obj))


def test_missing_file_and_unreachable_hub(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="no such file"):
        load_passages(tmp_path / "absent.json")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(DataError, match="squad"):
        load_passages("squad")


def test_selection_is_deterministic_and_disjoint():
    passages = load_passages("builtin")
    a = select_passages(passages, 5, seed=1)
    assert [p.id for p in a] == [p.id for p in select_passages(passages, 5, seed=1)]
    rest = select_passages(passages, None, seed=1, exclude={p.id for p in a})
    assert not {p.id for p in a} & {p.id for p in rest} and len(rest) == len(passages) - 5


def test_seal_evaluation_passages_are_reproduced(shared_dir):
    """SEAL's 200 evaluation passages: the first 200 of SQuAD dev after random.seed(42); random.shuffle."""
    passages = select_passages(load_passages(shared_dir / "data/squad/squad_val.json"), 200, seed=42)
    seal_order = json.loads((shared_dir / "data/seal-self-edits/gpt4_1_val.json").read_text())
    assert [p.context for p in passages] == [x["context"] for x in seal_order]
    assert sum(len(p.questions) for p in passages) == 974

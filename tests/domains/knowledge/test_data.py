import json
import re

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


def passage(**fields):
    return {"title": "T", "context": "The river runs north.", "questions": [{"question": "Where?", "answer": "north"}]
            } | fields


def answers_of(tmp_path, question: dict) -> tuple[str, ...]:
    return load_passages(write(tmp_path, [passage(questions=[{"question": "Q?"} | question])]))[0].questions[0].answers


@pytest.mark.parametrize("question, answers", [
    ({"answer": 5}, ("5",)),  # a number is a meaningful answer
    ({"answer": 2.5}, ("2.5",)),
    ({"answers": ["north", 7]}, ("north", "7")),
    ({"answers": {"text": "north"}}, ("north",)),  # was the gold answer "text"
    ({"answers": {"text": ["north", "the north"], "answer_start": [4, 0]}}, ("north", "the north")),  # HF layout
    ({"answers": [{"text": "north"}, {"text": "North"}]}, ("north", "North")),
    ({"answers": ["north", ""]}, ("north",)),  # blank answers are dropped, as SQuAD leaves some
])
def test_answers_in_every_layout_give_the_gold_texts(tmp_path, question, answers):
    assert answers_of(tmp_path, question) == answers


def test_squad_layout_with_answers_as_strings_and_numbers(tmp_path):
    path = write(tmp_path, {"data": [{"title": "T", "paragraphs": [{"context": "c", "qas": [
        {"question": "Q?", "answers": ["north", 5]}]}]}]})
    assert load_passages(path)[0].questions[0].answers == ("north", "5")


def test_ids_given_as_numbers_are_text(tmp_path):
    got = load_passages(write(tmp_path, [passage(id=7), passage(id="8", context="other")]))
    assert [p.id for p in got] == ["7", "8"]


@pytest.mark.parametrize("obj, message", [
    ("{not json", "not valid JSON"),
    ([], "no passages"),
    ('[{"title": "T", "title": "U", "context": "c"}]', "the key 'title' appears twice in one object"),
    ([passage(context="   ")], "passage 0: the context must be non-empty text, got '   '"),
    ([passage(context=5)], "passage 0: the context must be non-empty text, got 5"),
    ([passage(questions=[])], "no questions"),
    ([passage(questions="what?")], "passage 0: 'questions' must be a list, got 'what?'"),
    ([passage(questions=[5])], "passage 0, question 0: expected an object, got 5"),
    ([passage(questions=[{"question": "q", "answer": ""}])], "question 0: needs at least one non-empty answer"),
    ([passage(questions=[{"question": "q"}])], "question 0: needs at least one non-empty answer, got None"),
    ([passage(questions=[{"question": "q", "answer": True}])],
     "answer 0: an answer must be text or a number, got True"),
    ([passage(questions=[{"question": "q", "answer": None}])], "needs at least one non-empty answer, got None"),
    ([passage(questions=[{"question": "q", "answers": [["north"]]}])], "answer 0: an answer must be text or a number"),
    ([passage(questions=[{"question": "q", "answers": {"start": 3}}])], "an answer object needs a 'text'"),
    ([passage(questions=[{"question": "q", "answers": [{"start": 3}]}])], "answer 0 is an object without 'text'"),
    ([passage(questions=[{"question": 5, "answer": "a"}])], "question 0: the question must be non-empty text, got 5"),
    ([passage(id=["a"])], "passage 0: the id must be non-empty text or a number, got ['a']"),
    ([passage(id="")], "passage 0: the id must be non-empty text or a number, got ''"),
    ([passage(title={"a": 1})], "passage 0: the title must be text or a number, got {'a': 1}"),
    ([passage(id="a"), passage(id="a", context="other")], "passage 1 has the same id 'a' as passage 0"),
    ([passage(), passage()], "passage 1 has the same title and text as passage 0"),
    ([passage(), passage(id=passage_id("T", "The river runs north."), title="U")],
     "passage 1 has the same id"),
    ({"rows": []}, "expected a JSON list"),
    ({"data": [1, 2]}, "data[0]: expected an object, got 1"),
    ({"data": "x"}, "'data' must be a list, got 'x'"),
    ({"data": [{"title": "T", "paragraphs": {"context": "c"}}]}, "data[0]: 'paragraphs' must be a list"),
    ({"data": [{"paragraphs": [{"context": "c", "qas": [5]}]}]}, "data[0].paragraphs[0].qas[0]: expected an "
                                                                 "object, got 5"),
    ({"data": [{"paragraphs": [{"context": "c", "qas": [{"question": "q", "answers": [{"text": None}]}]}]}]},
     "data[0].paragraphs[0] (''), question 0: answer 0: an answer must be text or a number, got None"),
    ({"data": [{"paragraphs": [{"context": "c", "qas": [{"question": "q", "answers": ["c"]}]}] * 2}]},
     "data[0].paragraphs[1] has the same title and text as data[0].paragraphs[0]"),
])
def test_bad_files_give_clear_errors(tmp_path, obj, message):
    path = write(tmp_path, obj)
    with pytest.raises(DataError, match=f"^{re.escape(str(path))}: .*{re.escape(message)}"):
        load_passages(path)


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
    for n, offset in ((-3, 0), (None, -1)):  # slices would silently drop passages from the end
        with pytest.raises(DataError, match=f"got n={n}, offset={offset}"):
            select_passages(passages, n, offset=offset)


def test_seal_evaluation_passages_are_reproduced(shared_dir):
    """SEAL's 200 evaluation passages: the first 200 of SQuAD dev after random.seed(42); random.shuffle."""
    passages = select_passages(load_passages(shared_dir / "data/squad/squad_val.json"), 200, seed=42)
    seal_order = json.loads((shared_dir / "data/seal-self-edits/gpt4_1_val.json").read_text())
    assert [p.context for p in passages] == [x["context"] for x in seal_order]
    assert sum(len(p.questions) for p in passages) == 974


def test_knowledge_train_takes_its_passages_after_data_offset_and_within_data_n():
    """`seal knowledge train` reads data.offset and data.n as `eval` does: shuffle, skip, take; then hold out and
    split into rounds (so `data.offset=200` on SEAL's file trains outside its 200 evaluation passages)."""
    from seal.config import load_config
    from seal.domains.knowledge.config import KnowledgeTrainConfig
    from seal.domains.knowledge.evaluation import plan_passages

    overrides = ["data.seed=3", "outer.eval_contexts=2", "outer.rounds=2", "outer.contexts_per_round=3"]
    shuffled = [p.id for p in select_passages(load_passages("builtin"), None, seed=3)]
    held, rounds = plan_passages(load_config(KnowledgeTrainConfig, None, overrides + ["data.offset=5"]))
    assert [p.id for p in held] == shuffled[5:7]
    assert [[p.id for p in r] for r in rounds] == [shuffled[7:10], shuffled[10:13]]
    held, rounds = plan_passages(load_config(KnowledgeTrainConfig, None, overrides))
    assert [p.id for p in held] + [p.id for r in rounds for p in r] == shuffled[:8]
    with pytest.raises(DataError, match=r"7 passages \(data.n=7, data.offset=5\), but 2 held out plus 2 rounds"):
        plan_passages(load_config(KnowledgeTrainConfig, None, overrides + ["data.offset=5", "data.n=7"]))
    with pytest.raises(DataError, match=r"builtin: 35 passage\(s\) selected, data.n=36 asked for \(data.offset=5\)"):
        plan_passages(load_config(KnowledgeTrainConfig, None, overrides + ["data.offset=5", "data.n=36"]))


def test_resuming_a_train_run_whose_recorded_passages_differ_stops_with_one_error(tmp_path):
    """A run recorded before `knowledge train` read data.n/data.offset, resumed now, would select other passages
    than its finished rounds trained on: the resume refuses before any work, naming the run and its commit. (A resume
    whose recorded passages match goes on: tests/recipes/test_restem_resume.py.)"""
    from seal.config import load_config
    from seal.domains.knowledge.config import KnowledgeTrainConfig
    from seal.domains.registry import load
    from seal.errors import ConfigError
    from seal.recipes.train import run_train
    from seal.store.runs import create_run

    cfg = load_config(KnowledgeTrainConfig, None, ["model.name=tiny-llama", "data.n=3", "outer.eval_contexts=1",
                                                   "outer.rounds=1", "outer.contexts_per_round=2"])
    run = create_run(tmp_path, "knowledge train", "old", {}, [])
    shuffled = [p.id for p in select_passages(load_passages("builtin"), None, seed=0)]
    run.update_manifest(git_commit="abc1234", eval_ids=shuffled[:1], round_ids={"1": shuffled[1:2] + shuffled[3:4]})
    with pytest.raises(ConfigError, match=f"--resume {run.dir}: .*other contexts.*git_commit abc1234"):
        run_train(run, cfg, load("knowledge"))

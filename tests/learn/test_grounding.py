"""Grounding of `seal learn`'s self-quizzes and self-edits (`seal.learn.grounding`): direct checks on hand-written
passages, questions and sentences, then a learn run on tiny-llama whose quiz is rigged and whose self-edits are
stored before it starts (a resumed run's), so the closing table, the record and the report show what was dropped."""

import json

import pytest

from seal.config import load_config, to_dict
from seal.domains.knowledge.data import QA, Passage
from seal.domains.knowledge.domain import KnowledgeDomain
from seal.domains.knowledge.parse import to_documents
from seal.learn.config import LearnConfig
from seal.learn.grounding import edit_check, ground_quiz, quiz_check, sentence_check
from seal.store import keys
from seal.store.runs import create_run

PASSAGE = ("Quillon is a small harbour town on the island of Merrow. It was founded in 1614 by the salt trader "
           "Edda Rusk, who built the first stone quay. The lighthouse, the Grey Finger, is 31 metres tall. "
           "The Kestrel K7 is the most important chip made in Quillon.")


@pytest.mark.parametrize("sentence, grounded", [
    ("Quillon was founded in 1614 by Edda Rusk.", True),  # the passage's own words, reordered
    ("The town of Quillon lies on Merrow island.", True),  # 'lies' is not in the passage: 4 of 5 words are
    ("Edda Rusk built the first stone quays of Quillon.", True),  # a plural meets its singular
    ("Quillon was founded in 1641 by Edda Rusk.", False),  # a number changed
    ("The Grey Finger is 13 metres tall.", False),
    ("Quillon was founded in 1614 by Edda Rusk and Olo Brand.", False),  # a name invented
    ("The Kestrel K8 is made in Quillon.", False),  # a model number changed
    ("The Kestrel K7 is the least important chip made in Quillon.", False),  # turned around by one word
    ("Model.Status: Model.Loaded;", False),  # what a kept self-edit held
    ("The sea sings softly to the moon.", False),
    ("1. Quillon is a harbour town.", True),  # list markers and labels are no words of the claim
    ("Question 2: Who founded Quillon? Answer: Edda Rusk", True),
])
def test_a_sentence_is_grounded_when_its_numbers_names_and_most_words_are_in_the_passage(sentence, grounded):
    check = sentence_check(sentence, PASSAGE, 0.6)
    assert check.grounded is grounded, check
    assert check.missing == {"Quillon was founded in 1641 by Edda Rusk.": ("1641",),
                             "The town of Quillon lies on Merrow island.": ("lies",),
                             "Model.Status: Model.Loaded;": ("modelstatus", "modelloaded")}.get(sentence, check.missing)


def test_the_threshold_decides_a_paraphrase():
    paraphrase = "Quillon is a tiny harbour settlement."  # tiny, settlement: 2 of 4 content words missing
    assert sentence_check(paraphrase, PASSAGE, 0.5).grounded and not sentence_check(paraphrase, PASSAGE, 0.6).grounded
    assert sentence_check("It was.", PASSAGE, 1.0).claims == 0  # no content word: claims nothing, kept
    assert sentence_check("It was.", PASSAGE, 1.0).grounded


def test_forms_of_a_word_meet_and_list_markers_claim_nothing():
    """From SmolLM2's self-quiz on examples/learn: "Who won the race?" was dropped (the passage says "winning")
    before irregular pasts and `er` met their stems; a list's bare "1." was dropped as a number not in the passage."""
    race = "The record was set by a crew led by Marta Lenk. The winning crew receives the Copper Oar."
    assert quiz_check("Who won the race?", "Marta Lenk", race + " It is a race.", 0.6).grounded
    assert sentence_check("Marta Lenk was the leader of the winners.", race, 0.6).grounded
    assert not sentence_check("Marta Lenk won the Gold Oar.", race, 0.6).grounded  # the name: Copper Oar
    assert sentence_check("1.", race, 0.6).claims == 0 and sentence_check("2)", race, 0.6).claims == 0


def test_a_quiz_answer_must_be_in_the_passage_and_its_question_grounded():
    cases = [("Who founded Quillon?", "Edda Rusk", True), ("Who founded Quillon?", "the salt trader Edda Rusk.", True),
             ("WHO FOUNDED QUILLON", "edda   rusk", True),  # case, punctuation, articles, spaces normalised
             ("Who founded Quillon?", "Olo Brand", False),  # the answer is not in the passage
             ("When was Quillon founded?", "1641", False), ("How tall is the Grey Finger?", "31 metres", True),
             ("Which chip is the most important?", "The Kestrel K7", True),
             ("Which chip is the least important?", "The Kestrel K7", False),  # the new user's question
             ("Who founded the Lorn Bridge?", "Edda Rusk", False)]  # a name the passage does not hold
    for question, answer, kept in cases:
        assert quiz_check(question, answer, PASSAGE, 0.6).grounded is kept, (question, answer)
    assert quiz_check("Who founded Quillon?", "Olo Brand", PASSAGE, 0.6).missing == ("Olo Brand",)


def test_ground_quiz_keeps_grounded_questions_and_counts_every_ungrounded_one_once():
    quiz = Passage("q", "Quillon", PASSAGE, (QA("Who founded Quillon?", ("Edda Rusk",)),
                                            QA("Which chip is the least important?", ("Kestrel K7",))))
    written = [("Who founded Quillon?", "Edda Rusk"), ("Who rules Quillon?", "Olo Brand"),
               ("Who rules Quillon", "Olo Brand."), ("Which chip is the least important?", "Kestrel K7")]
    kept, dropped = ground_quiz(quiz, written, 0.6)
    assert kept == Passage("q", "Quillon", PASSAGE, (QA("Who founded Quillon?", ("Edda Rusk",)),))
    assert dropped == [{"question": "Which chip is the least important?", "answer": "Kestrel K7", "missing": ["least"]},
                       {"question": "Who rules Quillon?", "answer": "Olo Brand", "missing": ["Olo Brand"]}]
    for threshold in (0.0, 1.0):  # every word of the first is found; 'least' must be found at any threshold
        assert ground_quiz(quiz, [], threshold)[0].questions == quiz.questions[:1]


def test_a_self_edit_keeps_its_grounded_sentences_line_by_line_or_is_not_kept():
    edit = ("Quillon is a harbour town on Merrow. It was founded in 1614 by Edda Rusk and Olo Brand.\n"
            "---\n"
            "The Grey Finger is 31 metres tall.\n"
            "The Grey Finger was finished in 1702.")
    check = edit_check(edit, PASSAGE, 0.6, 0.5)
    assert check.kept and check.n_sentences == 4  # the '---' claims nothing: kept, not counted
    assert check.text == "Quillon is a harbour town on Merrow.\n---\nThe Grey Finger is 31 metres tall."
    assert [(d.text, d.missing) for d in check.dropped] == [
        ("It was founded in 1614 by Edda Rusk and Olo Brand.", ("olo", "brand")),
        ("The Grey Finger was finished in 1702.", ("finished", "1702"))]
    p = Passage("q", "Quillon", PASSAGE, ())
    assert to_documents(p, check.text)[:2] == ["Quillon\nQuillon is a harbour town on Merrow.",
                                               "Quillon\nThe Grey Finger is 31 metres tall."]  # '---' separates
    poem = "O harbour town of salt and sea,\nthy lighthouse sings its song to me.\nQuillon is on Merrow."
    assert not edit_check(poem, PASSAGE, 0.6, 0.5).kept  # 1 of 3 lines found: under half
    assert edit_check(poem, PASSAGE, 0.6, 0.3).kept and edit_check(poem, PASSAGE, 0.6, 0.3).text == \
        "Quillon is on Merrow."
    assert not edit_check("Model.Status: Model.Loaded;", PASSAGE, 0.6, 0.0).kept  # nothing grounded: never kept


# ----------------------------------------------------------------------------------------------------------------------
# A learn run: the table, seal-learn.json, the model card and the report show what was dropped

TOR = "# Tor\nTor is a harbour town with 12 bridges.\n\nIt was founded in 1201 by Ama Venn.\n"
TINY = ["model.name=tiny-llama", "model.threads=1", "inner.lora.r=4", "inner.epochs=1", "learn.k=2",
        "self_edit.max_new_tokens=16", "reward.self_quiz.max_new_tokens=16", "learn.epochs=1"]
EDITS = [("Tor is a harbour town with 12 bridges.\nIt was founded in 1301 by Ama Venn and Olo Brand.\n"
          "Ama Venn founded Tor in 1201.", 0.2),  # one invented sentence of three
         ("Roses are red,\nthe sea is blue,\nTor is a town.", 0.3)]  # a poem, the best reward: 1 line of 3 found


def test_a_learn_run_shows_what_grounding_dropped(tmp_path, monkeypatch, tiny):
    """Resumed after its self-edits and their inner loops were stored (rewards set here: tiny-llama's training on
    these documents lowers the answers' likelihood, and a passage keeps only a positive reward): the quiz's
    ungrounded questions are dropped and counted, the poem with the best reward is passed over for the next, whose
    invented sentence is dropped; the table, seal-learn.json, the model card and the report say so."""
    from seal.learn.documents import read_sources, to_passages
    from seal.recipes.learn import format_learn, run_learn
    from seal.reports.html import build_report

    def rigged(self, passage):  # the quiz the model "wrote": one question kept, one turned around, one made up
        if passage.id not in self.self_quizzes:
            self.written_pairs[passage.id] = [("What is this about?", passage.title), ("Who rules Tor?", "Olo Brand")]
            self.self_quizzes[passage.id] = Passage(passage.id, passage.title, passage.context, (
                QA("What is this about?", (passage.title,)), QA("Which bridge is the least used?", ("Tor",))))
        return self.self_quizzes[passage.id]

    monkeypatch.setattr(KnowledgeDomain, "quiz_of", rigged)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "tor.md").write_text(TOR)
    cfg = load_config(LearnConfig, None, [*TINY, f"learn.paths=[{json.dumps(str(tmp_path / 'notes'))}]"])
    run = create_run(tmp_path / "runs", "learn", "learn", to_dict(cfg), argv=["seal", "learn", "notes"])
    [passage] = to_passages(read_sources([tmp_path / "notes"])[0], tiny[1], 256)
    for j, (text, reward) in enumerate(EDITS):  # as a run interrupted after its inner loops stored them
        edit = run.store.add_self_edit(key=keys.self_edit(0, "learn", passage.id, j), context_id=passage.id, round=0,
                                       condition="learn", text=text, sampling={})
        run.store.add_inner_result(key=keys.inner(0, "learn", passage.id, j, 0), self_edit_id=edit,
                                   context_id=passage.id, round=0, condition="learn", seed=0, score=reward,
                                   base_score=0.0, n_questions=1, details={}, timings={})
    results = run_learn(run, cfg)

    g = results["grounding"]
    assert (g["questions_kept"], g["questions_dropped"]) == (1, 2)
    assert (g["sentences"], g["sentences_dropped"], g["edits_passed_over"]) == (3, 1, 1)
    assert results["kept"] == {passage.id: 0.2} and results["kept_self_edits"] == {
        passage.id: "Tor is a harbour town with 12 bridges.\nAma Venn founded Tor in 1201."}
    table = format_learn(results)
    assert ("not in the passage  2 self-quiz questions dropped (1 kept), 1 of 3 kept self-edit sentences dropped, "
            "1 self-edits passed over (under 50% of their sentences found)") in table
    assert "only its sentences found in the passage are trained on" in table

    record = json.loads((run.dir / "adapter" / "seal-learn.json").read_text())
    assert record["grounding"] == g and not any("1301" in d or "Roses" in d for d in record["documents"])
    [entry] = record["passages"]
    assert entry["questions"] == [["What is this about?", passage.title]]
    assert [d["question"] for d in entry["ungrounded"]["questions"]] == ["Which bridge is the least used?",
                                                                        "Who rules Tor?"]
    assert [d["text"] for d in entry["ungrounded"]["sentences"]] == [
        "It was founded in 1301 by Ama Venn and Olo Brand."] and entry["ungrounded"]["passed_over"] == [EDITS[1][0]]
    assert "Grounding: only what the passages hold was kept" in (run.dir / "adapter" / "README.md").read_text()

    page = build_report(run.dir).read_text()
    assert "Not found in the passage (dropped)" in page and "2 self-quiz questions dropped (1 kept)" in page
    assert "It was founded in 1301 by Ama Venn and Olo Brand." in page and "Who rules Tor? -&gt; Olo Brand" in page
    assert "Roses are red" in page and "self-edit passed over" in page


def test_a_self_edit_that_could_never_be_kept_gets_no_inner_loop(tmp_path, monkeypatch, tiny):
    """Grounding screens the self-edits before their inner loops: the poem (1 line of 3 found) is passed over
    untried and listed as passed over, the grounded self-edit gets its inner loop; with grounding off both do."""
    from seal.learn.documents import read_sources, to_passages
    from seal.recipes.learn import run_learn

    def rigged(self, passage):
        if passage.id not in self.self_quizzes:
            self.written_pairs[passage.id] = [("What is this about?", passage.title)]
            self.self_quizzes[passage.id] = Passage(passage.id, passage.title, passage.context,
                                                    (QA("What is this about?", (passage.title,)),))
        return self.self_quizzes[passage.id]

    monkeypatch.setattr(KnowledgeDomain, "quiz_of", rigged)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "tor.md").write_text(TOR)
    for enabled in (True, False):
        cfg = load_config(LearnConfig, None, [*TINY, f"learn.paths=[{json.dumps(str(tmp_path / 'notes'))}]",
                                              f"learn.grounding.enabled={str(enabled).lower()}"])
        run = create_run(tmp_path / f"runs-{enabled}", "learn", "learn", to_dict(cfg), argv=["seal", "learn"])
        [passage] = to_passages(read_sources([tmp_path / "notes"])[0], tiny[1], 256)
        for j, (text, _) in enumerate(EDITS):  # as a run interrupted after sampling its self-edits
            run.store.add_self_edit(key=keys.self_edit(0, "learn", passage.id, j), context_id=passage.id, round=0,
                                    condition="learn", text=text, sampling={})
        results = run_learn(run, cfg)
        tried = [run.store.has("inner_results", keys.inner(0, "learn", passage.id, j, 0)) for j in range(2)]
        if enabled:
            assert tried == [True, False]
            record = json.loads((run.dir / "adapter" / "seal-learn.json").read_text())
            assert record["passages"][0]["ungrounded"]["passed_over"] == [EDITS[1][0]]
            assert results["grounding"]["edits_passed_over"] == 1
        else:
            assert tried == [True, True]
        run.close()


def test_a_quiz_stored_before_grounding_is_grounded_as_it_is_read(tmp_path, tiny):
    """A run from before `learn.grounding` stored its quizzes without the ungrounded questions: resumed, each is
    grounded on read (the pairs its filter dropped unknown) and the inner loops ask the grounded one."""
    from seal.domains.knowledge.quiz import make_grader
    from seal.domains.knowledge.rewards import make_reward
    from seal.learn.keys import quiz
    from seal.recipes.learn import write_quizzes

    cfg = load_config(LearnConfig, None, TINY)
    run = create_run(tmp_path / "runs", "learn", "learn", to_dict(cfg), argv=[])
    p = Passage("p1", "Tor", "Tor is a harbour town with 12 bridges.", ())
    old = Passage("p1", "Tor", p.context, (QA("How many bridges has Tor?", ("12",)),
                                           QA("How many bridges has Pell?", ("12",))))
    run.store.add_evaluation(key=quiz("p1"), condition="learn", payload=old.to_dict())
    domain = KnowledgeDomain(*tiny, cfg, make_grader(cfg.quiz), make_reward("self-quiz"))
    quizzes, ungrounded = write_quizzes(run.store, domain, [p], 0.6)
    assert [qa.question for qa in quizzes["p1"].questions] == ["How many bridges has Tor?"]
    assert ungrounded == {"p1": [{"question": "How many bridges has Pell?", "answer": "12", "missing": ["pell"]}]}
    assert domain.quiz_of(p) == quizzes["p1"]  # what the inner loops ask
    assert write_quizzes(run.store, domain, [p], None)[0]["p1"] == old  # grounding off: as stored


def test_grounding_settings_are_shown_and_checked(capsys):
    from test_bad_input import seal_in_process

    code, out, _ = seal_in_process(capsys, ["config", "show", "learn"])
    assert code == 0 and "\n  grounding:\n    # keep a self-quiz question only when" in out
    assert "    enabled: true\n" in out and "    threshold: 0.6\n" in out and "    min_kept: 0.5\n" in out
    code, _, err = seal_in_process(capsys, ["learn", "notes", "--set", "learn.grounding.threshold=1.5"])
    assert code == 2 and err == "error: learn.grounding.threshold: must be in [0, 1], got 1.5\n"


def test_results_from_before_grounding_read_as_before():
    from seal.recipes.learn import format_learn

    results = {"n_passages": 1, "n_sources": 1, "n_unquizzed": 0, "n_kept": 1, "n_quizzed": 1,
               "self_quiz": {"before": -2.0, "after": -1.0}, "retention": None, "adapter": "a", "skipped": []}
    assert "its claims are not checked" in format_learn(results) and "not in the passage" not in format_learn(results)

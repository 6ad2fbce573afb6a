import pytest

from seal.domains.knowledge.data import Passage
from seal.domains.knowledge.parse import to_documents
from seal.domains.knowledge.prompts import FAMILIES, load_families, self_edit_prompt
from seal.errors import ConfigError, DataError

P = Passage("p", "Tor", "Tor is a harbour town of 900 people.", ())


@pytest.mark.parametrize("family", sorted(set(FAMILIES) - {"self-qa"}))
def test_line_families_give_one_document_per_line_plus_the_passage(family):
    prompt = self_edit_prompt(family, P.title, P.context)
    assert P.context in prompt and P.title in prompt
    docs = to_documents(P, "1. Tor is a town.\n\n  Tor has 900 people.  \n", family)
    assert docs == ["Tor\nTor is a harbour town of 900 people.", "Tor\n1. Tor is a town.", "Tor\nTor has 900 people."]


def test_self_qa_gives_one_document_per_pair():
    text = "Question: How many people live in Tor?\nAnswer: 900\n\nQ2: What is Tor?\nA2: a harbour town\n"
    docs = to_documents(P, text, "self-qa", include_passage=False)
    assert docs == ["Tor\nHow many people live in Tor? 900", "Tor\nWhat is Tor? a harbour town"]


@pytest.mark.parametrize("text", ["", "   \n\n", None])
def test_empty_generations_keep_the_passage_only(text):
    assert to_documents(P, text, "implications") == ["Tor\nTor is a harbour town of 900 people."]


def test_unknown_family_and_user_families(tmp_path):
    with pytest.raises(ConfigError, match="unknown prompt family 'nope'"):
        self_edit_prompt("nope", "t", "p")
    path = tmp_path / "fam.yaml"
    path.write_text('facts: "List the facts about {title}:\\n{passage}"\n')
    families = load_families(path)
    assert self_edit_prompt("facts", "Tor", "x", families) == "List the facts about Tor:\nx"
    path.write_text("broken: 'no placeholder'\n")
    with pytest.raises(DataError, match="broken"):
        load_families(path)

"""Self-edit -> documents as SEAL's build_train_sequences(..., split_newlines=True) builds them."""

import json
import re

import pytest

from seal.domains.knowledge.data import Passage, load_passages, select_passages
from seal.domains.knowledge.parse import to_documents
from seal.domains.knowledge.prompts import FAMILIES, load_families, self_edit_prompt
from seal.domains.knowledge.selfedit import load_external_self_edits
from seal.errors import ConfigError, DataError

P = Passage("p", "Tor", "Tor is a harbour town of 900 people.\n", ())
PASSAGE_DOC = "Tor\nTor is a harbour town of 900 people."


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_one_document_per_line_then_the_passage(family):
    prompt = self_edit_prompt(family, P.title, P.context)
    assert P.context in prompt and P.title in prompt
    docs = to_documents(P, "Tor is a town.\n\n  Tor has 900 people.  \n---\nTor is old. --- It has a port.\n")
    assert docs == ["Tor\nTor is a town.", "Tor\nTor has 900 people.", "Tor\nTor is old.", "Tor\nIt has a port.",
                    PASSAGE_DOC]


def test_a_heading_that_introduces_a_numbered_list_is_dropped():
    docs = to_documents(P, "**Implications:**\n\n1. Tor is a town.\n   - with 900 people\n2. Tor has a port.")
    assert docs == ["Tor\n1. Tor is a town.", "Tor\n- with 900 people", "Tor\n2. Tor has a port.", PASSAGE_DOC]
    # only the first line, and only when the second starts the list with "1."
    assert to_documents(P, "Tor:\n2. Tor has a port.")[:2] == ["Tor\nTor:", "Tor\n2. Tor has a port."]
    assert to_documents(P, "1. Tor is a town.\n2. Tor has a port.")[0] == "Tor\n1. Tor is a town."


def test_self_qa_gives_one_document_per_numbered_question():
    text = ("How many people live in Tor?\nAnswer: 900\n\nQuestion 2: What is Tor?\nAnswer: a town\n---\n"
            "Question  3: Is there a port?\nAnswer: yes\n")
    # the first piece is stripped when "Question 1: " goes in front; the others keep their trailing newlines
    assert to_documents(P, text) == ["Tor\nQuestion 1: How many people live in Tor?\nAnswer: 900",
                                     "Tor\nQuestion 2: What is Tor?\nAnswer: a town\n---",
                                     "Tor\nQuestion  3: Is there a port?\nAnswer: yes", PASSAGE_DOC]
    # unnumbered questions are not SEAL's self-QA form: one document per line
    assert len(to_documents(P, "Question: What is Tor?\nAnswer: a town")) == 3


@pytest.mark.parametrize("text", ["", "   \n\n", "---", None])
def test_empty_generations_keep_the_passage_only(text):
    assert to_documents(P, text) == [PASSAGE_DOC]


def test_include_passage_false_leaves_it_out():
    assert to_documents(P, "Tor is a town.", include_passage=False) == ["Tor\nTor is a town."]


def independent_count(text: str) -> int:
    """SEAL's rule read independently of parse.py: the number of self-edit documents (passage not counted)."""
    if re.search(r"Question\s+\d+:", text) and re.search(r"Answer\s*:", text):
        return 1 + len(re.findall(r"\nQuestion\s+\d+:", text.strip()))
    lines = [ln for ln in text.replace("---", "\n").splitlines() if not ln.isspace() and ln]
    return len(lines) - (len(lines) > 1 and lines[1].lstrip().startswith("1."))


@pytest.mark.parametrize("name", ["base_val", "gpt4_1_val", "iter2_val"])
def test_document_counts_on_seal_released_self_edits(shared_dir, name):
    path = shared_dir / "data" / "seal-self-edits" / f"{name}.json"
    items = json.loads(path.read_text())
    for item in items:
        p = Passage("x", item["title"], item["context"], ())
        for text in item["completions"]:
            docs = to_documents(p, text)
            assert len(docs) == independent_count(text) + 1
            assert docs[-1] == f"{item['title']}\n{item['context'].strip()}"
            assert all(d.startswith(item["title"] + "\n") and d != item["title"] + "\n" for d in docs)


def test_gpt4_1_self_edit_of_evaluation_passage_7(shared_dir):
    """Victoria (Australia), SEAL's 8th evaluation passage: the `**Implications:**` heading goes, 25 documents."""
    data = shared_dir / "data"
    passage = select_passages(load_passages(data / "squad" / "squad_val.json"), 1, 42, offset=7)[0]
    text = load_external_self_edits(data / "seal-self-edits" / "gpt4_1_val.json")[passage.id][0]
    docs = to_documents(passage, text)
    assert passage.title == "Victoria (Australia)" and text.startswith("**Implications:**\n\n1. ")
    assert len(docs) == 25
    assert docs[0] == "Victoria (Australia)\n1. **Private vs Public School Enrolment:**"
    assert docs[-1].startswith("Victoria (Australia)\nAs of August 2010, Victoria had 1,548 public schools")


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

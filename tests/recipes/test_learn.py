"""`seal learn` and `seal ask` (our extension) on the tiny random-weight model: reading and splitting files, bad
input, kept self-edits, the adapter directory end to end through the command line, `--into`, and `seal ask`.
Nothing here depends on what tiny-llama writes."""

import hashlib
import json
import os
import subprocess
import sys

import pytest

from seal.config import load_config, to_dict
from seal.domains.knowledge.data import QA, Passage
from seal.domains.knowledge.domain import KnowledgeDomain
from seal.errors import DataError
from seal.learn.config import LearnConfig
from seal.learn.documents import format_skipped, read_sources, sections, split_section, to_passages
from seal.recipes.learn import format_learn, run_learn
from seal.store.runs import create_run

TINY = ["model.name=tiny-llama", "model.threads=1", "inner.lora.r=4", "inner.epochs=1", "learn.k=1",
        "self_edit.max_new_tokens=16", "reward.self_quiz.max_new_tokens=16", "learn.epochs=1"]
TOR = ("# Tor\nTor is a harbour town with 12 bridges.\n\nIt was founded in 1201 by Ama Venn.\n\n"
       "## Trade\nTor sells quelm.\n")
BRILL = "Brill is a river that floods every April.\n\nThe Brill has three fords.\n"


def n_tokens(tokenizer, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def write_notes(folder, files=(("tor.md", TOR), ("brill.md", BRILL))):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files:
        (folder / name).write_text(text)
    return folder


# ----------------------------------------------------------------------------------------------------------------------
# Reading and splitting


def test_headings_paragraphs_titles_and_stable_ids(tmp_path, tiny):
    _, tok = tiny
    notes = write_notes(tmp_path / "notes")
    sources, skipped = read_sources([notes])
    assert [s.name for s in sources] == ["notes/brill.md", "notes/tor.md"] and skipped == []  # sorted
    assert sources[1].sha256 == hashlib.sha256(TOR.encode()).hexdigest()
    passages = to_passages(sources, tok, 256)
    assert [(p.title, p.context) for p in passages] == [
        ("brill", "Brill is a river that floods every April.\n\nThe Brill has three fords."),
        ("tor: Tor", "Tor is a harbour town with 12 bridges.\n\nIt was founded in 1201 by Ama Venn."),
        ("tor: Trade", "Tor sells quelm.")]
    assert all(p.questions == () for p in passages)
    again = to_passages(read_sources([notes])[0], tok, 256)
    assert [p.id for p in again] == [p.id for p in passages] and len({p.id for p in passages}) == 3
    (notes / "tor.md").write_text(TOR.replace("12", "13"))
    changed = to_passages(read_sources([notes])[0], tok, 256)
    assert changed[1].id != passages[1].id and changed[2].id == passages[2].id
    # a plain text file has no headings; a heading inside a code fence is no heading
    assert sections("# not a heading\n\ntext", markdown=False) == [("", ["# not a heading", "text"])]
    assert sections("```\n# comment\n```", markdown=True) == [("", ["```\n# comment\n```"])]


def test_the_readme_example_notes_are_four_passages(tiny):
    """The worked example of the README reads examples/learn as its 4 passages, titled by file and heading."""
    from pathlib import Path

    _, tok = tiny
    sources, skipped = read_sources([Path(__file__).parents[2] / "examples" / "learn"])
    titles = [p.title for p in to_passages(sources, tok, LearnConfig().learn.max_passage_tokens)]
    assert skipped == [] and titles == ["festival: The Lantern Night of Quillon", "harbour: History",
                                        "harbour: Today", "recipes: Food of Merrow"]


def test_the_token_budget(tiny):
    _, tok = tiny
    long = " ".join(f"Sentence number {i} is here." for i in range(30))
    paragraphs = ["One short line.", "Another short line.", long, "x" * 400]
    budget = 40
    parts = split_section(paragraphs, tok, budget)
    assert all(n_tokens(tok, p) <= budget for p in parts)
    assert parts[0] == "One short line.\n\nAnother short line."  # paragraphs packed together
    assert any(p.startswith("Sentence number 0 is here. Sentence number 1") for p in parts)  # split at sentence ends
    assert all(p.endswith("here.") for p in parts if p.startswith("Sentence"))
    assert sum(p.count("x") for p in parts) == 400 and len([p for p in parts if "x" in p]) > 1  # hard split
    with pytest.raises(ValueError):
        split_section(paragraphs, tok, 0)


def test_bad_input_is_skipped_counted_or_one_line(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.txt").write_text("Tor is a town.")
    (folder / "empty.md").write_text("  \n\n")
    (folder / "a.bin").write_bytes(b"\x00\x01\x02")
    (folder / "nul.txt").write_bytes(b"text\x00more")
    (folder / "latin.md").write_bytes("caf\xe9".encode("latin-1"))
    (folder / "b.docx").write_text("not really a docx")
    (folder / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0\x00\x00")  # a Word 97 file: named, with the way out
    (folder / ".hidden.txt").write_text("left out")
    sources, skipped = read_sources([folder])
    assert [s.name for s in sources] == ["mixed/good.txt"]
    assert format_skipped(skipped) == ("skipped 6 files: mixed/a.bin (binary), mixed/b.docx (unreadable docx), "
                                       "mixed/empty.md (empty), mixed/latin.md (binary), mixed/nul.txt (binary), "
                                       "mixed/old.doc (unsupported type: an old Word file: save it as .docx or .txt)")
    with pytest.raises(DataError, match="no such file or folder") as e:
        read_sources([folder / "good.txt", tmp_path / "missing.md"])
    assert "\n" not in str(e.value)
    (folder / "good.txt").unlink()
    with pytest.raises(DataError, match=r"no readable text in .*\(skipped 6 files: ") as e:
        read_sources([folder])
    assert "\n" not in str(e.value)
    assert str(e.value).endswith("; seal learn reads text (.txt), Markdown (.md, .markdown), HTML (.html, .htm), "
                                 "Word (.docx) and PDF (.pdf) files")
    (folder / "sub").mkdir()
    with pytest.raises(DataError, match="no files"):
        read_sources([folder / "sub"])


def test_links_back_and_files_that_are_no_regular_file_are_read_once_or_skipped(tmp_path):
    """A folder that links to itself was read 41 times (until the path grew too long), a FIFO's open waited forever
    for a writer; now each real file is read once and only regular files are read."""
    import signal
    import socket

    folder = tmp_path / "notes"
    (folder / "sub").mkdir(parents=True)
    (folder / "tor.md").write_text("Tor is a town.")
    (folder / "sub" / "brill.txt").write_text("Brill is a river.")
    (folder / "loop").symlink_to(folder, target_is_directory=True)  # notes/loop/loop/loop/... without end
    (folder / "sub" / "up").symlink_to(folder, target_is_directory=True)
    (folder / "again.md").symlink_to(folder / "tor.md")
    os.mkfifo(folder / "fifo.txt")
    (folder / "null.txt").symlink_to("/dev/null")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(folder / "sock.md"))

        def hung(*_):
            raise TimeoutError("read_sources waited on a file that is no regular file")

        previous = signal.signal(signal.SIGALRM, hung)
        signal.alarm(30)
        try:
            sources, skipped = read_sources([folder, folder / "loop" / "tor.md", folder / "fifo.txt"])
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
    assert [s.name for s in sources] == ["notes/again.md", "notes/sub/brill.txt"]  # again.md is tor.md, read once
    assert format_skipped(skipped) == ("skipped 3 files: notes/fifo.txt (not a regular file), notes/null.txt (not a "
                                       "regular file), notes/sock.md (not a regular file)")
    with pytest.raises(DataError, match=r"no readable text in .*fifo.txt \(skipped 1 file: fifo.txt \(not a regular"):
        read_sources([folder / "fifo.txt"])


def tiny_pdf(text: str) -> bytes:
    """A one-page PDF showing `text` in Helvetica, written by hand (objects, cross-reference table, trailer)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)


def test_html_word_and_pdf_files_are_read_as_text(tmp_path, tiny):
    """HTML is its text (tags, scripts and styles gone; headings are headings), a .docx its paragraphs (Word headings
    are headings), a PDF its pages' text; a damaged PDF or .docx is skipped by name, never the end of the run."""
    import docx

    _, tok = tiny
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "page.html").write_text(
        "<html><head><title>ignored</title><style>p {color: red}</style></head><body><h1>Tor</h1>"
        "<p>Tor has <b>12</b> bridges.</p><script>var x = 1;</script><h2>Trade</h2><ul><li>quelm</li>"
        "<li>salt &amp; fish</li></ul></body></html>")
    document = docx.Document()
    document.add_heading("Brill", level=1)
    document.add_paragraph("The Brill floods every April.")
    document.add_paragraph("It has three fords.")
    document.save(folder / "river.docx")
    (folder / "pell.pdf").write_bytes(tiny_pdf("Quelm is mined on Pell island."))
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\nnot a pdf at all")
    sources, skipped = read_sources([folder])
    assert [s.name for s in sources] == ["notes/page.html", "notes/pell.pdf", "notes/river.docx"]
    assert format_skipped(skipped) == "skipped 1 file: notes/broken.pdf (unreadable pdf)"
    html, pdf, word = sources
    assert "<" not in html.text and "var x" not in html.text and "color" not in html.text and "ignored" not in html.text
    assert "Quelm is mined on Pell island." in pdf.text
    assert [(p.title, p.context) for p in to_passages([html, word], tok, 256)] == [
        ("page: Tor", "Tor has 12 bridges."), ("page: Trade", "quelm\n\nsalt & fish"),
        ("river: Brill", "The Brill floods every April.\n\nIt has three fords.")]


def test_a_missing_pdf_reader_skips_the_pdf_not_the_run(tmp_path, monkeypatch):
    """pypdf is a dependency; an install without it still reads the other files and names the PDF with the fix."""
    monkeypatch.setitem(sys.modules, "pypdf", None)  # `import pypdf` raises ImportError
    (tmp_path / "paper.pdf").write_bytes(tiny_pdf("Tor"))
    (tmp_path / "notes.md").write_text("Tor is a town.")
    sources, skipped = read_sources([tmp_path / "paper.pdf", tmp_path / "notes.md"])
    assert [s.name for s in sources] == ["notes.md"]
    assert format_skipped(skipped) == "skipped 1 file: paper.pdf (pypdf is not installed: pip install pypdf)"


# ----------------------------------------------------------------------------------------------------------------------
# The recipe in process, with a quiz that keeps a question: self-edits sampled, scored, the best positive one kept


def test_self_edits_are_scored_kept_and_resumed(tmp_path, monkeypatch):
    def one_question(self, passage):  # the written quiz, rigged: one question whose answer is in the text
        return Passage(passage.id, passage.title, passage.context, (QA("What is this about?", (passage.title,)),))

    monkeypatch.setattr(KnowledgeDomain, "quiz_of", one_question)
    notes = write_notes(tmp_path / "notes")
    cfg = load_config(LearnConfig, None, [*TINY, "learn.k=2", f"learn.paths=[{json.dumps(str(notes))}]",
                                          "learn.grounding.enabled=false"])  # tiny-llama's self-edits: no sentence
    run = create_run(tmp_path / "runs", "learn", "learn", to_dict(cfg), argv=[])  # found in a passage
    results = run_learn(run, cfg)
    assert (results["n_passages"], results["n_quizzed"], results["n_unquizzed"]) == (3, 3, 0)
    rows = run.store.rows("inner_results", "condition='learn'")
    assert len(rows) == 3 * 2 and len(run.store.rows("self_edits")) == 3 * 2
    best = {}
    for r in rows:
        if r["reward"] is not None and r["reward"] > 0:
            best[r["context_id"]] = max(best.get(r["context_id"], r["reward"]), r["reward"])
    assert results["kept"] == best and results["n_kept"] == len(best)
    assert isinstance(results["self_quiz"]["before"], float) and isinstance(results["self_quiz"]["after"], float)
    record = json.loads((run.dir / "adapter" / "seal-learn.json").read_text())
    assert all(p["questions"] == [["What is this about?", p["title"]]] for p in record["passages"])
    assert {p["id"] for p in record["passages"] if p["self_edit"] is not None} == set(best)
    assert "self-quiz loglik" in format_learn(results)
    assert run_learn(run, cfg) == results  # resumed after the adapter was recorded: nothing is redone


def test_an_interrupted_run_redoes_nothing_and_the_adapter_says_what_it_is(tmp_path, monkeypatch, capsys):
    """Killed while training the adapter, a resumed run writes no quiz, self-edit or inner loop again; the adapter
    records a base model given as a relative folder by its absolute path (it loads from any folder, with PEFT too),
    has a model card, scores the person's own quiz, and --into updates it in place, keeping the old one."""
    import peft

    import seal.recipes.learn as recipe
    from seal.models import load

    written = []

    def one_question(self, passage):  # rigged, as above, and kept as the real one keeps them; counted
        if passage.id not in self.self_quizzes:
            written.append(passage.id)
            self.self_quizzes[passage.id] = Passage(passage.id, passage.title, passage.context,
                                                    (QA("What is this about?", (passage.title,)),))
        return self.self_quizzes[passage.id]

    monkeypatch.setattr(KnowledgeDomain, "quiz_of", one_question)
    model, tok = load("tiny-llama", dtype="fp32", device="cpu")
    model.save_pretrained(tmp_path / "work" / "base")
    tok.save_pretrained(tmp_path / "work" / "base")
    monkeypatch.chdir(tmp_path / "work")
    notes = write_notes(tmp_path / "notes")
    (tmp_path / "quiz.tsv").write_text("# my questions\nWho founded Tor?\tAma Venn\nHow many fords?\t3 | three\n"
                                       "What is Tor?\n")
    cfg = load_config(LearnConfig, None, [*TINY, "model.name=./base", f"learn.paths=[{json.dumps(str(notes))}]",
                                          f"learn.quiz={tmp_path / 'quiz.tsv'}",
                                          "learn.grounding.enabled=false"])  # tiny-llama's self-edits all ungrounded
    run = create_run(tmp_path / "runs", "learn", "learn", to_dict(cfg), argv=["seal", "learn", str(notes)])
    train = recipe.train_lora

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(recipe, "train_lora", killed)
    with pytest.raises(KeyboardInterrupt):
        run_learn(run, cfg)
    plan_line = next(line for line in capsys.readouterr().err.splitlines() if "passages from" in line)
    assert "learn: 3 passages from 2 files: 3 quizzes to write, 3 passages' self-edits to write, 3 inner loops" in \
        plan_line and "estimated after the first quiz" in plan_line
    units = {t: run.store.count(t) for t in ("self_edits", "inner_results")}
    assert sorted(written) == sorted({p["id"] for p in run.store.rows("contexts")}) and units["inner_results"] == 3
    written.clear()
    monkeypatch.setattr(recipe, "train_lora", train)
    results = run_learn(run, cfg)
    assert written == [] and {t: run.store.count(t) for t in units} == units  # nothing finished was redone
    assert results["quiz"]["scored"] == 2 and len(results["quiz"]["items"]) == 3  # the third has no answer
    assert "your quiz" in format_learn(results) and results["rates"]["generated token"] > 0

    adapter = tmp_path / "runs" / run.dir.name / "adapter"
    base = str(tmp_path / "work" / "base")
    assert json.loads((adapter / "seal-learn.json").read_text())["base_model"]["name"] == base
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == base
    card = (adapter / "README.md").read_text()
    assert f"Base model: `{base}`, the checkpoint in the local directory" in card
    assert "Title: \nQuestion: <your question>\nAnswer:" in card and f"seal learn {notes}" in card
    assert "Your quiz, base model -> adapter (2 questions with expected answers" in card
    monkeypatch.chdir(tmp_path)  # elsewhere: the adapter names its base so that it loads
    assert recipe.load_adapted(adapter)[0].peft_config["default"].base_model_name_or_path == base
    assert peft.PeftModel.from_pretrained(load(base, dtype="fp32", device="cpu")[0], str(adapter)) is not None

    more = write_notes(tmp_path / "more", [("quelm.txt", "Quelm is mined on Pell island since 1750.\n")])
    again = load_config(LearnConfig, None, [*TINY, f"model.name={base}", f"learn.paths=[{json.dumps(str(more))}]",
                                            f"learn.into={adapter}"])
    second = run_learn(create_run(tmp_path / "runs", "learn", "learn", to_dict(again), argv=[]), again)
    assert second["adapter"] == str(adapter) and second["previous"] == f"{adapter}.previous"
    assert len(json.loads((adapter / "seal-learn.json").read_text())["passages"]) == 4
    assert len(json.loads((tmp_path / "runs" / run.dir.name / "adapter.previous" / "seal-learn.json").read_text())[
        "passages"]) == 3  # the old adapter, kept
    assert second["quiz"] is None and second["quiz_retention"]["scored"] == 2  # the earlier quiz, asked again
    assert "earlier quizzes" in format_learn(second) and "previous adapter" in format_learn(second)


# ----------------------------------------------------------------------------------------------------------------------
# The command line end to end: learn, load the adapter, --into, ask


def seal(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
    """`seal ARGS...` in a subprocess; its output decoded by hand, since text mode would turn the "\r" of a
    gibberish answer into a line break."""
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "seal.cli", *map(str, args)], capture_output=True, env=env,
                          input=stdin.encode() if stdin is not None else None, timeout=600)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(errors="replace"),
                                       done.stderr.decode(errors="replace"))


def test_ctrl_c_names_the_resume_command_and_the_same_command_resumes(tmp_path):
    """In a log (stderr not a terminal): timestamped lines with the plan and the whole job's time left; Ctrl-C exits
    130 with one line giving the exact resume command; the same command again resumes that run (--new would not).
    Then `seal ask --file` answers a list into a table, with --set, and `seal report` shows the learn run."""
    import signal

    notes = write_notes(tmp_path / "notes")
    sets = [a for s in TINY for a in ("--set", s)] + ["--set", f"run.root={tmp_path / 'runs'}"]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "seal.cli", "learn", str(notes), *sets]
    # Ctrl-C's default action, whatever this process was started with: a shell's background job (a CI runner's)
    # ignores SIGINT, a disposition its children inherit, and Python then raises no KeyboardInterrupt
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    log = []
    for line in iter(proc.stderr.readline, b""):
        log.append(line.decode())
        if "passages from 2 files" in log[-1]:  # the plan: the run exists, no quiz is finished yet
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=300)
    log += err.decode().splitlines()
    assert proc.returncode == 130, log
    run_dir = next(tmp_path.glob("runs/*"))
    assert log[-1].strip() == f"interrupted; finished work is saved. Resume with: seal learn --resume {run_dir}"
    plan = next(line for line in log if "passages from 2 files" in line)
    assert plan.startswith("[") and "3 quizzes to write" in plan and "3 inner loops" in plan

    again = seal("learn", notes, *sets)
    assert again.returncode == 0, again.stderr
    assert f"learn: resuming the interrupted run {run_dir} of the same files and settings" in again.stderr
    assert again.stdout.strip().splitlines()[-1] == f"run: {run_dir}" and len(list(tmp_path.glob("runs/*"))) == 1
    lines = again.stderr.splitlines()
    assert any("trying each self-edit" in line for line in lines)
    assert all(line.startswith("[") for line in lines if "whole job" in line)
    fresh = seal("learn", notes, "--new", *sets)  # a new run: its time estimated from the finished run's rates
    assert fresh.returncode == 0 and len(list(tmp_path.glob("runs/*"))) == 2, fresh.stderr
    assert "expected about " in fresh.stderr and f"(rates measured by the run {run_dir})" in fresh.stderr

    questions = tmp_path / "q.tsv"
    questions.write_text("Who founded Tor?\tAma Venn\nHow many bridges?\n")
    asked = seal("ask", run_dir / "adapter", "--file", questions, "--compare", "--set", "model.threads=1")
    assert asked.returncode == 0, asked.stderr
    table = asked.stdout.splitlines()
    assert table[0] == "| # | question | expected | adapter | base |" and table[2].startswith("| 1 | Who founded Tor?")
    assert table[-2].startswith("adapter: ") and table[-1].startswith("base: ") and " of 1 right (" in table[-1]
    report = seal("report", run_dir)
    assert report.returncode == 0, report.stderr
    page = (run_dir / "report" / "report.html").read_text()
    assert "seal learn" in page and "self-quiz log-likelihood" in page and str(run_dir / "adapter") in page


def test_settings_and_questions_a_user_meets_are_checked_first(tmp_path, capsys):
    """`seal config show learn` prints the learn settings; `seal ask --set` takes the run-time model keys only, and
    a questions file or --quiz file without what it needs is one error line before any model loads."""
    from test_bad_input import seal_in_process

    code, out, _ = seal_in_process(capsys, ["config", "show", "learn"])
    assert code == 0 and "\nlearn:\n" in out and "  k: 3\n" in out and "  quiz: ''\n" in out
    (tmp_path / "no_answer.tsv").write_text("Who?\t\n")
    (tmp_path / "questions.txt").write_text("Who founded Tor?\n")
    notes = write_notes(tmp_path / "notes")
    for args, parts in [
        (["ask", tmp_path, "Who?", "--set", "model.name=gpt2"], ["only model.threads, model.device, model.dtype"]),
        (["ask", tmp_path, "Who?", "--set", "model.threads=-1"], ["model.threads", "-1"]),
        (["ask", tmp_path, "--file", tmp_path / "missing.txt"], ["missing.txt: cannot read the questions file"]),
        (["ask", tmp_path, "--file", tmp_path / "no_answer.tsv"], ["no_answer.tsv, line 1: no answer after the tab"]),
        (["learn", notes, "--quiz", tmp_path / "questions.txt", *[a for s in TINY for a in ("--set", s)],
          "--set", f"run.root={tmp_path / 'runs'}"], ["learn.quiz", "questions.txt", "no question with an expected"]),
    ]:
        code, out, err = seal_in_process(capsys, list(map(str, args)))
        assert code == 2 and err.count("\n") == 1 and err.startswith("error: "), (args, err)
        assert all(part in err for part in parts), (parts, err)
    assert not list(tmp_path.glob("runs/*"))  # the refused learn run holds nothing and is removed


def test_learn_and_ask_through_the_command_line(tmp_path):
    import peft

    from seal.models import load

    notes = write_notes(tmp_path / "notes")
    sets = [a for s in TINY for a in ("--set", s)] + ["--set", f"run.root={tmp_path / 'runs'}"]
    done = seal("learn", notes, *sets)
    assert done.returncode == 0, done.stderr
    run_dir = done.stdout.strip().splitlines()[-1].removeprefix("run: ")
    adapter = os.path.join(run_dir, "adapter")
    results = json.loads(open(os.path.join(run_dir, "results.json")).read())
    # tiny-llama's self-quiz keeps no question: every passage trains on its text alone, and the run still finishes
    assert results["n_passages"] == results["n_unquizzed"] == 3 and results["n_kept"] == 0
    assert "3 without a self-quiz question" in done.stdout
    record = json.loads(open(os.path.join(adapter, "seal-learn.json")).read())
    assert {s["name"]: s["sha256"] for s in record["sources"]} == {
        "notes/brill.md": hashlib.sha256(BRILL.encode()).hexdigest(),
        "notes/tor.md": hashlib.sha256(TOR.encode()).hexdigest()}
    assert record["documents"] == [f"{p['title']}\n{p['context']}" for p in record["passages"]]
    assert record["base_model"]["name"] == "tiny-llama" and not os.path.exists(adapter + ".partial")
    resumed = seal("learn", "--resume", run_dir)  # a finished run: the recorded results, nothing redone
    assert resumed.returncode == 0 and f"adapter             {adapter}" in resumed.stdout, resumed.stderr
    model, _ = load("tiny-llama", dtype="fp32", device="cpu")
    loaded = peft.PeftModel.from_pretrained(model, adapter)
    assert any("lora_" in name for name, _ in loaded.named_parameters())

    more = write_notes(tmp_path / "more", [("quelm.txt", "Quelm is mined on Pell island since 1750.\n")])
    into = seal("learn", more, "--into", adapter, *sets)
    assert into.returncode == 0, into.stderr
    assert f"adapter             {adapter}\n" in into.stdout  # updated in place, the old one kept beside it
    new_record = json.loads(open(os.path.join(adapter, "seal-learn.json")).read())
    assert len(new_record["passages"]) == 4 and len(new_record["sources"]) == 3
    assert set(record["documents"]) < set(new_record["documents"])  # the earlier documents are replayed
    assert new_record["retention"]["n_passages"] == 3 and "retention" in into.stdout
    assert json.loads(open(os.path.join(adapter + ".previous", "seal-learn.json")).read()) == record

    asked = seal("ask", adapter, "Who founded Tor?", "--compare")
    assert asked.returncode == 0, asked.stderr
    lines = asked.stdout.split("\n")  # gibberish answers may hold other line separators than "\n"
    assert len(lines) == 3 and lines[0].startswith("adapter:") and lines[1].startswith("base:")
    loop = seal("ask", adapter, stdin="First question?\nSecond question?\n\nnot asked\n")
    assert loop.returncode == 0, loop.stderr
    assert loop.stdout.count("\n") == 2  # one line per answer, up to the empty line
    missing = seal("ask", tmp_path / "nowhere", "Who?")
    assert missing.returncode == 2 and missing.stderr.strip().count("\n") == 0
    assert missing.stderr.startswith("error: ") and "no such adapter directory" in missing.stderr

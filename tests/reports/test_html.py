"""`seal report`: the page renders, self-contained, for a finished run and for an interrupted one (store rows written
directly, as the recipes write them), and headless Chromium draws it."""

import json
import re
import shutil
import subprocess

import pytest

from seal.reports.forgetting import build_forgetting, write_forgetting
from seal.reports.curve import write_curve
from seal.reports.html import build_report
from seal.store.runs import create_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
CONFIG = {"model": {"name": "tiny-llama"}, "quiz": {"metric": "short-contains"},
          "data": {"source": "builtin", "n": 4}, "inner": {"epochs": 10, "learning_rate": 0.001},
          "self_edit": {"family": "implications", "k": 5}, "outer": {"rounds": 2},
          "continual": {"sequence_length": 2, "sequences": 2, "mitigations": ["none", "replay"]}}
PASSAGES = ["p1", "p2", "p3"]


def fill(run, rounds: int, sequences: int) -> None:
    """Rows of a ReST-EM run (`rounds` rounds), an eval table, and `sequences` finished continual sequences."""
    store = run.store
    for pid in PASSAGES:
        store.put_context(pid, "knowledge", {"id": pid, "title": f"Title {pid}", "context": "...", "questions": []})
    for r in range(rounds + 1):
        conditions = {"self-edit": {"accuracy": 0.2 + 0.1 * r, "ci95": [0.1 + 0.1 * r, 0.3 + 0.1 * r],
                                    "metric": "short-contains", "n_questions": 12}}
        if r == 0:
            conditions |= {"base": {"accuracy": 0.1, "ci95": [0.0, 0.2], "metric": "short-contains"},
                           "passage": {"accuracy": 0.15, "ci95": [0.05, 0.25], "metric": "short-contains"}}
        store.add_evaluation(key=f"round/{r}", round=r, condition="round", payload={"conditions": conditions})
        if r == 0:
            continue
        for i, pid in enumerate(PASSAGES):
            for j in range(2):
                text = f"Round {r} self-edit {j} about {pid}.\n" + "A fact. " * (5 * i + 10 * j)
                eid = store.add_self_edit(key=f"r{r}/train/{pid}/{j}", context_id=pid, round=r, condition="train",
                                          text=text, sampling={"generation_s": 1.5})
                for seed in range(2):
                    store.add_inner_result(key=f"r{r}/train/{pid}/{j}/s{seed}", self_edit_id=eid, context_id=pid,
                                           round=r, condition="train", seed=seed, score=0.1 * (i + j + seed),
                                           base_score=0.1, n_questions=4, details={"scores": [1, 0, 0, 0]},
                                           timings={"train_s": 3.0, "quiz_s": 1.0})
        store.set_round(r, "done", {"e_step": {"kept": 2}, "seconds": {"e_step": 60.0, "m_step": 30.0, "eval": 20.0}})
    for i, pid in enumerate(PASSAGES):  # the single-passage table's rows; passage - base loglik: 0.5, 1.0, 1.5
        for c, score, gain in (("base", 0.0, 0.0), ("passage", 0.25, 0.5 + 0.5 * i), ("self-edit", 0.5, 0.7 + 0.5 * i)):
            store.add_inner_result(key=f"r0/{c}/{pid}", context_id=pid, round=0, condition=c, seed=0, score=score,
                                   base_score=0.0, n_questions=4,
                                   details={"predictions": ["Tor", "", "12", "1201"], "scores": [score] * 4,
                                            "logliks": [x + gain for x in (-4.0, -3.0, -5.0, -2.0)]},
                                   timings={"train_s": 2.0, "quiz_s": 1.0})
    for s in range(sequences):
        order = PASSAGES[s:s + 2]
        for mitigation, drop in (("none", 0.5), ("replay", 0.2)):
            cells = [[s, 1, order[0], 1.0], [s, 2, order[0], 1.0 - drop], [s, 2, order[1], 0.75]]
            store.add_evaluation(key=f"continual/{mitigation}/q{s}", round=s, condition=f"continual/{mitigation}",
                                 payload={"sequence": s, "mitigation": mitigation, "passages": order, "cells": cells,
                                          "baseline": {pid: 0.25 for pid in order},
                                          "seconds": {"sample": 5.0, "train": 20.0, "quiz": 4.0}})


def images(page: str) -> list[str]:
    return re.findall(r'<img[^>]*src="([^"]{0,40})', page)


@pytest.fixture
def finished(tmp_path):
    run = create_run(tmp_path, "knowledge train", "finished", CONFIG, argv=[])
    fill(run, rounds=2, sequences=2)
    from seal.domains.knowledge.results import knowledge_curve

    write_curve(run.dir, knowledge_curve(run, run.store.rows("rounds")))
    (run.dir / "results.json").write_text(json.dumps({"conditions": {
        "base": {"accuracy": 0.1, "ci95": [0.0, 0.2], "n_questions": 12, "metric": "short-contains",
                 "n_inner_loops": 3, "seconds_per_inner_loop": {}, "empty_answers": 3, "empty_share": 0.25,
                 "loglik": -3.5, "loglik_ci95": [-4.0, -3.0]}}}))
    write_forgetting(run.dir, build_forgetting(run))
    run.finish()
    return run


@pytest.fixture
def interrupted(tmp_path):
    run = create_run(tmp_path, "knowledge train", "interrupted", CONFIG, argv=[])
    fill(run, rounds=1, sequences=1)
    run.store.set_round(2, "e-step", {"model": "runs/x/checkpoints/round-1"})  # killed in round 2
    run.store.set_meta("pid", 2 ** 22 + 12345)  # no such process: the run was killed, not running
    return run


def test_finished_run(finished):
    page = build_report(finished.dir).read_text()
    for title in ("Config and manifest", "Results", "Round curve", "Reward distributions per round",
                  "Self-edit lengths", "Example self-edits", "Forgetting (sequential self-edits)", "Time per phase"):
        assert f">{title}</h2>" in page
    assert 'class="status finished"' in page and "did not finish" not in page
    assert "<th class=\"\">empty %</th>" in page and "<th class=\"\">loglik</th>" in page
    assert '<td class="">[0.0, 20.0]</td><td class="">-3.500</td><td class="">[-4.000, -3.000]</td>' \
        '<td class="">25.0</td>' in page
    assert "Round 2 self-edit 1 about p3" in page  # the best self-edit (highest mean reward)
    assert "Round 1 self-edit 0 about p1" in page  # the worst
    assert len(images(page)) == 5 and all(src.startswith("data:image/png;base64,") for src in images(page))
    assert not re.search(r'(src|href)="(?!data:|#)', page) and "http" not in page  # nothing loaded from outside
    pngs = sorted(p.name for p in (finished.dir / "report").glob("*.png"))
    assert pngs == ["curve.png", "forgetting.png", "lengths.png", "rewards.png", "times.png"]
    assert "replay - none, final accuracy: 15.0" in page  # the paired comparison


def test_interrupted_run_shows_what_was_stored(interrupted):
    page = build_report(interrupted.dir).read_text()
    assert 'class="status interrupted"' in page and "did not finish" in page
    assert "No results.json" in page and "no curve.json yet" in page and "No forgetting.json yet" in page
    assert page.count('<td class="">25.0</td><td class="">12</td>') == 3  # empty answers: 1 of 4 per row, 3 rows
    # the paired differences from the stored rows: loglik per passage 0.5, 1.0, 1.5 -> 1.0 +- t(2) 0.5 / sqrt(3)
    assert ">Paired differences</h3>" in page
    assert ('<td class="l">passage - base</td><td class="">+25.0</td><td class="">[+25.0, +25.0]</td>'
            '<td class="">+1.000</td><td class="">[-0.242, +2.242]</td><td class="">12</td>'
            '<td class="">3 passages</td>') in page
    assert '<td class="l">self-edit - passage</td><td class="">+25.0</td>' in page
    assert ">Round curve</h2>" in page and ">Forgetting (sequential self-edits)</h2>" in page
    assert interrupted.store.get_meta("status") == "running"  # the report only reads the store


def test_interrupted_eval_shows_what_its_self_edits_are_like(interrupted):
    """The partial table gives a condition with stored self-edits its shape (`self_edit_shape`), read from the
    store's self-edits and passages: here one of two sentences found in the passage, the one answer held."""
    store = interrupted.store
    store.put_context("p9", "knowledge", {"id": "p9", "title": "Tor", "context": "Tor has 12 bridges.",
                                          "questions": [{"question": "How many bridges?", "answers": ["12"]}]})
    eid = store.add_self_edit(key="r0/writer/p9/0", context_id="p9", round=0, condition="writer",
                              text="Tor has 12 bridges. Olo sings.", sampling={})
    store.add_inner_result(key="r0/writer/p9/0/s0", self_edit_id=eid, context_id="p9", round=0, condition="writer",
                           seed=0, score=1.0, base_score=0.0, n_questions=1,
                           details={"predictions": ["12"], "scores": [1.0], "logliks": [-1.0]}, timings={})
    interrupted.update_manifest(config=CONFIG | {"eval": {"external": {"writer": "writer.json"}}})
    page = build_report(interrupted.dir).read_text()
    assert ('<td class="l">writer</td><td class="">1</td><td class="">6.0</td><td class="">1.0</td>'
            '<td class="">100.0</td><td class="">50.0</td><td class="">100.0</td>') in page


def key_settings(page: str) -> dict[str, str]:
    table = page.split(">Config and manifest</h2>", 1)[1].split("</table>", 1)[0]
    return dict(re.findall(r"<td[^>]*>([a-z_]+\.[a-z_]+)</td><td[^>]*>([^<]*)</td>", table))


@pytest.mark.parametrize("command, shown, hidden", [
    ("knowledge train", {"self_edit.k": "5", "outer.rounds": "2"}, {"continual.sequence_length"}),
    ("knowledge continual", {"self_edit.family": "&quot;implications&quot;", "continual.sequence_length": "2"},
     {"self_edit.k", "outer.rounds"}),
])
def test_key_settings_are_those_the_command_reads(tmp_path, command, shown, hidden):
    run = create_run(tmp_path, command, "settings", CONFIG, argv=[])
    run.finish()
    settings = key_settings(build_report(run.dir).read_text())
    assert shown.items() <= settings.items() and not hidden & settings.keys()


def test_an_unset_learning_rate_shows_the_rate_the_mode_used(tmp_path):
    for mode, shown in (("fast", "0.0001 (fast default)"), ("reference", "0.001 (reference default)")):
        config = CONFIG | {"inner": CONFIG["inner"] | {"learning_rate": None, "mode": mode}}
        run = create_run(tmp_path, "knowledge eval", mode, config, argv=[])
        run.finish()
        assert key_settings(build_report(run.dir).read_text())["inner.learning_rate"] == shown


@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="chromium is not installed (apt-get install chromium)")
def test_screenshot_in_headless_chromium(finished, tmp_path):
    from PIL import Image

    page = build_report(finished.dir)
    shot = tmp_path / "shot.png"
    out = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
                          f"--screenshot={shot}", "--window-size=1200,2000", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert shot.is_file(), out.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1200, 2000)
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200  # text, tables and figures, not a blank page
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)

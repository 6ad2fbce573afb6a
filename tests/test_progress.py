"""Progress for people and logs (`seal.progress`): the whole job's time left from measured rates, and plain
timestamped lines when stderr is not a terminal (as under pytest, nohup or tee)."""

import re

from pytest import approx

from seal.progress import Plan, PlainProgress, Stage, duration, planned, progress_bar, stage_left_s


def test_the_plan_takes_rates_from_finished_units_and_adds_up_every_stage():
    plan = Plan({"quizzes": Stage(4, 100, "token"), "loops": Stage(6, 20, "step"),
                 "adapter": Stage(1, 50, "step", measures=False)}, {"token": None, "step": 0.5})
    assert plan.left_s() is None  # no rate for generated tokens yet: no whole-job figure is made up
    plan.finished("quizzes", 30.0)  # 100 tokens in 30 s
    assert plan.rates["token"] == approx(0.3)
    assert plan.left_s() == approx(3 * 100 * 0.3 + 6 * 20 * 0.5 + 50 * 0.5)
    plan.finished("loops", 4.0)
    plan.finished("loops", 8.0)  # 2 loops of 20 steps in 12 s: 0.3 s a step, used for the adapter's steps too
    assert plan.rates["step"] == approx(0.3)
    assert plan.left_s() == approx(3 * 100 * 0.3 + 4 * 20 * 0.3 + 50 * 0.3)
    plan.finished("adapter", 100.0)  # a stage that does not measure leaves the rate as it is
    assert plan.rates["step"] == approx(0.3) and plan.left_s() == approx(3 * 100 * 0.3 + 4 * 20 * 0.3)
    plan.finished("not a stage", 1.0)  # a bar of something else changes nothing
    assert plan.left_s() == approx(3 * 100 * 0.3 + 4 * 20 * 0.3)
    rough = Plan({"adapter": Stage(2, 50, "step", measures=False)}, {"step": None})
    rough.finished("adapter", 10.0)  # no rate yet: a rough one is better than none
    assert rough.rates["step"] == approx(0.2) and rough.left_s() == approx(10.0)


def test_a_stage_estimate_averages_over_its_own_units():
    assert stage_left_s(10, 0, 5.0) is None and stage_left_s(None, 3, 5.0) is None
    assert stage_left_s(10, 4, 80.0) == 120.0  # 20 s a unit, 6 left (rich's own needs 2 updates within 30 s)
    assert duration(59.4) == "59 s" and duration(61) == "1 min" and duration(3725) == "1 h 02 min"


def test_plain_lines_in_a_log_with_the_whole_job(capsys, monkeypatch):
    monkeypatch.setattr(PlainProgress, "every_s", 0.0)  # a line for every unit
    plan = Plan({"writing quizzes": Stage(2, 10, "token"), "training": Stage(1, 5, "step")},
                {"token": None, "step": 1.0})
    with planned(plan), progress_bar() as bar:  # stderr is captured, not a terminal: plain lines
        task = bar.add_task("writing quizzes", total=3, completed=1)  # one unit finished before a resume
        bar.advance(task)
        bar.advance(task)
        other = bar.add_task("training", total=1)
        bar.advance(other)
    lines = capsys.readouterr().err.strip().splitlines()
    assert all(re.match(r"\[\d\d:\d\d:\d\d\] ", line) for line in lines), lines
    assert lines[0].endswith("writing quizzes: 1/3; starting; whole job: estimating")
    assert "writing quizzes: 2/3; 0 s spent, about 0 s left; whole job about 5 s left" in lines[1]
    assert "writing quizzes: 3/3; 0 s spent, done; whole job about 5 s left" in lines[2]
    assert lines[-1].endswith("training: 1/1; 0 s spent, done; whole job about 0 s left")
    assert plan.stages["writing quizzes"].done == 2 and plan.stages["training"].done == 1


def test_the_whole_job_counts_down_during_a_long_unit():
    import time

    plan = Plan({"loops": Stage(3, 10, "step")}, {"step": 2.0})  # 20 s a loop, 60 s in all
    plan.running = ("loops", time.monotonic() - 5)  # a loop under way for 5 s
    assert plan.left_s() == approx(55, abs=0.5)
    plan.running = ("loops", time.monotonic() - 500)  # longer than expected: at most its own 20 s are taken off
    assert plan.left_s() == approx(40)
    plan.working("not a stage")  # another bar's unit leaves the one under way as it is
    assert plan.running[0] == "loops"

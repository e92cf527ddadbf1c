"""Progress: plain lines off a terminal (CI logs), a rich bar on one, nothing when quiet."""

from __future__ import annotations

import io

import pytest

from agents.common import progress as progress_mod
from agents.common.progress import Progress, Silent, _clock


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = FakeClock()
    monkeypatch.setattr(progress_mod.time, "monotonic", c)
    return c


def test_off_a_terminal_lines_come_at_most_every_interval_with_count_rate_and_eta(clock):
    out = io.StringIO()
    p = Progress("train cartpole seed 1", 1000, "steps", every=10.0, stream=out)
    clock.now += 1
    p.update(100, "ep_rew_mean 20.00", "entropy 0.690")  # the first update writes a line
    clock.now += 5
    p.update(200)  # 5 s later: no line
    clock.now += 5
    p.update(300, "ep_rew_mean 30.00")  # 10 s after the first line: a line
    p.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 3, lines
    assert lines[0] == (
        "train cartpole seed 1: 100/1,000 steps  (10.0 %)  100 steps/s  ETA 0m09s  ep_rew_mean 20.00  entropy 0.690"
    )
    assert lines[1].startswith("train cartpole seed 1: 300/1,000 steps  (30.0 %)  27 steps/s  ETA 0m25s")
    assert lines[1].endswith("ep_rew_mean 30.00  entropy 0.690")
    assert lines[2].startswith("train cartpole seed 1: 300/1,000")  # close writes the last state once
    p.close()
    assert len(out.getvalue().splitlines()) == 3


def test_a_resumed_count_is_not_credited_to_this_process_rate(clock):
    out = io.StringIO()
    p = Progress("train", 10_000, start=9_000, stream=out)
    clock.now += 10
    p.update(9_500)
    assert p.rate == pytest.approx(50.0)
    assert p.eta == pytest.approx(10.0)


def test_unknown_total_has_no_percentage_or_eta(clock):
    out = io.StringIO()
    with Progress("pull", None, "files", stream=out) as p:
        clock.now += 2
        p.advance(3)
    assert out.getvalue().splitlines()[-1] == "pull: 3 files  2 files/s"


def test_silent_writes_nothing(clock, capsys):
    p = Silent("x", 10)
    p.update(5, "note")
    p.close()
    assert capsys.readouterr() == ("", "")


def test_the_terminal_bar_renders_title_count_and_note():
    out = io.StringIO()
    p = Progress("evaluate pong", 5, "episodes", stream=out, bar=True)
    p.advance(5, "mean 18.20")
    p.close()
    text = out.getvalue()
    assert "evaluate pong" in text and "5/5" in text and "mean 18.20" in text


@pytest.mark.parametrize(("seconds", "text"), [(59, "0m59s"), (3600 * 13 + 61, "13h01m"), (float("inf"), "?")])
def test_clock(seconds, text):
    assert _clock(seconds) == text


def test_a_rate_below_one_per_second_is_given_per_minute(clock):
    """Whole Pong matches take seconds each: '0 matches/s' said nothing; '7.5 matches/min' does."""
    out = io.StringIO()
    p = Progress("bundle pong-duel", 90, "matches", every=0.0, stream=out)
    clock.now += 8
    p.update(1)
    assert p.rate_text() == "7.5 matches/min"
    assert "7.5 matches/min" in out.getvalue()
    clock.now += 0.002
    p.update(90)
    assert p.rate_text().endswith("matches/s")

"""The Head to head page in a real browser: a person plays Connect Four against the agent to the end by clicks.

The app runs as `make play` runs it, with a models folder holding one Connect Four agent whose moves are
known in advance (it always takes the leftmost column with room), so the game's course is fixed: the person
fills column 1 with it, is refused a fourth stone there (the game goes on), then stacks column 4 and wins.
The page shows the win, the ratings before and after, and the record below the board moves; no console
error. The click-to-agent-stone times are written to artifacts/browser/board-latency.json (the bench,
bench/connect_four_latency.py, measures them with the shipped agent).
"""

import json
import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from tests import test_browser
from tests.conftest import ROOT
from tests.test_browser import ARTIFACTS, free_port, shot, wait_idle

# the browser tests' fixtures, shared: chromium's launch arguments and a page that fails on a console error
browser_type_launch_args = test_browser.browser_type_launch_args
checked_page = test_browser.checked_page

pytestmark = pytest.mark.browser

LEFTMOST = np.array([60.0, 50, 40, 30, 20, 10, 0], dtype=np.float32)


def save_leftmost_agent(folder: Path) -> None:
    from agents.selfplay.policy import NumpyPolicy

    folder.mkdir(parents=True, exist_ok=True)
    vf = ((np.zeros((1, 84), np.float32), np.full(1, 0.25, np.float32)),)
    NumpyPolicy(((np.zeros((7, 84), np.float32), LEFTMOST),), vf, "ReLU").save(folder / "agent", {"name": "leftmost"})


@contextmanager
def running_app(env: dict[str, str]):
    """`streamlit run playground/app.py` on a free port with ``env`` added; yields its URL."""
    port = free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "streamlit", "run", "playground/app.py", "--server.port", str(port)),
            *("--server.headless", "true", "--browser.gatherUsageStats", "false"),
        ],
        cwd=ROOT,
        env={**os.environ, "PLAYGROUND_WARM": "0", "PLAYGROUND_LAB_WORKERS": "0", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("the app never answered on /_stcore/health")
        yield url
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def board_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("board-app")
    save_leftmost_agent(root / "models" / "connect-four")
    env = {
        "PLAYGROUND_MODELS": str(root / "models"),
        "PLAYGROUND_DATA": str(root / "data"),
        "PLAYGROUND_CACHE": str(root / "cache"),
    }
    with running_app(env) as url:
        yield url


def stones(page) -> int:
    return page.evaluate("() => window.__ppoBoard.moves")


def click_and_wait(page, column: int) -> None:
    """Click a column and wait for the server's answer (the person's stone and the agent's)."""
    before = stones(page)
    page.get_by_test_id(f"c4-col-{column}").click()
    page.wait_for_function(f"() => window.__ppoBoard.moves > {before} || window.__ppoBoard.phase === 'over'")


def test_a_game_against_the_agent_by_clicks_to_the_result_and_the_rating_change(checked_page, board_app):
    page = checked_page
    page.goto(f"{board_app}/?page=duel")
    page.get_by_role("heading", name="Head to head").wait_for()
    wait_idle(page)
    page.get_by_text("Nobody has finished a game against this agent yet").wait_for()
    page.get_by_label("Your name").fill("Ada <b>")
    page.get_by_label("Your name").press("Enter")
    wait_idle(page)
    status = page.get_by_test_id("c4-status")
    # the name re-runs the page and the board starts anew with it: wait for that game, not the one before
    page.wait_for_function(
        "() => window.__ppoBoard && window.__ppoBoard.player === 'Ada <b>' && window.__ppoBoard.phase === 'yours'"
    )

    for _ in range(3):  # the agent answers in column 1 too: full after six stones
        click_and_wait(page, 1)
    assert stones(page) == 6
    # what the agent thinks: its probabilities (column 1 all but certain) and V(s)
    assert "V(s) = +0.25" in page.get_by_test_id("c4-value").inner_text()
    page.get_by_test_id("c4-thinks-toggle").uncheck()
    assert not page.get_by_test_id("c4-thinks").is_visible()
    page.get_by_test_id("c4-thinks-toggle").check()

    page.keyboard.press("1")  # a full column, by key: refused with a message, the game goes on
    status.filter(has_text="column 1 is full: choose another column").wait_for()
    assert stones(page) == 6
    for _ in range(3):
        click_and_wait(page, 4)
    page.get_by_test_id("c4-cell-5-3").click()  # a click anywhere in the column drops there
    page.wait_for_function("() => window.__ppoBoard.phase === 'over'")

    result = page.get_by_test_id("c4-result")
    result.filter(has_text="You win!").wait_for()
    text = result.inner_text()
    assert "Agent rating μ 25.0 (new) → 22.4; yours 25.0 (new) → 27.6" in text, text
    assert "0 W · 0 D · 1 L" in text
    assert page.locator(".c4-cell.c4-win").count() == 4
    # the page below the board reruns with the record the server kept, the name shown as typed
    page.get_by_text("0 / 0 / 1").wait_for()
    page.get_by_text("Nobody has finished a game").wait_for(state="detached")
    wait_idle(page)
    stats = page.evaluate("() => window.__ppoBoard")
    assert stats["errors"] == ["column_full"]
    assert len(stats["latencies"]) == 7 and max(stats["latencies"]) < 2000, stats["latencies"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "board-latency.json").write_text(json.dumps(stats["latencies"]))
    shot(page, "head-to-head-connect-four")

    # the match can be watched: Watch → Matches against people, re-simulated from its moves
    page.goto(f"{board_app}/?page=watch&match={stats['result']['match_id']}")
    page.get_by_text("Re-simulated: 13 legal moves, ending in a win for the person as recorded.").wait_for()
    wait_idle(page)
    shot(page, "watch-match-connect-four")

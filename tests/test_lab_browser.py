"""The Lab in a real browser, against `streamlit run playground/app.py` with its worker pool: start the clip
ablation on CartPole with a tiny budget, see the first run's curves grow and its progress bar move, cancel it,
see the second run finish with its 20-episode evaluation, then open Watch for the agent it trained. Any
console error or exception element fails the test (the fixtures of tests/test_browser.py)."""

import re
import urllib.parse

import pytest

from tests.test_browser import app_url, browser_type_launch_args, checked_page, shot, wait_idle  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _steps(page, job_id: str) -> int:
    text = page.locator(f".st-key-lab-job-{job_id} [data-testid='stProgress']").inner_text()
    return int(text.split(" / ")[0].replace(",", ""))


def test_clip_ablation_live_cancel_one_finish_the_other_then_watch_it(checked_page, app_url):  # noqa: F811
    page = checked_page
    page.goto(f"{app_url}/?page=lab")
    page.get_by_role("heading", name="Lab").wait_for()
    wait_idle(page)
    steps = page.get_by_role("spinbutton", name="timesteps")
    steps.fill("6144")
    steps.press("Enter")
    wait_idle(page)
    page.get_by_role("combobox", name="Start from").click()
    page.get_by_role("option", name=re.compile("^experiment: Clipping off")).click()
    wait_idle(page)
    page.get_by_role("button", name="Start the comparison (2 runs)").click()
    page.wait_for_url(re.compile(r"jobs="))
    first, second = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)["jobs"][0].split(",")

    # the first arm runs (one worker): its progress moves and its curves grow, a redraw every second
    page.wait_for_function(
        f"() => /^[1-9][0-9,]* \\//.test(document.querySelector('.st-key-lab-job-{first} [data-testid=stProgress]')"
        "?.innerText || '')",
        timeout=120_000,
    )
    reward = page.locator('[data-testid="stVegaLiteChart"]').first
    before_steps, before_chart = _steps(page, first), reward.screenshot()
    page.wait_for_function(
        f"() => parseInt((document.querySelector('.st-key-lab-job-{first} [data-testid=stProgress]')?.innerText || '0')"
        f".replace(/,/g, '')) > {before_steps}",
        timeout=60_000,
    )
    page.wait_for_timeout(1500)  # the chart redraws with the fragment
    assert reward.screenshot() != before_chart, "the reward curve did not change as the run wrote updates"
    shot(page, "lab-live")
    page.locator(f".st-key-lab-cancel-{first} button").click()
    page.get_by_text("was cancelled").wait_for(timeout=60_000)

    # the second arm runs to the end: its evaluation, Watch and Play links
    page.get_by_text("20-episode evaluation").wait_for(timeout=240_000)
    wait_idle(page)
    shot(page, "lab-done")
    assert page.get_by_role("link", name="Play (Versus)").count() == 1
    page.get_by_role("link", name="Watch").last.click()
    page.get_by_role("heading", name="Watch").wait_for()
    assert f"agent=lab%3A{second}" in page.url or f"agent=lab:{second}" in page.url
    page.locator("video").wait_for()
    wait_idle(page)
    assert f"job {second}" in page.get_by_role("combobox", name="Agent").input_value()  # the lab run's agent
    shot(page, "lab-watch")

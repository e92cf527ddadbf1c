"""The card (README.md) of the two-player Pong bundle: every number from its evaluation, manifest and replays, as
``playground verify`` re-checks them; the command that produced each block of matches named beside it."""

from __future__ import annotations

from typing import Any

from agents.bundle.match import MatchEvaluation, MatchManifest
from agents.bundle.match_pong import PongReplay
from agents.play.duel_evidence import mean_ci
from envs.catalog import GameSpec


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def headline(ev: MatchEvaluation) -> str:
    """One line: whether it beats the tracking bot (the issue's only bar for Pong) and against whom it loses."""
    lost = [r.opponent for r in ev.rows if r.losses > r.wins]
    met, barred = ev.bars()
    against = f": it loses to {' and '.join(lost)}" if lost else ""
    return (
        f"{'Meets its bar' if met == barred else '**Below the bar**'}{against} "
        f"({ev.games_per_seat} whole matches against each bot)."
    )


def results_table(ev: MatchEvaluation, raw: dict[str, Any]) -> str:
    """Per bot: W/D/L, the win rate (Wilson 95 %), points for and against (bootstrap 95 %), the bar."""
    lines = [
        "| left paddle | matches | wins / draws / losses | win rate (Wilson 95 %) | points for, mean [95 % CI] "
        "| points against, mean [95 % CI] | bar |",
        "|---|---|---|---|---|---|---|",
    ]
    by = {r["opponent"]: r for r in raw["results"]}
    for r in ev.rows:
        lo, hi = r.ci("wins")
        pf, pa = by[r.opponent]["points_for"], by[r.opponent]["points_against"]
        bar = (
            "none: reported as it is"
            if r.bar is None
            else f"≥ {_pct(r.bar)} wins: " + ("met" if r.bar_met else "**below the bar**")
        )
        lines.append(
            f"| {r.opponent} | {r.games} | {r.wins} / {r.draws} / {r.losses} | {_pct(r.win_rate)} "
            f"({_pct(lo)}–{_pct(hi)}) | {mean_ci(pf)} | {mean_ci(pa)} | {bar} |"
        )
    return "\n".join(lines)


def _cut(raw: dict[str, Any]) -> str:
    limit = raw.get("max_frames", 100_000)
    if limit >= 100_000:
        return ""
    return (
        f"**Every match was cut after {limit:,} frames** (`--max-frames`, a test build): the counts are of the "
        "score when it was cut, not of matches to 21.\n\n"
    )


def _source_line(r: dict[str, Any]) -> str:
    src = r["source"]
    line = f"- {r['opponent']}: `{src['command']}`"
    if src.get("file"):
        line += f" (adopted from `{src['file']}`)"
    if src.get("seconds"):
        line += f", {src['seconds']:,.0f} s"
    check = src.get("cross_check")
    if check:
        line += (
            f". The same seeds in `{check['file']}` (`{check['command']}`, batched forward passes): "
            f"{check['same']} of {check['of']} matches with the same score and length"
        )
    return line + "."


def pong_duel_card(
    spec: GameSpec, m: MatchManifest, ev: MatchEvaluation, raw: dict[str, Any], replays: list[PongReplay]
) -> str:
    """README.md of the two-player Pong bundle."""
    t = m.training
    git = t.get("git") or {}
    commit = str(git.get("commit") or "unknown")[:12] + (" (uncommitted changes)" if git.get("dirty") else "")
    opponents = "\n".join(
        f"- `{o['name']}` (`{o['class']}`"
        + "".join(f", {k.replace('_', ' ')} {v:g}" for k, v in o["params"].items())
        + f"): {o['plays']}."
        for o in m.opponents
    )
    sources = "\n".join(_source_line(r) for r in raw["results"])
    replay_lines = "\n".join(
        f"- `replays/{r.name}.json`: vs {r.opponent}, seed {r.seed}, {r.frames:,} frames, "
        f"{r.agent_points}-{r.opponent_points}, a {r.result} for the agent"
        for r in replays
    )
    if t["source"] == "single-player bundle":
        agent = (
            f"The single-player Pong agent of `{t['from']}`, **unchanged**: PPO trained in single-player "
            f"`ALE/Pong-v5` (seed {t['seed']}, {t['timesteps']:,} steps in {t['minutes']:g} minutes, `{t['command']}`, "
            f"commit `{commit}`). It never saw a second player in training. Its card, manifest, config, final "
            f"evaluation and training curve are in `evidence/source/`; `playground verify` checks that manifest "
            f"lists this bundle's policy files with the same sha256."
        )
    else:
        agent = (
            f"A fine-tuned Pong agent: {t['algo']}, seed {t['seed']}, {t['timesteps']:,} steps in {t['minutes']:g} "
            f"minutes (`{t['command']}`, commit `{commit}`), from the policy of digest "
            f"`{str(t.get('start_policy_sha256'))[:12]}`. Its run.json, config.yml and diagnostics.csv are in "
            "`evidence/source/`."
        )
    return f"""---
library_name: stable-baselines3
tags:
- {spec.env_id}
- reinforcement-learning
- pettingzoo
- atari
- two-player
---

# {spec.name}: the Pong agent on the right paddle against scripted left paddles

PettingZoo's `{spec.env_id}` (two players, classic mode, through `multi_agent_ale_py`; the ROM from the ale-py
wheel). The agent plays the right paddle (`{m.policy["seat"]}`) only: every number below is of that seat. Every
number comes from the files of this folder; `{m.commands["verify"]}` re-checks them (checksums, each match's
score behind the counts, the intervals, the bar, every replay re-simulated frame by frame).

## How good is it?

{headline(ev)}

{_cut(raw)}Whole matches to 21 on seeds {ev.seed:,}..{ev.seed + ev.games_per_seat - 1:,}, each bot the same
seeds. Wins with Wilson 95 % intervals; points per match with 95 % percentile-bootstrap intervals:

{results_table(ev, raw)}

The bar: issue 15 sets no number for Pong. It asks for the agent against these bots over ≥ 30 games each,
points for and against with CIs, and says that if the agent loses to the ball-tracking bot with a reaction
delay, it should be fine-tuned against them. The catalog (`envs/catalog.py`, `match_bars`) reads that as
winning at least half the matches against `tracker-200ms`; nothing is asked of the perfect tracker.

Which command played the matches:

{sources}

## The agent

{agent}

It plays {m.policy["plays"]}. It sees {m.policy["preprocessing"]}.

## The opponents (the left paddle, `second_0`)

{opponents}

The manifest records these definitions; `playground verify` fails if the code now defines a bot otherwise.

## Replays

The first match(es) against each bot, seed and both paddles' actions (the bot's every frame, the agent's
every 4th, run-length encoded). `playground verify` plays each again from its seed: the bot's action on every
frame and the agent's on every 4th are recomputed and must equal the recorded ones, then the score and the
length, and the match must be the evaluation's match of that seed.

{replay_lines}

## Regenerate

```bash
{m.commands["bundle"]}
{m.commands["verify"]}
```

## Usage

```python
from pathlib import Path

from agents.play.pong_duel import bots, play_bot
from agents.policy.network import load_policy

policy = load_policy(Path("models/{spec.slug}"))  # policy.json + policy.safetensors, never unpickled
r = play_bot(policy, bots()["tracker-200ms"](), seed={ev.seed})  # a whole match, the agent on the right
print(r.agent_points, r.person_points, r.frames)
```

Play it in the browser: `make play`, then Play, Pong, "Head to head" (docs/play.md).
"""

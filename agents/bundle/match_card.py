"""The card (README.md) of a two-player bundle, in words and tables; every number comes from its evaluation,
its manifest and its replays, as ``playground verify`` re-checks them."""

from __future__ import annotations

from agents.bundle.match import MatchEvaluation, MatchManifest, MatchReplay, SeatRecord
from envs.catalog import GameSpec

SEAT_WORDS = ("first", "second")


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _bar_cell(r: SeatRecord) -> str:
    if r.bar is None:
        return "no bar: reported as it is"
    return f"≥ {100 * r.bar:.0f} % wins: " + ("met" if r.bar_met else "**below the bar**")


def headline(ev: MatchEvaluation) -> str:
    """One line: the bars met, or how many are not."""
    met, barred = ev.bars()
    if met == barred:
        return f"Meets all {barred} of its bars ({ev.games_per_seat:,} games per seat against each opponent)."
    return (
        f"**Below the bar**: {barred - met} of its {barred} bars {'is' if barred - met == 1 else 'are'} not met "
        f"({ev.games_per_seat:,} games per seat against each opponent)."
    )


def results_table(ev: MatchEvaluation, spec: GameSpec) -> str:
    """Per opponent and seat: W/D/L, the win rate with its Wilson 95 % interval, non-losses, the bar."""
    lines = [
        "| opponent | agent plays | wins / draws / losses | win rate (95 % CI) | non-losses (95 % CI) | bar |",
        "|---|---|---|---|---|---|",
    ]
    for r in ev.rows:
        lo, hi = r.ci("wins")
        nlo, nhi = r.ci("non_losses")
        lines.append(
            f"| {r.opponent} | {SEAT_WORDS[r.seat]} ({spec.seats[r.seat]}) | {r.wins} / {r.draws} / {r.losses} "
            f"| {_pct(r.win_rate)} ({_pct(lo)}–{_pct(hi)}) | {_pct((r.wins + r.draws) / r.games)} "
            f"({_pct(nlo)}–{_pct(nhi)}) | {_bar_cell(r)} |"
        )
    return "\n".join(lines)


def match_card(spec: GameSpec, m: MatchManifest, ev: MatchEvaluation, replays: list[MatchReplay]) -> str:
    """README.md of a two-player bundle: what it reaches against the bars, how it was trained, the opponents,
    the replays, the commands that regenerate everything and how to use the agent."""
    t = m.training
    git = t.get("git") or {}
    if git.get("commit"):
        commit = str(git["commit"])[:12] + (" (uncommitted changes)" if git.get("dirty") else "")
    else:  # a run from a copy of the code without .git: its code-commit.txt says which commit
        commit = str(t.get("code_commit") or "unknown").replace("`", "'")
    rate = t.get("steps_per_second")
    opponents = "\n".join(f"- `{o['name']}` ({o['kind']}): {o['plays']}." for o in m.opponents)
    replay_lines = "\n".join(
        f"- `replays/{r.name}.json`: vs {r.opponent}, agent {SEAT_WORDS[r.agent_seat]}, {len(r.moves)} moves, "
        f"a {r.result} for the agent (seed {r.seed})"
        for r in replays
    )
    minutes = f"{t['minutes']:g}"
    zip_note = (
        f"`{m.policy['sb3_zip']}` is sb3-contrib's own file for `MaskablePPO.load` users; "
        "the playground never opens it.\n"
        if m.policy.get("sb3_zip")
        else ""
    )
    return f"""---
library_name: stable-baselines3
tags:
- {spec.env_id}
- reinforcement-learning
- self-play
- sb3-contrib
- MaskablePPO
- pettingzoo
---

# {spec.name}: a self-play MaskablePPO agent

An agent for PettingZoo's `{spec.env_id}` trained by self-play with
[sb3-contrib](https://github.com/Stable-Baselines-Team/stable-baselines3-contrib)'s MaskablePPO by PPO
Playground. Every number below comes from the files of this folder; `{m.commands["verify"]}` re-checks them
(checksums, the evaluation's counts, intervals and bars, every replay re-simulated on PettingZoo's env).

## How good is it?

{headline(ev)}

Against the test opponents, {ev.games_per_seat:,} games per seat each; the agent plays {m.policy["plays"]};
Wilson 95 % intervals; the bars are the catalog's (`envs/catalog.py`, `match_bars`):

{results_table(ev, spec)}

The opponents break ties at random with seeded generators (`{EVAL_FILE}` records each block's seed), so the
same command gives the same numbers.

## The opponents

{opponents}

Ties: {m.opponents[0]["ties"]}. Their code: `{m.opponents[0]["code"]}`; the manifest records these
definitions, and `playground verify` fails if the code now defines an opponent otherwise.

## Training

Seed {t["seed"]}: {t["timesteps"]:,} agent steps in {minutes} minutes{f" ({rate:,.0f} steps/s)" if rate else ""}
with `{t["command"]}`, at commit `{commit}`. {t["algo"]}. Its config (`evidence/config.json`), one row per PPO
update (`evidence/diagnostics.csv`), every gated evaluation of the pool (`evidence/gates.jsonl`) and the run's
summary (`evidence/run.json`) are in `evidence/`. docs/connect-four.md describes the method.

## Replays

Games of the agent against each opponent from each seat, each from its own seed; `playground verify` plays
every one again on PettingZoo's env (legal moves, the result), checks each agent move is the policy's, and
plays the game again from the seed:

{replay_lines}

## Regenerate

```bash
{m.commands["train"]}
{m.commands["bundle"]}
{m.commands["verify"]}
```

## Usage

```python
from pathlib import Path

from agents.selfplay.agent import ConnectFourAgent, board_from_moves

agent = ConnectFourAgent.load(Path("models/{spec.slug}/agent.json"))  # safetensors + JSON, never unpickled
d = agent.decide(board_from_moves([3, 3, 2]))  # the columns played so far (0..6), player_0 first
print(d.column, d.probabilities, d.value)  # its move (0..6), its move probabilities, V(s)
```

{zip_note}"""


EVAL_FILE = "evaluation.json"

"""Connect Four speed: self-play training throughput, the game's step rate, and the agent's move latency.

1. Training throughput: ``--timesteps`` (default 40,960) of the real self-play training (MaskablePPO, 32 envs,
   the run's hyperparameters, opponents drawn from the anchors and, if ``--agent`` is given, that agent as a
   snapshot), timed end to end including the PPO updates: agent steps per wall second and per CPU second
   of the process (one torch thread, so the latter is what a core to itself delivers). Bar: ≥ 1,000.
2. The game alone: random legal games on PettingZoo's ``connect_four_v3`` (the reference) and on the
   project's bitboard (``agents/selfplay/board.py``), moves/s: why training steps the bitboard.
3. Agent move latency, server side: ``ConnectFourAgent.decide`` (the masked policy's move, probabilities
   over the 7 columns and V(s)) on ``--positions`` random positions given as 6x7 grids, as a server gets
   them, validation included: p50/p95/max in ms. Needs ``--agent`` (a ``final/agent.json``); without one,
   an untrained policy of the same architecture (same cost).

    python bench/connect_four.py [--agent ~/selfplay/runs/seed1/final/agent.json] [--json out.json]

Run it with ``OMP_NUM_THREADS=1`` as training does; the figures depend on what else the machine runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def training_throughput(timesteps: int, agent: Path | None) -> dict:
    import torch

    from agents.selfplay.env import OpponentPool
    from agents.selfplay.policy import NumpyPolicy, PolicyOpponent
    from agents.selfplay.train import SelfPlayOptions, make_model

    torch.set_num_threads(1)
    pool = OpponentPool()
    if agent is not None:
        pool.snapshots.append(PolicyOpponent(NumpyPolicy.load(agent.with_suffix(""))[0], "snapshot"))
    opts = SelfPlayOptions(seed=0, out=Path(tempfile.mkdtemp()))
    model = make_model(opts, pool)
    model.learn(opts.n_envs * opts.n_steps)  # warm-up: first-call costs are not throughput
    start, cpu = time.perf_counter(), time.process_time()
    model.learn(timesteps, reset_num_timesteps=False)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    return {
        "timesteps": timesteps,
        "n_envs": opts.n_envs,
        "seconds": round(seconds, 2),
        "agent_steps_per_s": round(timesteps / seconds, 1),
        # what one core of this machine delivers when the process has it to itself: the wall figure above
        # falls with whatever else runs (the load average is printed beside it)
        "agent_steps_per_cpu_s": round(timesteps / cpu_seconds, 1),
    }


def game_rates(games: int) -> dict:
    from pettingzoo.classic import connect_four_v3

    from agents.selfplay.board import Board

    rng = np.random.default_rng(0)
    env = connect_four_v3.env()
    moves, start = 0, time.perf_counter()
    for _ in range(games):
        env.reset()
        while not any(env.terminations.values()):
            mask = env.observe(env.agent_selection)["action_mask"]
            env.step(int(rng.choice(np.flatnonzero(mask))))
            moves += 1
    pz = moves / (time.perf_counter() - start)
    moves, start = 0, time.perf_counter()
    for _ in range(games):
        board = Board()
        while not board.over:
            board.planes()  # the observation is computed every move in training too
            board.play(int(rng.choice(np.flatnonzero(board.legal_mask()))))
            moves += 1
    fast = moves / (time.perf_counter() - start)
    return {"pettingzoo_moves_per_s": round(pz), "bitboard_moves_per_s": round(fast), "speedup": round(fast / pz, 1)}


def agent_latency(agent_path: Path | None, positions: int) -> dict:
    from agents.selfplay.agent import ConnectFourAgent
    from agents.selfplay.board import Board
    from agents.selfplay.policy import NumpyPolicy

    if agent_path is not None:
        agent = ConnectFourAgent.load(agent_path)
        source = str(agent_path)
    else:
        from agents.selfplay.env import OpponentPool
        from agents.selfplay.train import SelfPlayOptions, make_model

        model = make_model(SelfPlayOptions(seed=0, out=Path(tempfile.mkdtemp()), n_envs=1), OpponentPool())
        agent = ConnectFourAgent(NumpyPolicy.from_sb3(model.policy))
        source = "untrained policy of the training architecture"
    rng = np.random.default_rng(1)
    grids: list[np.ndarray] = []
    while len(grids) < positions:
        board = Board()
        for _ in range(int(rng.integers(0, 40))):
            if board.over:
                break
            board.play(int(rng.choice(board.legal_moves())))
        if not board.over and board.grid is not None:
            grids.append(board.grid.copy())
    times = []
    for grid in grids:
        start = time.perf_counter()
        agent.decide(grid)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {
        "agent": source,
        "positions": positions,
        "p50_ms": round(statistics.median(times), 3),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 3),
        "max_ms": round(times[-1], 3),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--agent", type=Path, help="a trained agent's final/agent.json")
    p.add_argument("--timesteps", type=int, default=40_960)
    p.add_argument("--games", type=int, default=300, help="random games per implementation (default 300)")
    p.add_argument("--positions", type=int, default=2000)
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args()
    agent = args.agent.expanduser() if args.agent else None
    out = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg": os.getloadavg()},
        "game": game_rates(args.games),
        "latency": agent_latency(agent, args.positions),
        "training": training_throughput(args.timesteps, agent),
    }
    out["machine"]["load_avg_after"] = os.getloadavg()
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()

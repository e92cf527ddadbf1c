"""A Python with the training libraries already imported, waiting for one ``playground`` command on stdin.

Importing torch, Stable-Baselines3 and gymnasium takes ~2 s of a lab job's start; each lab worker keeps one
such process spare, so a job starts training at once. The command is the one the worker would run in a fresh
process, through the same ``playground.cli.main``: the run is an ordinary ``playground train`` run.

Protocol: one JSON line ``{"argv": [...], "log": "<file>"}``; stdout and stderr go to the log from then on,
the exit status is the command's. End of input without a line: exit 0.
"""

from __future__ import annotations

import json
import os
import sys


def _first_step() -> None:
    """What the first PPO update would import lazily (Adam's first use loads torch._dynamo: ~1 s idle, 5 s on
    a busy machine): a tiny network, one optimizer step."""
    import torch

    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss = net(torch.zeros(2, 4)).sum()
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 0.5)
    opt.step()


def main() -> int:
    import gymnasium  # noqa: F401
    import stable_baselines3  # noqa: F401
    import torch
    import torch.utils.tensorboard  # noqa: F401

    import agents.training.train  # noqa: F401
    from playground.cli import main as cli

    _first_step()

    line = sys.stdin.readline()
    if not line.strip():
        return 0
    msg = json.loads(line)
    fd = os.open(msg["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    return cli([str(a) for a in msg["argv"]])


if __name__ == "__main__":
    sys.exit(main())

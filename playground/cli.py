"""The ``playground`` command line: ``playground --help`` lists the subcommands."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from envs.errors import PlaygroundError


def _command_line(argv: list[str]) -> str:
    return "playground " + " ".join(shlex.quote(a) for a in argv)


def cmd_games(args) -> int:
    from envs import GAMES

    for spec in GAMES.values():
        print(f"{spec.slug:24} {spec.env_id:18} {spec.name}")
    return 0


def cmd_train(args) -> int:
    from agents.train import train

    run_dir = train(args.game, seed=args.seed, timesteps=args.timesteps, config_file=args.config,
                    overrides=args.set, out=args.out, resume=args.resume, checkpoint_every=args.checkpoint_every,
                    threads=args.threads, progress=None if args.quiet else 10.0, command=args.command_line,
                    sb3_log=[f for f in args.sb3_log.split(",") if f] if args.sb3_log else [])
    print(f"run complete: {run_dir}")
    return 0


def cmd_bundle(args) -> int:
    from agents.bundle import build_bundle

    out = build_bundle(args.game, [Path(r) for r in args.runs], out=args.out, command=args.command_line,
                       replays=args.replays, episodes=args.episodes)
    print(f"bundle written: {out}")
    return 0


def cmd_evaluate(args) -> int:
    from agents.bundle import Bundle

    bundle = Bundle.open(args.bundle)
    result = bundle.evaluate(episodes=args.episodes)
    s = result["summary"]
    print(f"{bundle.spec.name} ({bundle.spec.env_id}), {s['episodes']} episodes on seeds "
          f"{result['seeds'][0]}..{result['seeds'][-1]}, deterministic={result['deterministic']}")
    print(f"mean {s['mean']:.2f} +/- {s['std']:.2f} (95% CI {s['ci95'][0]:.2f} .. {s['ci95'][1]:.2f}), "
          f"min {s['min']:.2f}, max {s['max']:.2f}")
    bar = bundle.spec.bar
    print(f"bar ({bar.describe()}): {'met' if bar.met_by(s['mean'], s['std']) else 'NOT met'}")
    recorded = bundle.eval_summary()
    if recorded and args.episodes in (None, recorded["episodes"]):
        same = recorded["mean"] == s["mean"] and recorded["std"] == s["std"]
        print(f"recorded eval.json: mean {recorded['mean']:.2f} +/- {recorded['std']:.2f} "
              f"({'identical' if same else 'DIFFERS'})")
    if args.json:
        print(json.dumps(result["summary"]))
    return 0


def cmd_verify(args) -> int:
    from agents.bundle import Bundle

    bundle = Bundle.open(args.bundle, check=False)
    report = bundle.verify()
    for check in report:
        print(f"[{'ok' if check['ok'] else 'FAIL'}] {check['check']}: {check['detail']}")
    failed = [c for c in report if not c["ok"]]
    if failed:
        print(f"verify FAILED: {len(failed)} of {len(report)} checks failed", file=sys.stderr)
        return 1
    print(f"verify passed: {len(report)} checks")
    return 0


def cmd_table(args) -> int:
    from agents.bundle import gallery_table

    print(gallery_table(Path(args.models)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="playground", description="PPO Playground: train, evaluate and verify PPO agents.")
    sub = p.add_subparsers(dest="cmd", metavar="command", required=True)

    s = sub.add_parser("games", help="list the game catalog")
    s.set_defaults(func=cmd_games)

    s = sub.add_parser("train", help="train a PPO agent on a game (SB3), resumable")
    s.add_argument("game", help="game slug (see `playground games`)")
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--timesteps", type=int, help="override n_timesteps")
    s.add_argument("--config", help="hyperparameter YAML (default agents/hyperparams/<game>.yml)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one hyperparameter")
    s.add_argument("--out", help="run folder (default runs/<game>/seed<S>)")
    s.add_argument("--resume", action="store_true", help="continue a killed run from its last checkpoint")
    s.add_argument("--checkpoint-every", type=int, default=10, metavar="UPDATES", help="checkpoint every N PPO updates")
    s.add_argument("--threads", type=int, help="torch threads (default 1; 2 helps CNNs on an otherwise idle machine)")
    s.add_argument("--quiet", action="store_true", help="no progress lines")
    s.add_argument("--sb3-log", metavar="FORMATS", help="also keep SB3's own logs in <run>/sb3/, e.g. csv,tensorboard")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("bundle", help="build models/<game> from finished training runs")
    s.add_argument("game")
    s.add_argument("runs", nargs="+", help="run folders, one per training seed")
    s.add_argument("--out", help="bundle folder (default models/<game>)")
    s.add_argument("--replays", type=int, default=5, help="replays to record (best, worst, median, ...)")
    s.add_argument("--episodes", type=int, help="final evaluation episodes (default: the game's protocol, 100)")
    s.set_defaults(func=cmd_bundle)

    s = sub.add_parser("evaluate", help="re-evaluate a bundle on its recorded seeds")
    s.add_argument("bundle", help="bundle folder or game slug")
    s.add_argument("--episodes", type=int, help="episodes (default: the game's protocol)")
    s.add_argument("--json", action="store_true", help="also print the summary as JSON")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("verify", help="check a bundle's checksums and re-simulate its replays")
    s.add_argument("bundle", help="bundle folder or game slug")
    s.set_defaults(func=cmd_verify)

    s = sub.add_parser("table", help="print the README's gallery table from the bundles")
    s.add_argument("--models", default="models")
    s.set_defaults(func=cmd_table)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.command_line = _command_line(argv)
    try:
        return args.func(args)
    except PlaygroundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; a training run continues from its last checkpoint with --resume", file=sys.stderr)
        return 130

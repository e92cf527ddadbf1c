"""The ``playground`` command line: ``playground --help`` lists the subcommands.

The habits of the tools its users come from: a game is its slug or its gymnasium id (``pong``,
``ALE/Pong-v5`` or the Zoo's ``PongNoFrameskip-v4``), ``-n/--n-timesteps`` sets the budget as in the RL
Zoo, ``--version`` names the versions that matter for reproducing a run, and the exit status tells a
usage error (2, argparse's) from a command that failed (1).
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
from importlib import metadata
from pathlib import Path

from envs.catalog import get_spec
from envs.errors import PlaygroundError, UnknownGameError

EPILOG = """\
A game is named by its slug or its gymnasium id (`playground games` lists both): pong, ALE/Pong-v5 and
PongNoFrameskip-v4 are the same game; the continuous lander is lunarlander-continuous or
LunarLanderContinuous-v3. Where a command takes a bundle, a folder path works too.

exit status:
  0    done
  1    the command failed: an error line says what and what to do (a bundle that fails its checksums,
       a run that cannot resume, a Hub that refused, `verify` with a failing check, a failed reproduction)
  2    usage error: an unknown command or option, a bad value, an unknown game or a missing folder
  130  interrupted (Ctrl-C); a training run continues from its last checkpoint with --resume
"""


def _command_line(argv: list[str]) -> str:
    return "playground " + " ".join(shlex.quote(a) for a in argv)


def _version() -> str:
    """This project's version and the libraries a run's numbers depend on (read without importing them)."""

    def v(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    libs = ", ".join(f"{d} {v(d)}" for d in ("stable-baselines3", "gymnasium", "torch", "streamlit"))
    return f"playground {v('ppo-playground')} ({libs}; Python {platform.python_version()})"


# --- arguments that name a game: parsed into the slug, so a wrong one is a usage error (exit 2) ----------


def _game(text: str) -> str:
    """A game given as its slug or its gymnasium id, as the slug."""
    try:
        return get_spec(text).slug
    except UnknownGameError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _game_or_two_player(text: str) -> str:
    """A single-player game (slug or gymnasium id) or a two-player one (slug or PettingZoo name), as its slug."""
    from envs.catalog import get_two_player_spec

    try:
        return get_spec(text).slug
    except UnknownGameError as exc:
        try:
            return get_two_player_spec(text).slug
        except UnknownGameError:
            raise argparse.ArgumentTypeError(str(exc)) from None


def _any_bundle_or_game(text: str) -> str:
    """A bundle folder (one- or two-player) as given, else a game of either kind as its slug."""
    if Path(text).exists():
        return text
    try:
        return _game_or_two_player(text)
    except argparse.ArgumentTypeError as exc:
        looks_like_a_path = "/" in text or "\\" in text
        raise argparse.ArgumentTypeError(
            f"no bundle folder {text}, nor a game id: {exc}" if looks_like_a_path else str(exc)
        ) from None


def _bundle_or_game(text: str) -> str:
    """A bundle folder as given, else a game (slug or gymnasium id) as its slug: its shipped bundle."""
    if Path(text).exists():
        return text
    try:
        return get_spec(text).slug
    except UnknownGameError as exc:
        looks_like_a_path = "/" in text or "\\" in text
        raise argparse.ArgumentTypeError(
            f"no bundle folder {text}, nor a game id: {exc}" if looks_like_a_path else str(exc)
        ) from None


def _ablation(text: str) -> str:
    from agents.experiments.ablations import get_ablation

    try:
        return get_ablation(text).name
    except PlaygroundError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_games(args) -> int:
    from envs import GAMES
    from envs.catalog import TWO_PLAYER_GAMES, game_ids

    rows = [(spec.slug, ", ".join(game_ids(spec)), spec.name) for spec in GAMES.values()]
    # two-player games: their PettingZoo name where gymnasium games have ids, and marked as such
    rows += [(spec.slug, spec.env_id, f"{spec.name} [two-player]") for spec in TWO_PLAYER_GAMES.values()]
    width = max(len(ids) for _, ids, _ in rows)
    print(f"{'slug':24} {'gymnasium ids':{width}} name")
    for slug, ids, name in rows:
        print(f"{slug:24} {ids:{width}} {name}")
    return 0


def cmd_train(args) -> int:
    from agents.training.train import TrainOptions, train

    run_dir = train(
        TrainOptions(
            game=args.game,
            seed=args.seed,
            timesteps=args.timesteps,
            config_file=args.config,
            overrides=args.set,
            out=args.out,
            resume=args.resume,
            checkpoint_seconds=args.checkpoint_seconds,
            checkpoint_every=args.checkpoint_every,
            threads=args.threads or 1,
            progress=None if args.quiet else 10.0,
            command=args.command_line,
            sb3_log=[f for f in args.sb3_log.split(",") if f] if args.sb3_log else [],
        )
    )
    print(f"run complete: {run_dir}")
    return 0


def cmd_selfplay(args) -> int:
    from agents.selfplay.train import SelfPlayOptions, train_selfplay

    if args.game != "connect-four":
        raise PlaygroundError(f"self-play training exists for connect-four only, not '{args.game}'")
    out = Path(args.out).expanduser()
    try:
        run_dir = train_selfplay(
            SelfPlayOptions(
                seed=args.seed,
                out=out,
                minutes=args.minutes,
                anchor_share=args.anchor_share,
                one_ply_share=args.one_ply_share,
                command=args.command_line,
            )
        )
    except (ValueError, FileExistsError) as exc:
        raise PlaygroundError(str(exc)) from None
    print(f"run complete: {run_dir}")
    return 0


def cmd_finetune(args) -> int:
    from agents.play.finetune import FinetuneOptions, finetune

    run_dir = finetune(
        FinetuneOptions(
            out=args.out,
            seed=args.seed,
            timesteps=args.timesteps,
            start_from=args.start_from,
            resume=args.resume,
            checkpoint_seconds=args.checkpoint_seconds,
            threads=args.threads,
            progress=None if args.quiet else 10.0,
            command=args.command_line,
        )
    )
    print(f"run complete: {run_dir}")
    return 0


def cmd_bundle(args) -> int:
    from agents.bundle.build import build_bundle
    from envs.catalog import TWO_PLAYER_GAMES

    if args.game in TWO_PLAYER_GAMES:
        return _bundle_two_player(args)
    if args.games is not None:
        raise PlaygroundError(f"--games is for two-player games; {args.game} is evaluated on --episodes")
    if args.evidence is not None or args.max_frames is not None:
        raise PlaygroundError(f"--evidence and --max-frames are for pong-duel, not {args.game}")
    out = build_bundle(
        args.game,
        [Path(r) for r in args.runs],
        out=args.out,
        command=args.command_line,
        replays=5 if args.replays is None else args.replays,
        episodes=args.episodes,
    )
    print(f"bundle written: {out}")
    return 0


def _bundle_two_player(args) -> int:
    from agents.bundle.match_build import DEFAULT_GAMES, MatchBundleOptions, build_match_bundle

    if args.game == "pong-duel":
        return _bundle_pong_duel(args)
    if args.evidence is not None or args.max_frames is not None:
        raise PlaygroundError(f"--evidence and --max-frames are for pong-duel; {args.game} is evaluated by the build")
    if len(args.runs) != 1:
        raise PlaygroundError(f"a two-player bundle is built from one self-play run folder; got {len(args.runs)}")
    if args.episodes is not None:
        raise PlaygroundError(f"{args.game} is evaluated in games per seat: use --games, not --episodes")
    out = build_match_bundle(
        MatchBundleOptions(
            game=args.game,
            run_dir=Path(args.runs[0]),
            out=Path(args.out) if args.out else None,
            games=DEFAULT_GAMES if args.games is None else args.games,
            replays=2 if args.replays is None else args.replays,
            command=args.command_line,
        )
    )
    print(f"bundle written: {out}")
    return 0


def _bundle_pong_duel(args) -> int:
    from agents.bundle.match_pong_build import DEFAULT_GAMES, PongDuelBundleOptions, build_pong_duel_bundle

    if len(args.runs) != 1:
        raise PlaygroundError(
            f"the two-player Pong bundle is built from one source (models/pong or a fine-tuning run's final/); "
            f"got {len(args.runs)}"
        )
    if args.episodes is not None:
        raise PlaygroundError("pong-duel is evaluated in whole matches per bot: use --games, not --episodes")
    out = build_pong_duel_bundle(
        PongDuelBundleOptions(
            source=Path(args.runs[0]),
            out=Path(args.out) if args.out else None,
            games=DEFAULT_GAMES if args.games is None else args.games,
            replays=1 if args.replays is None else args.replays,
            evidence=Path(args.evidence) if args.evidence else None,
            max_frames=100_000 if args.max_frames is None else args.max_frames,
            command=args.command_line,
        )
    )
    print(f"bundle written: {out}")
    return 0


def cmd_evaluate(args) -> int:
    from agents.bundle import Bundle

    bundle = Bundle.open(args.bundle)
    result = bundle.evaluate(episodes=args.episodes, progress=True)
    s = result.summary
    print(
        f"{bundle.spec.name} ({bundle.spec.env_id}), {s['episodes']} episodes on seeds "
        f"{result.seeds[0]}..{result.seeds[-1]}, deterministic={result.deterministic}"
    )
    print(
        f"mean {s['mean']:.2f} +/- {s['std']:.2f} (95% CI {s['ci95'][0]:.2f} .. {s['ci95'][1]:.2f}), "
        f"min {s['min']:.2f}, max {s['max']:.2f}"
    )
    bar = bundle.spec.bar
    print(f"bar ({bar.describe()}): {'met' if bar.met_by(s['mean'], s['std']) else 'NOT met'}")
    recorded = bundle.eval_summary()
    if recorded and args.episodes in (None, recorded["episodes"]):
        same = recorded["mean"] == s["mean"] and recorded["std"] == s["std"]
        print(
            f"recorded eval.json: mean {recorded['mean']:.2f} +/- {recorded['std']:.2f} "
            f"({'identical' if same else 'DIFFERS'})"
        )
    if args.json:
        print(json.dumps(result.summary))
    return 0


def cmd_verify(args) -> int:
    from agents.bundle import Bundle
    from agents.bundle.match import MatchBundle, is_match_bundle
    from envs.catalog import TWO_PLAYER_GAMES

    if args.bundle in TWO_PLAYER_GAMES or is_match_bundle(args.bundle):
        report = MatchBundle.open(args.bundle, check=False).verify()
    else:
        report = Bundle.open(args.bundle, check=False).verify()
    for check in report:
        print(f"[{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
    failed = [c for c in report if not c.ok]
    if failed:
        print(f"verify FAILED: {len(failed)} of {len(report)} checks failed", file=sys.stderr)
        return 1
    print(f"verify passed: {len(report)} checks")
    return 0


def cmd_publish(args) -> int:
    from agents.hub.client import REPLAY_VIDEO, plan_publish, publish

    if args.dry_run:
        plan = plan_publish(args.bundle, args.repo, args.endpoint)
        print(
            f"dry run: would commit to {plan.repo_id} on {plan.endpoint}"
            f"{' (private)' if args.private else ''}, in one commit:"
        )
        for line in plan.lines():
            print(f"  {line}")
        print(
            f"{len(plan.files) + 1} files ({len(plan.files)} from {plan.bundle.path}, plus {REPLAY_VIDEO}); "
            "nothing was uploaded"
        )
        return 0
    out = publish(args.bundle, args.repo, endpoint=args.endpoint, private=args.private)
    if out["changed"]:
        print(f"published {out['repo_id']} at commit {out['commit']}: {out['url']}")
    else:
        print(f"{out['repo_id']} already holds this bundle (commit {out['commit']}); no new commit")
    print(f"pull it with: playground pull {out['repo_id']}")
    return 0


def cmd_pull(args) -> int:
    from agents.hub.client import pull

    bundle, entry = pull(args.repo, revision=args.revision, endpoint=args.endpoint, log=print)
    s = bundle.eval_summary()
    print(
        f"pulled {entry.source}: {bundle.spec.name} ({bundle.spec.env_id}), {bundle.origin}; "
        f"mean {s['mean']:.2f} +/- {s['std']:.2f} over {s['episodes']} episodes"
    )
    print(
        f"every checksum verified, the policy loads and its {len(bundle.replay_names())} replays re-simulate; "
        f"the files are in {bundle.path}"
    )
    print(
        f"the app lists it with the {bundle.spec.slug} agents; re-run its replays with: playground verify {bundle.path}"
    )
    return 0


def cmd_import(args) -> int:
    from agents.bundle.importer import import_checkpoint

    out = import_checkpoint(
        args.source,
        args.game,
        out=args.out,
        trust_pickle=args.trust_pickle,
        episodes=args.episodes,
        replays=args.replays,
        command=args.command_line,
    )
    from agents.bundle import Bundle

    s = Bundle.open(out).eval_summary()
    print(
        f"imported {args.source} as {out} (external — not reproduced here); "
        f"evaluated here: mean {s['mean']:.2f} +/- {s['std']:.2f} over {s['episodes']} episodes"
    )
    print(f"the app lists it with the {args.game} agents; check it with: playground verify {out}")
    return 0


TABLE_START = "<!-- table: generated by `playground table`; do not edit by hand -->"
TABLE_END = "<!-- end table -->"


def cmd_table(args) -> int:
    from agents.bundle.card import gallery_table

    table = gallery_table(Path(args.models) if args.models else None)
    if not args.update:
        print(table)
        return 0
    path = Path(args.update)
    text = path.read_text()
    if TABLE_START not in text or TABLE_END not in text:
        raise PlaygroundError(f"{path} has no table markers ({TABLE_START} … {TABLE_END})")
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    path.write_text(f"{head}{TABLE_START}\n{table}\n{TABLE_END}{tail}")
    print(f"updated the table in {path}")
    return 0


# --- reproduce and ablate (issue 7): re-run a bundle's training, judge it, save the report -------------


def _seed_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds expects comma-separated integers, got {text!r}") from None


def _reproduce_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("--seeds", type=_seed_list, metavar="S1,S2,...", help="training seeds to run")
    s.add_argument("--n-seeds", type=int, metavar="N", help="run N seeds (default 3)")
    s.add_argument(
        "-n",
        "--timesteps",
        "--n-timesteps",
        type=int,
        metavar="STEPS",
        help="override the budget (the verdict then says 'not comparable')",
    )
    s.add_argument("--episodes", type=int, help="final evaluation episodes (default: the bundle's protocol)")
    s.add_argument("--out", help="folder for the training runs (default runs/reproduce/<game>/<name>-<plan hash>)")
    s.add_argument("--jobs", type=int, help="parallel local training processes (default and maximum: the core count)")
    s.add_argument(
        "--ray-address",
        metavar="auto|HOST:PORT|local",
        help="run each training as a Ray task on that cluster (pip install 'ppo-playground[ray]')",
    )
    s.add_argument(
        "--checkpoint-seconds", type=float, default=60.0, metavar="S", help="checkpoint interval of each run"
    )
    s.add_argument("--checkpoint-every", type=int, metavar="UPDATES", help="also checkpoint every N PPO updates")
    s.add_argument(
        "--strict-versions", action="store_true", help="refuse to run when versions differ from the bundle's"
    )


def _run_reproduce(args, where, ablation=None) -> int:
    from agents.experiments.reproduce import ReproduceOptions, reproduce

    out = reproduce(
        ReproduceOptions(
            bundle=where,
            seeds=args.seeds,
            n_seeds=args.n_seeds,
            timesteps=args.timesteps,
            episodes=args.episodes,
            out=args.out,
            jobs=args.jobs,
            ray_address=args.ray_address,
            ablation=ablation,
            checkpoint_seconds=args.checkpoint_seconds,
            checkpoint_every=args.checkpoint_every,
            strict_versions=args.strict_versions,
            command=args.command_line,
        ),
        say=lambda line: print(line, flush=True),
    )
    if out["failed"]:
        print(
            f"{out['failed']} run(s) failed (listed in the report); run the same command again to retry them",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_reproduce(args) -> int:
    return _run_reproduce(args, args.bundle)


def cmd_ablate(args) -> int:
    from agents.experiments.ablations import ABLATIONS, get_ablation

    if args.list or not args.name:
        for a in ABLATIONS.values():
            print(f"{a.name:12} {a.game:12} {a.title}")
        return 0
    ablation = get_ablation(args.name)
    return _run_reproduce(args, args.bundle or ablation.game, ablation)


def _add_reproduce_parsers(sub) -> None:
    s = sub.add_parser("reproduce", help="re-run a bundle's training from its manifest and judge it")
    s.add_argument("bundle", type=_bundle_or_game, help="bundle folder, or game (slug or gymnasium id)")
    _reproduce_args(s)
    s.set_defaults(func=cmd_reproduce)

    s = sub.add_parser("ablate", help="run an ablation from the PPO texts (--list shows them)")
    s.add_argument("name", nargs="?", type=_ablation, help="ablation name")
    s.add_argument("--list", action="store_true", help="list the ablations")
    s.add_argument(
        "--bundle",
        type=_bundle_or_game,
        help="bundle folder (or game) to compare with and save the report in (default models/<game>)",
    )
    _reproduce_args(s)
    s.set_defaults(func=cmd_ablate)


# --- end reproduce and ablate ---------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="playground",
        description="PPO Playground: train, evaluate and verify PPO agents; publish, pull and import them.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="cmd", metavar="command", required=True)

    s = sub.add_parser("games", help="list the game catalog")
    s.set_defaults(func=cmd_games)

    s = sub.add_parser("train", help="train a PPO agent on a game (SB3), resumable")
    s.add_argument("game", type=_game, help="game: slug or gymnasium id (see `playground games`)")
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("-n", "--timesteps", "--n-timesteps", type=int, metavar="STEPS", help="override n_timesteps")
    s.add_argument("--config", help="hyperparameter YAML (default agents/hyperparams/<game>.yml)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one hyperparameter")
    s.add_argument("--out", help="run folder (default runs/<game>/seed<S>)")
    s.add_argument("--resume", action="store_true", help="continue a killed run from its last checkpoint")
    s.add_argument(
        "--checkpoint-seconds",
        type=float,
        default=60.0,
        metavar="S",
        help="checkpoint after the first PPO update S seconds after the last checkpoint (default 60)",
    )
    s.add_argument("--checkpoint-every", type=int, metavar="UPDATES", help="also checkpoint every N PPO updates")
    s.add_argument("--threads", type=int, help="torch threads (default 1; 2 helps CNNs on an otherwise idle machine)")
    s.add_argument("--quiet", action="store_true", help="no progress lines")
    s.add_argument("--sb3-log", metavar="FORMATS", help="also keep SB3's own logs in <run>/sb3/, e.g. csv,tensorboard")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("selfplay", help="train a two-player agent by self-play against a gated pool (MaskablePPO)")
    s.add_argument("game", choices=["connect-four"], help="two-player game (docs/connect-four.md)")
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--minutes", type=float, default=15.0, help="wall-clock training budget (default 15)")
    s.add_argument("--out", required=True, help="run folder (must not hold a finished run)")
    s.add_argument(
        "--anchor-share", type=float, default=0.3, help="share of episodes against the fixed bots (default 0.3)"
    )
    s.add_argument(
        "--one-ply-share",
        type=float,
        default=0.5,
        help="of the bot episodes, the share against one-ply; the rest against random (default 0.5)",
    )
    s.set_defaults(func=cmd_selfplay)

    s = sub.add_parser("finetune", help="fine-tune the Pong agent in two-player Pong against bots and itself (PPO)")
    s.add_argument("game", choices=["pong-duel"], help="two-player game (docs/play.md)")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--out", required=True, help="run folder")
    s.add_argument("-n", "--timesteps", type=int, metavar="STEPS", help="agent steps (default 3,000,000)")
    s.add_argument("--start-from", metavar="BUNDLE", help="bundle whose weights to start from (default models/pong)")
    s.add_argument("--resume", action="store_true", help="continue a killed run from its last checkpoint")
    s.add_argument("--checkpoint-seconds", type=float, default=300.0, metavar="S", help="default 300")
    s.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    s.add_argument("--quiet", action="store_true", help="no progress lines")
    s.set_defaults(func=cmd_finetune)

    s = sub.add_parser("bundle", help="build models/<game> from finished training runs")
    s.add_argument("game", type=_game_or_two_player, help="game: slug or gymnasium id; or a two-player game's slug")
    s.add_argument("runs", nargs="+", help="run folders, one per training seed (two-player: one self-play run)")
    s.add_argument("--out", help="bundle folder (default models/<game>)")
    s.add_argument(
        "--replays",
        type=int,
        help="replays to record: best, worst, median, ... (default 5); two-player: per opponent and seat (default 2)",
    )
    s.add_argument("--episodes", type=int, help="final evaluation episodes (default: the game's protocol, 100)")
    s.add_argument(
        "--games",
        type=int,
        help="two-player: games per seat against each test opponent (default 1000, as the bars; pong-duel: 30 "
        "whole matches per bot)",
    )
    s.add_argument(
        "--evidence",
        metavar="DIR",
        help="pong-duel: adopt python -m agents.play.duel_evidence's files from DIR (checked to be of these weights, "
        "seeds and bots) instead of playing the matches",
    )
    s.add_argument(
        "--max-frames",
        type=int,
        help="pong-duel: cut each match after this many frames (default 100000, PettingZoo's: whole matches); "
        "for quick test builds, which the card then labels",
    )
    s.set_defaults(func=cmd_bundle)

    s = sub.add_parser("evaluate", help="re-evaluate a bundle on its recorded seeds")
    s.add_argument("bundle", type=_bundle_or_game, help="bundle folder, or game (slug or gymnasium id)")
    s.add_argument("--episodes", type=int, help="episodes (default: the game's protocol)")
    s.add_argument("--json", action="store_true", help="also print the summary as JSON")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("verify", help="check a bundle's checksums and re-simulate its replays")
    s.add_argument(
        "bundle", type=_any_bundle_or_game, help="bundle folder, or game (slug or gymnasium id; two-player: slug)"
    )
    s.set_defaults(func=cmd_verify)

    s = sub.add_parser("publish", help="publish a bundle to a Hugging Face Hub repo, in one commit")
    s.add_argument("bundle", type=_bundle_or_game, help="bundle folder, or game (slug or gymnasium id)")
    s.add_argument(
        "--repo",
        required=True,
        metavar="ORG/NAME",
        help="target repo; ORG alone means ORG/ppo-<EnvId>, the RL Zoo's naming",
    )
    s.add_argument("--endpoint", metavar="URL", help="Hub URL (default $HF_ENDPOINT, else https://huggingface.co)")
    s.add_argument("--private", action="store_true", help="create the repo private")
    s.add_argument("--dry-run", action="store_true", help="list what would be committed; upload nothing")
    s.set_defaults(func=cmd_publish)

    s = sub.add_parser("pull", help="download a published agent, verify every checksum, list it in the app")
    s.add_argument("repo", metavar="ORG/NAME")
    s.add_argument("--revision", metavar="REV", help="branch, tag or commit (default main)")
    s.add_argument("--endpoint", metavar="URL", help="Hub URL (default $HF_ENDPOINT, else https://huggingface.co)")
    s.set_defaults(func=cmd_pull)

    s = sub.add_parser("import", help="turn an SB3 PPO zip or RL Zoo run into a bundle, without unpickling")
    s.add_argument("source", help="an SB3 .zip, or an RL Zoo run folder (logs/ppo/<EnvId>_<n>)")
    s.add_argument(
        "--game",
        type=_game,
        required=True,
        help="the game it was trained on: slug or gymnasium id (see `playground games`)",
    )
    s.add_argument("--out", help="bundle folder (default $PLAYGROUND_DATA/imported/<game>-<name>)")
    s.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow unpickling the run's vecnormalize.pkl (runs any code in it: only for sources you trust)",
    )
    s.add_argument("--episodes", type=int, help="evaluation episodes (default: the game's protocol, 100)")
    s.add_argument("--replays", type=int, default=5, help="replays to record")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("table", help="print the README's gallery table from the bundles")
    s.add_argument("--models", help="bundles folder (default $PLAYGROUND_MODELS, else models/ in the repository)")
    s.add_argument("--update", metavar="FILE", help="replace the table between the markers in FILE (README.md)")
    s.set_defaults(func=cmd_table)

    s = sub.add_parser("lab-worker", help="run the Lab's training jobs from the database (as the app's workers do)")
    s.add_argument("--workers", type=int, help="jobs at once (default $PLAYGROUND_LAB_WORKERS, at least 1)")
    s.set_defaults(func=cmd_lab_worker)

    _add_reproduce_parsers(sub)
    return p


def cmd_lab_worker(args) -> int:
    """Lab workers outside the app, e.g. on a training machine while the app replicas set PLAYGROUND_LAB_WORKERS=0."""
    from playground.lab.runner import serve

    return serve(args.workers)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.command_line = _command_line(argv)
    try:
        return args.func(args)
    except PlaygroundError as exc:  # a failure the user can act on; 2 is argparse's, for usage errors
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; a training run continues from its last checkpoint with --resume", file=sys.stderr)
        return 130

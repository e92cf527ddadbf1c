"""The model card's ``## Usage`` section: code for plain SB3 (+ huggingface_sb3), the RL Zoo, onnxruntime and the
playground, each saying which evaluation protocol it reproduces (``docs/interop.md``).

Every snippet is a fenced block preceded by ``<!-- snippet: NAME -->`` so that ``tests/test_interop.py`` (and
``bench/interop.py``) can run it as written, against a repo published to a (stand-in) Hub. The repo id in the
snippets is ``HUB_ORG/ppo-<EnvId>``, the RL Zoo's naming under the project's organisation.
"""

from __future__ import annotations

import re

from agents.bundle.interop import ONNX, VEC_NORMALIZE, public_env_kwargs, registered_env_id
from agents.evaluation.evaluate import EvalResult
from envs import GameSpec

HUB_ORG = "ppo-playground"
"""the organisation the cards' snippets name (``playground publish <game> --repo ppo-playground``)"""
SNIPPET_EPISODES = 10
SNIPPETS = ("sb3", "zoo", "onnx", "playground")
_SNIPPET_RE = re.compile(r"<!-- snippet: (\w+) -->\n```(\w+)\n(.*?)\n```", re.S)


def repo_id(spec: GameSpec, org: str = HUB_ORG) -> str:
    return f"{org}/ppo-{spec.hub_env_id}"


def snippets(card: str) -> dict[str, tuple[str, str]]:
    """The card's snippets: name -> (language, code)."""
    return {m.group(1): (m.group(2), m.group(3)) for m in _SNIPPET_RE.finditer(card)}


def zoo_steps(result: EvalResult, episodes: int = SNIPPET_EPISODES) -> int:
    """``rl_zoo3.enjoy -n``: enough steps for ``episodes`` of the longest episode in the evaluation."""
    return int(episodes * max(result.lengths) * 1.1) if result.lengths else 10_000


def _kwargs_code(spec: GameSpec) -> str:
    kw = public_env_kwargs(spec)
    return "".join(f", {k}={v!r}" for k, v in kw.items())


def _extras(spec: GameSpec) -> str:
    return {"box2d": ' "gymnasium[box2d]"', "atari": " ale-py"}.get(spec.family, "")


def protocol_words(spec: GameSpec, result: EvalResult) -> str:
    """How the card's score was measured, in one sentence."""
    if spec.is_atari:
        return (
            "**stochastic** actions (sampled from the policy, as the RL Zoo evaluates Atari), whole games: "
            "no episode end at a life loss, **unclipped** rewards (the game's score), SB3's `AtariWrapper` "
            f"(noop reset, frame skip 4, 84×84 grey) and {spec.frame_stack} stacked frames; episode i resets "
            f"with seed {result.seeds[0]} + i"
        )
    return f"**deterministic** actions; episode i resets with seed {result.seeds[0]} + i; the game's own rewards"


def _sb3(spec: GameSpec, rid: str, zip_name: str) -> str:
    env_id, kw = registered_env_id(spec), _kwargs_code(spec)
    vec = (
        ["DummyVecEnv"] + (["VecFrameStack"] if spec.frame_stack else []) + (["VecNormalize"] if spec.normalize else [])
    )
    lines = [
        "import os",
        "",
        "import gymnasium as gym",
        *(["import ale_py"] if spec.is_atari else []),
        "from huggingface_sb3 import load_from_hub",
        "from stable_baselines3 import PPO",
        *(["from stable_baselines3.common.atari_wrappers import AtariWrapper"] if spec.is_atari else []),
        "from stable_baselines3.common.evaluation import evaluate_policy",
        "from stable_baselines3.common.monitor import Monitor",
        "from stable_baselines3.common.utils import set_random_seed",
        f"from stable_baselines3.common.vec_env import {', '.join(sorted(vec))}",
        "",
        'os.environ["TRUST_REMOTE_CODE"] = "True"  # huggingface_sb3: you accept that PPO.load unpickles the zip',
        *(["gym.register_envs(ale_py)"] if spec.is_atari else []),
        f'repo_id = "{rid}"',
        "",
        "",
        "def make_env():",
    ]
    if spec.is_atari:
        lines += [
            f'    env = Monitor(gym.make("{env_id}"{kw}))',
            "    # whole games and the game's score: no episode end at a life loss, no reward clipping",
            "    return AtariWrapper(env, terminal_on_life_loss=False, clip_reward=False)",
        ]
    else:
        lines += [f'    return Monitor(gym.make("{env_id}"{kw}))']
    lines += ["", "", "env = DummyVecEnv([make_env])"]
    if spec.frame_stack:
        lines += [f"env = VecFrameStack(env, n_stack={spec.frame_stack})"]
    if spec.normalize:
        lines += [
            f'env = VecNormalize.load(load_from_hub(repo_id, "{VEC_NORMALIZE}"), env)',
            "env.training = False  # the statistics stay frozen",
            "env.norm_reward = False  # report the game's own rewards",
        ]
    det = "False" if spec.is_atari else "True"
    lines += [
        f'model = PPO.load(load_from_hub(repo_id, "{zip_name}"), device="cpu")',
        "set_random_seed(0)  # fixed seeds (the env's first reset, the policy's sampling): the run repeats",
        "env.seed(0)",
        f"mean, std = evaluate_policy(model, env, n_eval_episodes={SNIPPET_EPISODES}, deterministic={det})",
        'print(f"mean_reward={mean:.2f} +/- {std:.2f}")',
    ]
    return "\n".join(lines)


def _zoo(spec: GameSpec, result: EvalResult) -> str:
    env_id = registered_env_id(spec)
    return "\n".join(
        [
            f"pip install rl_zoo3{_extras(spec)}",
            "export TRUST_REMOTE_CODE=True  # huggingface_sb3: you accept that the Zoo unpickles the zip",
            f"python -m rl_zoo3.load_from_hub --algo ppo --env {env_id} -orga {HUB_ORG} -f logs/",
            f"python -m rl_zoo3.enjoy --algo ppo --env {env_id} -f logs/ --no-render -n {zoo_steps(result)}",
        ]
    )


def _onnx(spec: GameSpec, rid: str, result: EvalResult) -> str:
    env_id, kw = registered_env_id(spec), _kwargs_code(spec)
    head = [
        "import gymnasium as gym",
        *(["import ale_py"] if spec.is_atari else []),
        "import numpy as np",
        "import onnxruntime as ort",
        "from huggingface_hub import hf_hub_download",
        *(["from stable_baselines3.common.atari_wrappers import AtariWrapper"] if spec.is_atari else []),
        "",
        f'session = ort.InferenceSession(hf_hub_download("{rid}", "{ONNX}"))',
    ]
    if spec.is_atari:
        body = [
            "gym.register_envs(ale_py)",
            f'env = AtariWrapper(gym.make("{env_id}"{kw}), terminal_on_life_loss=False, clip_reward=False)',
            "rng = np.random.default_rng(0)",
            "returns = []",
            f"for i in range({SNIPPET_EPISODES}):",
            f"    frame, _ = env.reset(seed={result.seeds[0]} + i)",
            f"    frames = [np.zeros_like(frame)] * {spec.frame_stack - 1} + [frame]  # stacked as in training",
            "    done, ret = False, 0.0",
            "    while not done:",
            f"        obs = np.concatenate(frames[-{spec.frame_stack}:], axis=-1)[None]  # (1, 84, 84, "
            f"{spec.frame_stack}) uint8",
            '        p = session.run(["probs"], {"obs": obs})[0][0].astype(np.float64)',
            "        action = rng.choice(len(p), p=p / p.sum())  # stochastic, as the card's protocol",
            "        frame, reward, terminated, truncated, _ = env.step(action)",
            "        frames.append(frame)",
            "        ret += float(reward)",
            "        done = terminated or truncated",
            "    returns.append(ret)",
        ]
    else:
        body = [
            f'env = gym.make("{env_id}"{kw})',
            "returns = []",
            f"for i in range({SNIPPET_EPISODES}):",
            f"    obs, _ = env.reset(seed={result.seeds[0]} + i)  # the card's seeds",
            "    done, ret = False, 0.0",
            "    while not done:",
            '        action = session.run(["action"], {"obs": obs[None].astype(np.float32)})[0][0]',
            "        obs, reward, terminated, truncated, _ = env.step(action)",
            "        ret += float(reward)",
            "        done = terminated or truncated",
            "    returns.append(ret)",
        ]
    tail = ['print(f"mean_reward={np.mean(returns):.2f} +/- {np.std(returns):.2f}")']
    return "\n".join(head + body + tail)


def _playground(spec: GameSpec, rid: str) -> str:
    evaluate = (
        "from agents.bundle import Bundle; from agents.hub import registry; "
        f"r = Bundle.open(registry.get('hub:{rid}').path).evaluate(episodes={SNIPPET_EPISODES}); "
        "print(f'mean_reward={r.mean:.2f} +/- {r.std:.2f}')"
    )
    return "\n".join(
        [
            f"playground pull {rid}  # exactly the listed files; every checksum verified, every replay re-simulated",
            f'python -c "{evaluate}"',
        ]
    )


def usage_section(spec: GameSpec, result: EvalResult, zip_name: str, normalized: bool | None = None) -> str:
    """``## Usage``: the four ways to run this agent, each with the protocol it reproduces."""
    rid = repo_id(spec)
    env_id = registered_env_id(spec)
    normalized = spec.normalize if normalized is None else normalized
    kw = public_env_kwargs(spec)
    env_words = f"`{env_id}`" + (f" with `{kw}`" if kw else "")
    norm = (
        f"Observations are normalised as in training: `{VEC_NORMALIZE}` holds SB3's `VecNormalize` with the "
        "frozen statistics of `policy.json` (observations only; load it with `VecNormalize.load` and keep "
        f"`training = False`); `{ONNX}` has them folded in. "
        if normalized
        else f"Observations are not normalised (`{VEC_NORMALIZE}` is an identity, there for the Zoo's "
        "`load_from_hub`). "
    )
    stochastic = spec.is_atari
    if stochastic:
        onnx_words = "samples from the graph's `probs` output (the card's stochastic protocol; `action` is the argmax)"
    elif _discrete(spec):
        onnx_words = (
            "takes the graph's deterministic `action` on the card's own seeds, so its returns are the first "
            f"{SNIPPET_EPISODES} of `evidence/eval.json`"
        )
    else:
        onnx_words = (
            "takes the graph's deterministic `action` on the card's own seeds; onnxruntime's arithmetic differs "
            "from torch's in the last bits (about 1e-6 on an action), which the physics can amplify, so an "
            "episode may differ from the card's"
        )
    return f"""## Usage

The score above was measured with {protocol_words(spec, result)}. Each snippet below reproduces that protocol on
{SNIPPET_EPISODES} episodes (expect the mean within the card's spread, not on the dot: 10 episodes are fewer than
{result.summary["episodes"]}). The env is {env_words}. {norm}The repo is `{rid}` (change the organisation if
you published the bundle under yours); set `HF_ENDPOINT` for another Hub.

**Stable-Baselines3 + huggingface_sb3** (the Deep RL course's way){
        "; deterministic actions" if not stochastic else "; stochastic actions, whole games, unclipped rewards"
    }:

<!-- snippet: sb3 -->
```python
{_sb3(spec, rid, f"ppo-{spec.hub_env_id}.zip")}
```

**RL Baselines3 Zoo**: `load_from_hub` lays the repo out as a Zoo run (`config.yml` with `normalize`{
        ", `frame_stack`, `env_wrapper`" if spec.is_atari else ""
    }, `args.yml`, `env_kwargs.yml`{", `vecnormalize.pkl`" if normalized else ""}) and `enjoy` plays it; {
        "Atari: `enjoy` samples actions by default and prints each whole game's score as `Atari Episode Score` "
        "(its `AtariWrapper` ends an episode at a life loss, but the score is read from the Monitor underneath, "
        "so a whole game's unclipped score)"
        if stochastic
        else "`enjoy` is deterministic by default and prints `Mean reward` over the episodes it finished"
    }:

<!-- snippet: zoo -->
```bash
{_zoo(spec, result)}
```

**onnxruntime** (no SB3, no pickle; `{ONNX}` takes the raw observation{
        " as uint8 frames (N, 84, 84, 4), stacked on the last axis" if spec.is_atari else ""
    } and returns `action`, `value`{" and `probs`" if _discrete(spec) else ""}); this snippet {onnx_words}:

<!-- snippet: onnx -->
```python
{_onnx(spec, rid, result)}
```

**PPO Playground** (pull checks every file and registers the agent; `evaluate` uses the recorded protocol, seeds
included):

<!-- snippet: playground -->
```bash
{_playground(spec, rid)}
```
"""


def _discrete(spec: GameSpec) -> bool:
    from agents.bundle.validate import game_spaces

    return hasattr(game_spaces(spec.slug)[1], "n")

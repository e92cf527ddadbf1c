"""What the replay viewer shows: an episode's frames with, at each step, the action, the policy's view
(action probabilities or mean/std, and V(s)), the reward and the running return; and its MP4.

Replays are re-simulated from their seed and actions (the same path ``playground verify`` checks), so
what a person watches is exactly the recorded episode.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.common.settings import cache_dir
from agents.evaluation.evaluate import run_episodes
from agents.evaluation.replay import replay_record
from agents.policy.network import LoadedPolicy
from envs import GameSpec, make_env

JPEG_QUALITY = 80


@dataclass
class Trajectory:
    """One episode, step by step; ``frames[i]`` is the screen before action ``i`` (JPEG bytes)."""

    frames: list[bytes]
    actions: list
    rewards: list[float]
    returns: list[float]
    values: list[float] | None = None
    probs: list[list[float]] | None = None
    means: list[list[float]] | None = None
    stds: list[list[float]] | None = None
    action_labels: list[str] = field(default_factory=list)
    fps: int = 30

    @property
    def steps(self) -> int:
        return len(self.actions)


def jpeg_frame(frame: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", frame[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("could not encode a frame")
    return buf.tobytes()


def trajectory(spec: GameSpec, replay: dict[str, Any], policy: LoadedPolicy | None = None) -> Trajectory:
    """Re-simulate ``replay`` with rendering and ask ``policy`` (if any) what it thought at every step."""
    env = make_env(spec, "replay")
    frames, observations = [], []
    try:
        obs, _ = env.reset(seed=int(replay["seed"]))
        box = not hasattr(env.action_space, "n")
        for a in replay["actions"]:
            frames.append(jpeg_frame(env.render()))
            observations.append(obs)
            obs, _, terminated, truncated, _ = env.step(np.asarray(a, dtype=env.action_space.dtype) if box else int(a))
            if terminated or truncated:
                break
        frames.append(jpeg_frame(env.render()))
    finally:
        env.close()
    rewards = [float(r) for r in replay["rewards"]]
    t = Trajectory(
        frames=frames,
        actions=list(replay["actions"]),
        rewards=rewards,
        returns=list(np.cumsum(rewards).tolist()),
        fps=spec.render_fps,
    )
    labels = getattr(spec.keymap, "labels", {}) or {}
    t.action_labels = [labels.get(i, str(i)) for i in range(len(labels))] if labels else []
    if policy is not None and observations:
        info = {k: [] for k in ("value", "probs", "mean", "std")}
        batch = 256
        for i in range(0, len(observations), batch):
            out = policy.forward_info(np.stack(observations[i : i + batch]))
            for k, v in out.items():
                info[k].extend(v.tolist())
        t.values = info["value"]
        t.probs = info["probs"] or None
        t.means = info["mean"] or None
        t.stds = info["std"] or None
    return t


def fresh_episode(spec: GameSpec, seed: int, policy: LoadedPolicy | None = None, max_steps: int = 5000) -> dict:
    """Play a new episode on ``seed`` (the agent, or a seeded random policy) and return it as a replay."""
    if policy is not None:
        act = policy.act_fn(spec.eval.deterministic)
        label, deterministic = f"fresh seed {seed}", spec.eval.deterministic
        if not spec.eval.deterministic:
            import torch

            torch.manual_seed(seed)
    else:
        env = make_env(spec, "eval")
        space = env.action_space
        env.close()
        space.seed(seed)

        def act(obs):
            return np.array([space.sample() for _ in range(len(obs))])

        label, deterministic = f"random policy, seed {seed}", False
    (ep,) = run_episodes(spec, act, [seed], record=True, parallel=1, max_steps=max_steps)
    return replay_record(spec, ep, label, deterministic)


# --- video ---------------------------------------------------------------------------------------


def video_cache_dir() -> Path:
    d = cache_dir() / "videos"
    d.mkdir(parents=True, exist_ok=True)
    return d


def replay_key(replay: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(replay, sort_keys=True).encode()).hexdigest()[:24]


def encode_mp4(frames_jpeg: list[bytes], fps: int) -> bytes:
    """H.264 MP4 that browsers play (yuv420p, even size, +faststart so it starts before it is loaded)."""
    import cv2
    import imageio_ffmpeg

    first = cv2.imdecode(np.frombuffer(frames_jpeg[0], np.uint8), cv2.IMREAD_COLOR)
    h, w = first.shape[:2]
    h2, w2 = h - h % 2, w - w % 2
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "replay.mp4"
        writer = imageio_ffmpeg.write_frames(
            str(path),
            (w2, h2),
            fps=fps,
            codec="libx264",
            pix_fmt_out="yuv420p",
            macro_block_size=1,
            output_params=["-movflags", "+faststart", "-preset", "veryfast", "-crf", "26"],
        )
        writer.send(None)
        for jpg in frames_jpeg:
            frame = cv2.imdecode(np.frombuffer(jpg, np.uint8), cv2.IMREAD_COLOR)[:h2, :w2, ::-1]
            writer.send(np.ascontiguousarray(frame))
        writer.close()
        return path.read_bytes()


def replay_video(spec: GameSpec, replay: dict[str, Any], frames: list[bytes] | None = None) -> bytes:
    """The replay's MP4, from the disk cache when it was encoded before."""
    path = video_cache_dir() / f"{spec.slug}-{replay_key(replay)}.mp4"
    if path.exists():
        return path.read_bytes()
    if frames is None:
        frames = trajectory(spec, replay).frames
    data = encode_mp4(frames, spec.render_fps)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return data


def first_frame(spec: GameSpec, seed: int) -> bytes:
    """The screen after reset on ``seed`` (JPEG): a thumbnail that needs no agent."""
    env = make_env(spec, "preview")
    try:
        env.reset(seed=seed)
        return jpeg_frame(env.render())
    finally:
        env.close()


# --- disk cache (JSON + concatenated JPEGs: nothing is pickled) -----------------------------------


def cached_trajectory(
    spec: GameSpec, replay: dict[str, Any], policy: LoadedPolicy | None = None, policy_id: str = "none"
) -> Trajectory:
    """:func:`trajectory`, stored under the cache folder so the viewer opens a replay at once next time."""
    base = video_cache_dir().parent / "trajectories" / f"{spec.slug}-{replay_key(replay)}-{policy_id[:16]}"
    meta_path, blob_path = base.with_suffix(".json"), base.with_suffix(".frames")
    if meta_path.exists() and blob_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
            blob = blob_path.read_bytes()
            offsets = meta.pop("offsets")
            frames = [blob[a:b] for a, b in itertools.pairwise(offsets)]
            return Trajectory(frames=frames, **meta)
        except (ValueError, KeyError, TypeError):
            pass  # a damaged cache entry is rebuilt below
    t = trajectory(spec, replay, policy)
    base.parent.mkdir(parents=True, exist_ok=True)
    offsets = np.cumsum([0] + [len(f) for f in t.frames]).tolist()
    meta = {
        k: getattr(t, k)
        for k in ("actions", "rewards", "returns", "values", "probs", "means", "stds", "action_labels", "fps")
    }
    meta["offsets"] = offsets
    tmp_blob, tmp_meta = blob_path.with_suffix(".frames.tmp"), meta_path.with_suffix(".json.tmp")
    tmp_blob.write_bytes(b"".join(t.frames))
    tmp_meta.write_text(json.dumps(meta))
    os.replace(tmp_blob, blob_path)
    os.replace(tmp_meta, meta_path)
    return t


def warm(models: Path) -> None:
    """Pre-compute every bundled replay's trajectory and MP4 (run in the background at app start)."""
    from agents.bundle import Bundle
    from envs import PlaygroundError

    for path in sorted(Path(models).iterdir()):
        try:
            bundle = Bundle.open(path)
            policy, pid = bundle.policy(), bundle.policy_id
            for name in bundle.replay_names():
                rep = bundle.replay(name)
                t = cached_trajectory(bundle.spec, rep, policy, pid)
                replay_video(bundle.spec, rep, t.frames)
        except (PlaygroundError, OSError):
            continue  # a broken bundle is reported by the app, not here


if __name__ == "__main__":
    import sys

    warm(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("models"))

"""A frozen Connect Four policy in NumPy: SB3's MaskablePPO MlpPolicy forward pass, saved as safetensors + JSON.

Frozen snapshots play inside the training env many thousand times a second, and the agent answers a
person's move on a server: a NumPy forward pass of the small MLP costs tens of microseconds, a torch call
several times that. The weights are saved with safetensors and the architecture as JSON, so loading one
never unpickles anything; ``test_policy.py`` checks the outputs equal the torch policy's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.selfplay.board import COLS, ROWS, Board
from envs.errors import PlaygroundError

FORMAT = "connect-four-mlp/1"
OBS_SHAPE = (ROWS, COLS, 2)
_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"ReLU": lambda x: np.maximum(x, 0.0), "Tanh": np.tanh}
MAX_LAYERS = 8
MAX_WIDTH = 2048


class PolicyFileError(PlaygroundError, ValueError):
    """A policy file that is missing, too big, or not what this format describes."""


@dataclass(frozen=True)
class NumpyPolicy:
    """Two MLP heads over the flattened (6, 7, 2) planes: move logits (``pi``) and the value V(s) (``vf``)."""

    pi: tuple[tuple[np.ndarray, np.ndarray], ...]
    vf: tuple[tuple[np.ndarray, np.ndarray], ...]
    activation: str

    @classmethod
    def from_sb3(cls, policy: Any) -> NumpyPolicy:
        """Copy the weights of an sb3-contrib MaskableActorCriticPolicy (MLP, shared flatten extractor)."""
        sd = {k: v.detach().cpu().numpy().astype(np.float32).copy() for k, v in policy.state_dict().items()}
        act = type(policy.activation_fn()).__name__
        if act not in _ACTIVATIONS:
            raise ValueError(f"activation {act} is not supported: use ReLU or Tanh")
        return cls(
            _layers(sd, "mlp_extractor.policy_net", "action_net"),
            _layers(sd, "mlp_extractor.value_net", "value_net"),
            act,
        )

    def _run(self, layers: tuple[tuple[np.ndarray, np.ndarray], ...], x: np.ndarray) -> np.ndarray:
        act = _ACTIVATIONS[self.activation]
        for i, (w, b) in enumerate(layers):
            x = x @ w.T + b
            if i < len(layers) - 1:
                x = act(x)
        return x

    def logits(self, planes: np.ndarray) -> np.ndarray:
        """Move logits for one (6, 7, 2) observation or a batch (n, 6, 7, 2)."""
        x = np.asarray(planes, dtype=np.float32).reshape(-1, ROWS * COLS * 2)
        return self._run(self.pi, x)

    def value(self, planes: np.ndarray) -> np.ndarray:
        """V(s) from the side to move's point of view, one per observation."""
        x = np.asarray(planes, dtype=np.float32).reshape(-1, ROWS * COLS * 2)
        return self._run(self.vf, x)[:, 0]

    def probabilities(self, planes: np.ndarray, legal: np.ndarray) -> np.ndarray:
        """The masked policy: softmax over the legal columns, exactly 0 on the others."""
        logits = self.logits(planes)
        legal = np.asarray(legal, dtype=bool).reshape(logits.shape)
        if not legal.any(axis=1).all():
            raise ValueError("no legal column: the game is over")
        z = np.where(legal, logits, -np.inf)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def save(self, path: Path, meta: dict[str, Any] | None = None) -> None:
        """``path``.safetensors (weights) and ``path``.json (format, architecture, ``meta``)."""
        from safetensors.numpy import save_file

        path = Path(path)
        tensors = {}
        for head, layers in (("pi", self.pi), ("vf", self.vf)):
            for i, (w, b) in enumerate(layers):
                tensors[f"{head}.{i}.weight"] = np.ascontiguousarray(w)
                tensors[f"{head}.{i}.bias"] = np.ascontiguousarray(b)
        save_file(tensors, str(path.with_suffix(".safetensors")))
        info = {"format": FORMAT, "activation": self.activation, "layers": {"pi": len(self.pi), "vf": len(self.vf)}}
        path.with_suffix(".json").write_text(json.dumps({**info, "meta": meta or {}}, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> tuple[NumpyPolicy, dict[str, Any]]:
        """Read ``path``.json and ``path``.safetensors written by :meth:`save`, checking every shape.

        Never unpickles: JSON through the project's bounded reader, tensors through safetensors; a file
        that does not describe this format is refused with :class:`PolicyFileError`.
        """
        from safetensors.numpy import load_file

        from agents.common.untrusted import read_json

        path = Path(path)
        info = read_json(path.with_suffix(".json"), "a Connect Four policy's JSON", PolicyFileError)
        if not isinstance(info, dict) or info.get("format") != FORMAT:
            raise PolicyFileError(f"{path.with_suffix('.json')} is not a {FORMAT} policy file")
        act, layers = info.get("activation"), info.get("layers")
        if act not in _ACTIVATIONS or not isinstance(layers, dict):
            raise PolicyFileError(f"{path.with_suffix('.json')}: activation {act!r} or layers {layers!r} unknown")
        weights = path.with_suffix(".safetensors")
        limit = 4 * (MAX_LAYERS * MAX_WIDTH * MAX_WIDTH + 4 * MAX_WIDTH) * 2
        if not weights.is_file() or weights.stat().st_size > limit:
            raise PolicyFileError(f"{weights} is missing or larger than {limit} bytes")
        sd = load_file(str(weights))
        heads = {}
        for head, out in (("pi", COLS), ("vf", 1)):
            n = layers.get(head)
            if not isinstance(n, int) or not 1 <= n <= MAX_LAYERS:
                raise PolicyFileError(f"{path}: {head} has {n!r} layers, expected 1..{MAX_LAYERS}")
            found, width = [], ROWS * COLS * 2
            for i in range(n):
                w, b = sd.get(f"{head}.{i}.weight"), sd.get(f"{head}.{i}.bias")
                if w is None or b is None or w.ndim != 2 or w.shape[1] != width or b.shape != (w.shape[0],):
                    raise PolicyFileError(f"{path}: {head}.{i} is missing or has the wrong shape")
                if w.shape[0] > MAX_WIDTH or not (np.isfinite(w).all() and np.isfinite(b).all()):
                    raise PolicyFileError(f"{path}: {head}.{i} is wider than {MAX_WIDTH} or not finite")
                found.append((w.astype(np.float32), b.astype(np.float32)))
                width = w.shape[0]
            if width != out:
                raise PolicyFileError(f"{path}: {head} ends with {width} outputs, expected {out}")
            heads[head] = tuple(found)
        meta: dict[str, Any] = info["meta"] if isinstance(info.get("meta"), dict) else {}
        return cls(heads["pi"], heads["vf"], act), meta


def _layers(sd: dict[str, np.ndarray], body: str, head: str) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    idx = sorted({int(k.split(".")[2]) for k in sd if k.startswith(body + ".") and k.endswith(".weight")})
    return (
        *((sd[f"{body}.{i}.weight"], sd[f"{body}.{i}.bias"]) for i in idx),
        (sd[f"{head}.weight"], sd[f"{head}.bias"]),
    )


class PolicyOpponent:
    """A frozen policy as an opponent: samples its move from the masked policy (or takes the best one)."""

    def __init__(self, policy: NumpyPolicy, name: str, deterministic: bool = False):
        self.policy = policy
        self.name = name
        self.deterministic = deterministic

    def move(self, board: Board, rng: np.random.Generator) -> int:
        probs = self.policy.probabilities(board.planes(), board.legal_mask())[0]
        if self.deterministic:
            return int(np.argmax(probs))
        # inverse CDF: the same distribution as rng.choice(p=probs) at a fraction of its cost (a training hot path)
        cdf = np.cumsum(probs)
        col = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
        return col if col < COLS else int(np.flatnonzero(probs)[-1])  # a rounding overflow: the last legal column

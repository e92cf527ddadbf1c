"""The policy as ONNX, for people who run it outside Python's SB3 (onnxruntime, a browser, another language).

Following SB3's documented export ("Exporting models", ONNX), the policy's own ``forward`` with
``deterministic=True`` is traced, wrapped so that the graph takes the *raw* observation the game's env
gives and returns the action ``env.step`` takes:

- VecNormalize's frozen observation statistics are folded in (``clip((obs - mean) / sqrt(var + eps))``), so
  no ``vec_normalize.pkl`` is needed;
- Atari: the input is the stacked uint8 frames as the env gives them, ``(N, 84, 84, 4)`` (channel last, as
  SB3's ``VecFrameStack`` makes them); the graph transposes them and divides by 255 as SB3 does;
- continuous actions are clipped to the action space's bounds, as ``model.predict`` clips them.

Outputs: ``action`` (int64 for discrete games, float32 otherwise), ``value`` (V(s)) and, for discrete games,
``probs`` (the action probabilities). ``action`` is the deterministic one (argmax, or the Gaussian's mean);
Atari's evaluation protocol samples from the policy (``model.predict(deterministic=False)``): sample from
``probs`` for it (the card's snippet does).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces

from agents.policy.network import LoadedPolicy

ONNX_FILE = "policy.onnx"
OPSET = 17


def _module(loaded: LoadedPolicy) -> Any:
    """A torch module: raw observation -> (deterministic action, value)."""
    import torch as th

    policy = loaded.policy
    norm = loaded.normalizer
    act_space = policy.action_space
    obs_space = policy.observation_space
    transpose = len(obs_space.shape) == 3  # SB3's image policies take channel-first; the env gives channel-last

    # the statistics and bounds enter the graph as constants
    if norm is not None:
        mean = th.as_tensor(norm.mean, dtype=th.float32)
        scale = th.as_tensor(np.sqrt(norm.var + norm.epsilon), dtype=th.float32)
        clip = float(norm.clip)
    box = isinstance(act_space, spaces.Box)
    if box:
        low = th.as_tensor(act_space.low, dtype=th.float32)
        high = th.as_tensor(act_space.high, dtype=th.float32)

    class OnnxablePolicy(th.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.policy = policy

        def forward(self, obs: th.Tensor) -> tuple[th.Tensor, ...]:
            x = obs
            if norm is not None:
                x = th.clamp((x.float() - mean) / scale, -clip, clip)
            if transpose:
                x = x.permute(0, 3, 1, 2)
            actions, values, _ = self.policy(x, deterministic=True)
            if box:
                return th.maximum(th.minimum(actions, high), low), values.squeeze(-1)
            # the action probabilities, to sample as the stochastic protocols (Atari) do
            probs = self.policy.get_distribution(x).distribution.probs
            return actions, values.squeeze(-1), probs

    return OnnxablePolicy().eval()


def raw_observation_space(loaded: LoadedPolicy) -> spaces.Space:
    """The observation the ONNX graph takes: the env's (channel-last for images)."""
    space = loaded.policy.observation_space
    if isinstance(space, spaces.Box) and len(space.shape) == 3:
        c, h, w = space.shape
        return spaces.Box(low=0, high=255, shape=(h, w, c), dtype=space.dtype)
    return space


def export_onnx(loaded: LoadedPolicy, dest: Path) -> Path:
    """Write the policy (normalisation folded in) as ONNX to ``dest``; returns ``dest``."""
    import torch as th

    module = _module(loaded)
    space = raw_observation_space(loaded)
    example = th.as_tensor(np.stack([space.sample()]).astype(space.dtype))
    names = ["action", "value"] + (["probs"] if isinstance(loaded.action_space, spaces.Discrete) else [])
    with th.no_grad(), warnings.catch_warnings():
        # the tracer warns about the distributions' argument checks (constant for a trace) and that the
        # TorchScript exporter is deprecated; the parity test (test_interop_files.py) is what we rely on
        warnings.simplefilter("ignore")
        # the TorchScript exporter (dynamo=False): it needs no onnxscript and gives a self-contained file
        th.onnx.export(
            module,
            (example,),
            str(dest),
            input_names=["obs"],
            output_names=names,
            dynamic_axes={name: {0: "batch"} for name in ["obs", *names]},
            opset_version=OPSET,
            dynamo=False,
        )
    _strip_names(dest)
    return dest


def _strip_names(path: Path) -> None:
    """Drop the producer's version and the doc strings (source paths of this machine) from the graph, so
    the same policy gives the same bytes on any machine."""
    import onnx

    model = onnx.load(str(path))
    model.producer_version = ""
    for node in model.graph.node:
        node.doc_string = ""
    onnx.save(model, str(path))


class OnnxPolicy:
    """The exported graph run by onnxruntime: ``predict(raw_obs_batch)`` -> actions for ``env.step``."""

    def __init__(self, path: Path):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0]

    def predict(self, obs: np.ndarray) -> np.ndarray:
        dtype = np.uint8 if "uint8" in self.input.type else np.float32
        return self.session.run(["action"], {"obs": np.asarray(obs, dtype=dtype)})[0]

    def probs(self, obs: np.ndarray) -> np.ndarray:
        """Action probabilities (discrete games)."""
        dtype = np.uint8 if "uint8" in self.input.type else np.float32
        return self.session.run(["probs"], {"obs": np.asarray(obs, dtype=dtype)})[0]

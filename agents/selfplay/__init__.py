"""Connect Four self-play: a fast board, test opponents, the single-agent self-play env, training with
MaskablePPO against a gated pool, evaluation with Wilson CIs, the cross-play matrix and the agent API."""

"""PPO on Stable-Baselines3: hyperparameters, diagnostics callbacks, evaluation, replays and bundles."""

"""The training lab: PPO runs started from the browser, run as ordinary ``playground train`` runs by a job
runner on the playground's database, and read back live (docs/lab.md).

- :mod:`playground.lab.knobs`: the knobs a learner may change, with meaning and range, in one table;
- :mod:`playground.lab.presets`: the chapters' experiments as comparisons of arms;
- :mod:`playground.lab.runner`: the worker pool (local processes or Ray tasks), caps, cancel, resume, cleanup;
- :mod:`playground.lab.live`: what the page reads off a run folder (curves, progress, health, the comparison).
"""

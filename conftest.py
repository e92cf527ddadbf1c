"""Settings for every test in the repository (tests/conftest.py holds the CLI helpers)."""

import torch

# One torch thread, as `playground train` and the play server use. torch's default (one per core) made a
# tiny SB3 run 3x slower on this 2-core machine while another process trained; and a train() call sets one
# thread for the rest of the process anyway, so without this a test's speed would depend on test order.
torch.set_num_threads(1)

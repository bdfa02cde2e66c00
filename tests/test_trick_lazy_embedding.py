"""lazy_embedding: rows of tokens absent from a batch keep their values and optimizer state, bit for
bit."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from pipeline.training.module import ModelModule
from tests.trick_kit import StepRecorder, fit

VOCAB, BATCH, STEPS = 20, 4, 6


class BagOfTokens(ModelModule):
    """Mean of token embeddings → linear classifier."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 5)
        self.head = nn.Linear(5, 3)

    def training_step(self, batch, batch_idx):
        tokens, y = batch
        return F.cross_entropy(self.head(self.embed(tokens).mean(1)), y)


def token_batches() -> tuple[TensorDataset, list[set[int]]]:
    """Step 1 sees tokens 0–11; later steps only 0–9, so rows 10 and 11 carry momentum they must not
    use."""
    generator = torch.Generator().manual_seed(0)
    first = torch.arange(BATCH * 3).reshape(BATCH, 3)
    rest = torch.randint(0, 10, (BATCH * (STEPS - 1), 3), generator=generator)
    tokens = torch.cat([first, rest])
    labels = torch.randint(0, 3, (len(tokens),), generator=generator)
    seen = [set(tokens[i * BATCH : (i + 1) * BATCH].flatten().tolist()) for i in range(STEPS)]
    return TensorDataset(tokens, labels), seen


class StateRecorder(StepRecorder):
    """Also records the optimizer state of the embedding after every step."""

    def __init__(self):
        super().__init__()
        self.states: list[dict[str, torch.Tensor]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        state = trainer.optimizers[0].state[pl_module.embed.weight]
        self.states.append(
            {k: v.clone() for k, v in state.items() if torch.is_tensor(v) and v.dim() == 2}
        )


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_unseen_rows_and_their_optimizer_state_do_not_move(optimizer):
    data, seen = token_batches()
    torch.manual_seed(0)
    lazy_module = BagOfTokens()
    eager_module = copy.deepcopy(lazy_module)
    lazy, eager = StateRecorder(), StateRecorder()
    # Decoupled decay is applied inside the wrapped step, so unseen rows are not decayed either.
    fit(
        lazy_module,
        {"lazy_embedding": {"patterns": ["embed.*"]}, "weight_decay": {"rate": 0.1}},
        data,
        batch_size=BATCH,
        optimizer=optimizer,
        after=[lazy],
    )
    fit(
        eager_module,
        {"weight_decay": {"rate": 0.1}},
        data,
        batch_size=BATCH,
        optimizer=optimizer,
        after=[eager],
    )

    assert len(lazy.steps) == STEPS and lazy.states[0]
    for step in range(1, STEPS):
        unseen = sorted(set(range(VOCAB)) - seen[step])
        seen_rows = sorted(seen[step])
        previous, now = lazy.steps[step - 1]["embed.weight"], lazy.steps[step]["embed.weight"]
        assert torch.equal(now[unseen], previous[unseen])
        assert not torch.equal(now[seen_rows], previous[seen_rows])
        for key, value in lazy.states[step].items():
            assert torch.equal(value[unseen], lazy.states[step - 1][key][unseen]), key
        # Without the trick, rows 10 and 11 keep moving on the momentum (or moments) of step 1 and
        # on the decay.
        assert not torch.equal(
            eager.steps[step]["embed.weight"][10:12], eager.steps[step - 1]["embed.weight"][10:12]
        )

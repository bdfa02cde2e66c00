"""BioWord (FlyVec): word and document hashes from a fruit-fly network trained by a Hebbian rule.

Liang, Ryali, Hoover, Grinberg, Navlakha, Zaki and Krotov, "Can a Fruit Fly Learn Word
Embeddings?" (ICLR 2021). K Kenyon cells read windows of text (the bag of the context words beside
the one-hot of the target word, 2·V inputs); unsupervised, winner-take-all learning
(:mod:`plugins.bioword.rule`) makes each cell a detector of a family of contexts. The hash of an
input keeps its k most active cells: k ones among K bits, words that share contexts share ones.

Training is expressed through the core's optimizer: the step is the gradient of a surrogate whose
gradient is the rule, so plain SGD at rate ε performs the reference's update exactly and every
trick composes with it. ``train_loss``/``val_loss`` log the paper's energy per window, the quantity
the rule descends (the surrogate's own value carries no meaning). The word frequencies p are
counted on the training split when training starts and saved with the weights.

A document's hash is the hash of the bag of its words placed in both halves of the input (the
whole document as one window around all of its words): one linear read-out and a top-k, so the
exported network hashes windows and documents alike. The sum of the activations of a document's
windows reads the same bag too, ⟨2·context·W_context + W_target, bag⟩ up to the row's edges, at the
cost of cutting every window; on the default run both retrieve alike (precision@10 0.488 for the
sum, 0.491 for the bag).
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from pipeline import FIRST_WORD, EpochPartsModule, Family, PipelineError, word_counts
from plugins.bioword.network import FlyHash
from plugins.bioword.report import draw_report, write_neighbours
from plugins.bioword.retrieval import overlap, simhash_precision
from plugins.bioword.rule import energy, surrogate
from plugins.bioword.windows import bag_inputs, dense, windows
from plugins.text.retrieval import cosines, precision_at

CHUNK = 128  # rows hashed at once: the tie-exact top-k compares every pair of cells of a row
LSH_SEEDS = 5  # random-projection draws the baseline's precision is averaged over


class BioWordModule(EpochPartsModule):
    """The fly network, the training split's word counts, and the learning rule as a loss."""

    def __init__(self, vocab: int, cells: int, hash_length: int, context: int):
        super().__init__()
        self.vocab, self.context = vocab, context
        self.fly = FlyHash(2 * vocab, cells, hash_length)
        # A buffer, not a parameter: counted once, checkpointed, so a resumed run keeps its p.
        self.register_buffer("word_counts", torch.zeros(vocab))

    @property
    def synapses(self) -> torch.Tensor:
        """W (K cells × 2·V inputs)."""
        return self.fly.synapses.weight

    def inverse_p(self) -> torch.Tensor:
        """1/p of each of the 2·V inputs, p a word's share of the training words (a word never
        seen counts once); 0 for the ids that are no words."""
        counts = self.word_counts.clamp_min(1)
        inverse = counts.sum() / counts
        inverse[:FIRST_WORD] = 0
        return inverse.repeat(2)

    def on_train_start(self) -> None:
        if self.word_counts.sum() > 0:  # resumed, or counted by a previous fit
            return
        counts = torch.zeros_like(self.word_counts)
        for batch in self.trainer.train_dataloader:
            rows = batch[0]
            counts += torch.from_numpy(word_counts(rows.cpu().numpy(), self.vocab)).to(counts)
        self.word_counts.copy_(self.trainer.strategy.reduce(counts, reduce_op="sum"))

    def windows(self, rows: torch.Tensor) -> torch.Tensor:
        """The training windows of a batch of rows, as sparse inputs."""
        return windows(rows, self.context, self.vocab)

    def training_step(self, batch, batch_idx):
        ids, inverse_p = self.windows(batch[0]), self.inverse_p()
        with torch.no_grad():  # the logged energy; the surrogate below is what trains
            self.log_step("train", energy(self.synapses, ids, inverse_p), {}, len(batch[0]))
        return surrogate(self.synapses, ids, inverse_p)

    def validation_step(self, batch, batch_idx):
        ids = self.windows(batch[0])
        self.log_step("val", energy(self.synapses, ids, self.inverse_p()), {}, len(batch[0]))

    @torch.no_grad()
    def hash_inputs(self, inputs: torch.Tensor) -> np.ndarray:
        """The binary codes (n, K) of dense 2·V inputs, hashed a chunk at a time."""
        chunks = [self.fly(inputs[i : i + CHUNK]) for i in range(0, len(inputs), CHUNK)]
        return torch.cat(chunks).numpy() if chunks else self.fly(inputs).numpy()  # none: (0, K)

    def document_inputs(self, rows: np.ndarray) -> torch.Tensor:
        """Dense 2·V inputs of documents: their bag of words in both halves."""
        return dense(bag_inputs(torch.from_numpy(rows), self.vocab), 2 * self.vocab)

    def word_codes(self, words: np.ndarray) -> np.ndarray:
        """The hash of each word id of ``words`` as a target word (its one-hot in the target
        half)."""
        inputs = torch.zeros(len(words), 2 * self.vocab)
        inputs[torch.arange(len(words)), torch.as_tensor(words) + self.vocab] = 1.0
        return self.hash_inputs(inputs)


class BioWordFamily(Family):
    """Builds, evaluates and exports the fly network (to ONNX: its top-k has no Keras twin)."""

    export_formats = ("ONNX",)

    def build(self, settings, info):
        if settings["hash_length"] > settings["cells"]:
            raise PipelineError(
                f"model.hash_length = {settings['hash_length']} exceeds model.cells = "
                f"{settings['cells']}; a hash keeps at most every cell active."
            )
        return BioWordModule(
            len(info.vocab), settings["cells"], settings["hash_length"], settings["context"]
        )

    def evaluate(self, module, data, out_dir):
        docs = module.document_inputs(data.test.x)
        codes, labels = module.hash_inputs(docs), data.test.y
        bags = docs[:, : module.vocab].numpy()
        shares = np.bincount(labels) / len(labels)
        ids = module.windows(torch.from_numpy(data.test.x))
        metrics = {
            "retrieval_p10": precision_at(overlap(codes), labels),
            "lsh_retrieval_p10": simhash_precision(bags, labels, codes.shape[1], LSH_SEEDS),
            "bow_retrieval_p10": precision_at(cosines(bags), labels),
            "chance_p10": float(shares @ shares),
            "test_energy": float(energy(module.synapses, ids, module.inverse_p())),
        }
        write_neighbours(module, data, out_dir / "nearest_words.txt")
        draw_report(metrics, codes, labels, data.info.labels, out_dir / "retrieval.png")
        return metrics

    def export_target(self, module, data):
        return copy.deepcopy(module.fly).eval(), module.document_inputs(data.test.x[:256])

"""What evaluate shows of the fly's hashes: the nearest words of frequent words, and a picture of
retrieval against its baselines beside the cells each module's documents switch on."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline import FIRST_WORD, pyplot
from plugins.bioword.retrieval import overlap

QUERIES = 12  # frequent words shown
NEAREST = 8  # neighbours listed for each
LONG = 5  # letters from which a word counts as a content word (shorter ones are mostly "the")
FREQUENT = (
    5  # training occurrences a word needs to be listed: a rarer one's hash is mostly its start
)


def query_words(vocab: tuple[str, ...], counts: np.ndarray) -> list[int]:
    """The ids of the most frequent training words of at least ``LONG`` letters (the most frequent
    words of any length where too few are that long, as in a character vocabulary)."""
    ids = [i for i in np.argsort(-counts, kind="stable") if i >= FIRST_WORD and counts[i] > 0]
    long = [i for i in ids if len(vocab[i]) >= LONG]
    return [int(i) for i in (long if len(long) >= QUERIES else ids)[:QUERIES]]


def write_neighbours(module, data, path: Path) -> None:
    """``nearest_words.txt``: for frequent words, the words whose hashes share most ones with theirs
    (each with the count of shared ones out of k), among the words seen ``FREQUENT`` times."""
    vocab = data.info.vocab
    counts = module.word_counts.numpy()
    listed = np.flatnonzero(counts >= FREQUENT)  # the counts of ids that are no words are 0
    shared = overlap(module.word_codes(listed))
    lines = [
        f"# nearest words by hash overlap (shared ones of k = {module.fly.k}, "
        f"K = {len(module.synapses)} cells) among the {len(listed)} words seen at least "
        f"{FREQUENT} times in training"
    ]
    row = {int(word): i for i, word in enumerate(listed)}
    for word in query_words(vocab, counts):
        if word not in row:
            continue
        others = np.flatnonzero(np.arange(len(listed)) != row[word])
        order = others[np.argsort(-shared[row[word], others], kind="stable")][:NEAREST]
        shown = ", ".join(f"{vocab[listed[i]]} ({int(shared[row[word], i])})" for i in order)
        lines.append(f"{vocab[word]:>16}: {shown}")
    path.write_text("\n".join(lines) + "\n")


def draw_report(metrics, codes, labels, names, path: Path) -> None:
    """Precision@10 of the fly's hashes against SimHash, the raw bag of words and chance; and the
    share of each module's test documents that switch each cell on."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), width_ratios=(1, 2))
    bars = {
        "retrieval_p10": ("BioWord hash", "C0"),
        "lsh_retrieval_p10": ("SimHash", "C1"),
        "bow_retrieval_p10": ("bag of words\n(cosine)", "C7"),
        "chance_p10": ("chance", "C7"),
    }
    left.bar(
        [v[0] for v in bars.values()],
        [metrics[k] for k in bars],
        color=[v[1] for v in bars.values()],
    )
    left.set(ylabel="precision@10, same module", title="Test documents: retrieval", ylim=(0, 1))
    left.tick_params(axis="x", labelsize=8)
    classes = int(labels.max()) + 1 if len(labels) else 0
    rates = np.stack([codes[labels == c].mean(0) for c in range(classes) if (labels == c).any()])
    order = np.lexsort((-rates.max(0), rates.argmax(0)))  # cells grouped by their module
    right.imshow(rates[:, order], aspect="auto", cmap="magma", interpolation="nearest")
    present = [c for c in range(classes) if (labels == c).any()]
    right.set_yticks(range(len(present)), [names[c] if names else str(c) for c in present])
    right.set(xlabel="Kenyon cell (grouped by the module it fires for most)")
    right.set_title("Share of each module's documents whose hash holds the cell")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

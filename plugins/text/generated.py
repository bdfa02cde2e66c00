"""Generated languages whose structure is known: ``dyck`` (balanced brackets, whose trees are the
brackets themselves) and ``cond_strings`` (strings drawn from one Markov chain per class)."""

from __future__ import annotations


def dyck_strings(
    examples: int, pairs: str, max_depth: int, max_length: int, seed: int
) -> list[str]:
    """``examples`` random balanced bracket strings of at most ``max_length`` characters, nested at
    most ``max_depth`` deep; ``pairs`` lists opening and closing brackets, e.g. ``"()[]"``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    kinds = [(pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2)]
    found: list[str] = []
    while len(found) < examples:
        text = _sequence(rng, kinds, 0, max_depth)
        if 2 <= len(text) <= max_length:
            found.append(text)
    return found


def _sequence(rng, kinds, depth: int, max_depth: int) -> str:
    """One or more bracketed constituents side by side, or none (a leaf) below the top."""
    parts = []
    while not parts or (len(parts) < 4 and rng.random() < 0.45):
        if depth > 0 and not parts and rng.random() < 0.35:
            return ""  # a leaf: an empty pair of brackets
        opening, closing = kinds[rng.integers(len(kinds))]
        inner = _sequence(rng, kinds, depth + 1, max_depth) if depth + 1 < max_depth else ""
        parts.append(opening + inner + closing)
    return "".join(parts)


def bracket_spans(text: str, pairs: str = "()[]{}<>") -> list[tuple[int, int]]:
    """The constituents of a balanced bracket string as ``(start, end)`` character spans, end
    exclusive, one per matched pair: the gold tree a parser is scored against."""
    closing_of = {pairs[i]: pairs[i + 1] for i in range(0, len(pairs), 2)}
    stack, spans = [], []
    for position, char in enumerate(text):
        if char in closing_of:
            stack.append((position, closing_of[char]))
        elif stack and char == stack[-1][1]:
            start, _ = stack.pop()
            spans.append((start, position + 1))
    return sorted(spans)


def markov_chains(classes: int, alphabet: int, seed: int):
    """One Markov chain per class over ``alphabet`` letters: start probabilities ``(classes,
    alphabet)`` and transition probabilities ``(classes, alphabet, alphabet)``, sparse-ish
    (Dirichlet 0.3), so each class has a recognisable style."""
    import numpy as np

    rng = np.random.default_rng(seed)
    start = rng.dirichlet(np.full(alphabet, 0.3), size=classes)
    transitions = rng.dirichlet(np.full(alphabet, 0.3), size=(classes, alphabet))
    return start, transitions


def conditional_strings(
    examples: int, classes: int, alphabet: int, length: int, seed: int
) -> tuple[list[str], list[int]]:
    """``examples`` strings of ``length`` letters with their class: each drawn from its class's
    Markov chain (:func:`markov_chains` of the same seed), classes in turn."""
    import numpy as np

    start, transitions = markov_chains(classes, alphabet, seed)
    rng = np.random.default_rng(seed + 1)
    letters = "abcdefghijklmnopqrstuvwxyz"[:alphabet]
    texts, labels = [], []
    for index in range(examples):
        label = index % classes
        state = rng.choice(alphabet, p=start[label])
        chars = [state]
        for _ in range(length - 1):
            state = rng.choice(alphabet, p=transitions[label, state])
            chars.append(state)
        texts.append("".join(letters[c] for c in chars))
        labels.append(label)
    return texts, labels


def load_dyck(settings):
    """Balanced bracket strings as token ids (no labels)."""
    import numpy as np

    from pipeline import Examples, Vocab

    texts = dyck_strings(
        settings["examples"],
        settings["pairs"],
        settings["max_depth"],
        settings["max_length"],
        settings["seed"],
    )
    vocab = Vocab.build(texts)
    x = vocab.encode(texts, settings["max_length"] + 2)
    return Examples(x, np.zeros(len(texts), dtype=np.int64), vocab.symbols)


def load_conditional_strings(settings):
    """Strings of a Markov chain per class, as token ids labelled by class."""
    import numpy as np

    from pipeline import Examples, Vocab

    texts, labels = conditional_strings(
        settings["examples"],
        settings["classes"],
        settings["alphabet"],
        settings["length"],
        settings["seed"],
    )
    vocab = Vocab.build(texts)
    x = vocab.encode(texts, settings["length"] + 2)
    names = tuple(f"style {c}" for c in range(settings["classes"]))
    return Examples(x, np.array(labels, dtype=np.int64), vocab.symbols, names)

"""The built-in datasets: every one and its settings, in one table.

Registered by entry point exactly as a third-party dataset package is. Each spec's ``load`` or
``stream`` (and ``sources``) is a lazy ``"module:function"`` reference, imported when a stage reads
the data.
"""

from __future__ import annotations

from pipeline import DatasetSpec, Setting, hookimpl

# Eight modules with 170–790 docstrings each: about 2,600 documents.
WORD_MODULES = [
    "asyncio",
    "email",
    "importlib",
    "logging",
    "multiprocessing",
    "tkinter",
    "unittest",
    "xml",
]


def generator_seed() -> Setting:
    """The seed of a generated dataset, apart from the split's."""
    return Setting(0, "seed of the generator (the split uses the global seed)", low=0)


def text_length(default: int, what: str) -> Setting:
    """Tokens per encoded row, the start and end markers included."""
    return Setting(default, f"tokens per {what} row, start and end markers included", low=3)


def min_count(token: str = "character") -> Setting:
    """How often a character (or word) must occur to get its own token."""
    return Setting(
        2, f"occurrences a {token} needs for its own token (rarer ones are <unk>)", low=1
    )


def examples_cap() -> Setting:
    """How many examples to keep."""
    return Setting(0, "examples kept (a seeded sample); 0 keeps every one", low=0)


def module_list(default: list[str], doc: str) -> Setting:
    """A list of top-level standard-library module names."""
    return Setting(
        default,
        f"top-level standard-library modules: {doc}",
        kinds=(list,),
        check=lambda v: all(isinstance(m, str) and m for m in v) and len(set(v)) == len(v),
        expect="a list of distinct module names such as ['asyncio', 'email']",
    )


def folder_path(holding: str) -> Setting:
    """The user's folder of data files."""
    return Setting(
        None,
        f"folder with {holding}",
        kinds=(str,),
        nullable=True,
        expect="a folder path (string)",
    )


def tsv_path() -> Setting:
    """The user's TSV file."""
    return Setting(
        None, "the TSV file to read", kinds=(str,), nullable=True, expect="a file path (string)"
    )


def stdlib_title_settings() -> dict[str, Setting]:
    """The settings of an article → title dataset read from the standard library."""
    return {
        "modules": module_list([], "where to read; every one when empty"),
        "length": text_length(160, "article"),
        "title_length": text_length(48, "title"),
        "min_count": min_count(),
        "examples": examples_cap(),
    }


DATASETS = [
    DatasetSpec(
        "digits",
        "8x8 handwritten digits shipped with scikit-learn",
        load="plugins.digits:load_digits_arrays",
    ),
    DatasetSpec(
        "digits_one_vs_rest",
        "the digits as a binary problem: label 1 for one digit (about 10%), 0 for the rest",
        load="plugins.digits:load_one_vs_rest",
        settings={
            "positive": Setting(9, "the digit labelled 1 (the positive class)", low=0, high=9)
        },
    ),
    DatasetSpec(
        "idx",
        "MNIST-format IDX files from data.path, streamed image by image into shards",
        stream="plugins.idx:stream_idx",
        sources="plugins.idx:idx_sources",
        settings={
            "path": folder_path("the IDX files"),
            "test_split": Setting(
                "official",
                "official: the t10k-* files, when present, are the test split; pool: they are "
                "split with the train files by data.val_fraction and data.test_fraction",
                choices=("official", "pool"),
            ),
        },
    ),
    DatasetSpec(
        "image_folder",
        "PNG/JPEG images in one subfolder per class under data.path, streamed into shards",
        stream="plugins.image_folder:stream_image_folder",
        sources="plugins.image_folder:image_folder_sources",
        settings={
            "path": folder_path("one subfolder of images per class"),
            "size": Setting(28, "images are resized to size x size pixels", low=1, high=4096),
            "channels": Setting(1, "1 reads images as grayscale, 3 as RGB", choices=(1, 3)),
        },
    ),
    DatasetSpec(
        "gaussian_blobs",
        "generated Gaussian blobs of any size, streamed into shards (data bigger than memory)",
        stream="plugins.gaussian_blobs:stream_blobs",
        settings={
            "examples": Setting(20000, "examples to generate", low=10),
            "features": Setting(64, "features per example", low=1),
            "classes": Setting(10, "number of blobs (labels)", low=2),
            "spread": Setting(0.15, "standard deviation around a blob's centre", low=0),
            "seed": generator_seed(),
        },
    ),
    DatasetSpec(
        "gaussian_mixture",
        "generated 1-D/2-D Gaussian mixture; labels are the components",
        load="plugins.mixtures:load_mixture",
        settings={
            "dims": Setting(2, "1 for components along a line, 2 for a ring", choices=(1, 2)),
            "components": Setting(8, "number of Gaussian components (modes)", low=1, high=64),
            "examples": Setting(3000, "points to generate", low=10),
            "std": Setting(
                0.02, "standard deviation of each component", low=0, low_open=True, high=0.2
            ),
            "seed": generator_seed(),
        },
    ),
    DatasetSpec(
        "docstrings",
        "summary lines of the standard library's docstrings, labelled by their module",
        load="plugins.text.docstrings:load_docstrings",
        kind="tokens",
        settings={
            "modules": module_list(["asyncio", "email", "logging", "tkinter"], "the labels"),
            "length": text_length(64, "summary line"),
            "min_count": min_count(),
            "examples": examples_cap(),
        },
    ),
    DatasetSpec(
        "docstring_titles",
        "the standard library's docstrings: body (article) -> summary line (title)",
        load="plugins.text.docstrings:load_docstring_titles",
        kind="token_pairs",
        settings=stdlib_title_settings(),
    ),
    DatasetSpec(
        "code_titles",
        "the standard library's documented functions: code without docstrings (article) -> "
        "summary line (title), repeated pairs kept once",
        load="plugins.text.code_titles:load_code_titles",
        kind="token_pairs",
        settings=stdlib_title_settings(),
    ),
    DatasetSpec(
        "docstring_words",
        "whole docstrings of the standard library as words, labelled by their module",
        load="plugins.text.docstrings:load_docstring_words",
        kind="tokens",
        settings={
            "modules": module_list(WORD_MODULES, "the labels"),
            "length": text_length(64, "document (words)"),
            "min_count": min_count("word"),
            "examples": examples_cap(),
        },
    ),
    DatasetSpec(
        "dyck",
        "generated balanced bracket strings (a Dyck language), whose trees are known",
        load="plugins.text.generated:load_dyck",
        kind="tokens",
        settings={
            "examples": Setting(3000, "strings to generate", low=10),
            "pairs": Setting(
                "()[]",
                "opening and closing brackets, pair by pair",
                check=lambda v: len(v) >= 2 and len(v) % 2 == 0 and len(set(v)) == len(v),
                expect="an even number of distinct characters such as '()[]'",
            ),
            "max_depth": Setting(6, "deepest nesting", low=1, high=32),
            "max_length": Setting(40, "longest string in characters", low=2, high=1024),
            "seed": generator_seed(),
        },
    ),
    DatasetSpec(
        "python_expressions",
        "expressions from the standard library's own sources, whose trees are their syntax",
        load="plugins.text.expressions:load_python_expressions",
        kind="tokens",
        settings={
            "modules": module_list([], "where to read; every one when empty"),
            "min_length": Setting(8, "shortest expression in characters", low=3, high=1024),
            "max_length": Setting(40, "longest expression in characters", low=3, high=1024),
            "examples": Setting(
                4000, "expressions kept (a seeded sample); 0 keeps every one", low=0
            ),
            "seed": Setting(0, "seed of the sample (the split uses the global seed)", low=0),
        },
    ),
    DatasetSpec(
        "cond_strings",
        "generated strings, each class from its own Markov chain over a few letters",
        load="plugins.text.generated:load_conditional_strings",
        kind="tokens",
        settings={
            "examples": Setting(4000, "strings to generate", low=10),
            "classes": Setting(4, "classes, one Markov chain each", low=2, high=26),
            "alphabet": Setting(8, "letters used", low=2, high=26),
            "length": Setting(24, "letters per string", low=2, high=1024),
            "seed": generator_seed(),
        },
    ),
    DatasetSpec(
        "text_tsv",
        "the user's text<TAB>label lines from the TSV file at data.path",
        stream="plugins.text.tsv:stream_text_tsv",
        sources="plugins.text.tsv:tsv_sources",
        kind="tokens",
        settings={
            "path": tsv_path(),
            "length": text_length(128, "text"),
            "min_count": min_count(),
        },
    ),
    DatasetSpec(
        "pairs_tsv",
        "the user's article<TAB>title lines from the TSV file at data.path",
        stream="plugins.text.tsv:stream_pairs_tsv",
        sources="plugins.text.tsv:tsv_sources",
        kind="token_pairs",
        settings={
            "path": tsv_path(),
            "length": text_length(256, "article"),
            "title_length": text_length(48, "title"),
            "min_count": min_count(),
        },
    ),
]


@hookimpl
def pipeline_datasets() -> list[DatasetSpec]:
    """Every built-in dataset."""
    return list(DATASETS)

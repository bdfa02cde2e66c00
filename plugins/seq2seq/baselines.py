"""The titles a model must beat to show it reads the article: the article's whole first sentence,
the one training title that scores best as the title of every training article, and the title of
the most similar training article (tf-idf cosine)."""

from __future__ import annotations

import numpy as np

from plugins.seq2seq.rouge import mean_rouge_l


def first_sentence(article: str) -> str:
    """The article up to its first ``". "`` (the whole article when it has none)."""
    return article.split(". ")[0]


def best_constant_title(train_titles: list[str]) -> str:
    """The distinct training title of the highest mean ROUGE-L F as the title of every training
    article (the first such title when several tie)."""
    candidates = list(dict.fromkeys(train_titles))
    return candidates[int(np.argmax(mean_rouge_l(candidates, train_titles)))]


def nearest_titles(
    articles: list[str], train_articles: list[str], train_titles: list[str]
) -> list[str]:
    """For each article, the title of the training article of the highest tf-idf cosine (word
    unigrams, sublinear term frequency; the first one on ties)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(sublinear_tf=True).fit(train_articles)
    similarity = vectorizer.transform(articles) @ vectorizer.transform(train_articles).T
    nearest = np.asarray(similarity.toarray().argmax(1)).ravel()
    return [train_titles[i] for i in nearest]


def baseline_titles(
    articles: list[str], train_articles: list[str], train_titles: list[str]
) -> dict[str, list[str]]:
    """Each baseline's title of every article, keyed by the metric suffix it is logged under."""
    constant = best_constant_title(train_titles)
    return {
        "first_sentence": [first_sentence(a) for a in articles],
        "constant": [constant] * len(articles),
        "nearest": nearest_titles(articles, train_articles, train_titles),
    }

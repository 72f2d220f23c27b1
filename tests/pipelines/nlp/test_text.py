"""Cleaning, tokens, lemmas and stems on hand-written texts."""

from __future__ import annotations

import pandas as pd

from recsys_kedro.pipelines.nlp import models
from recsys_kedro.pipelines.nlp.text import normalise_text, strip_special


def test_normalise_decodes_html_and_drops_tags_urls_and_extra_space():
    texts = pd.Series(
        [
            "Great &amp; cheap! <br/>See https://x.com/a?b=1  now",
            None,
            "  I&#39;m   <b>SO</b> happy www.shop.com/p 😍 ",
        ]
    )
    assert normalise_text(texts).tolist() == [
        "Great & cheap! See now",
        "",
        "I'm SO happy 😍",
    ]


def test_strip_special_lowercases_and_removes_punctuation_symbols_and_emoji():
    texts = pd.Series(["LOVE it!!! 😍😍 Don’t buy... #1 pick_me", "😍🔥✨", "'quoted'"])
    assert strip_special(texts).tolist() == [
        "love it don't buy 1 pick me",
        "",
        "quoted",
    ]


def test_lemmas_and_stems_of_kept_tokens(processor):
    out = processor.process(pd.Series(["the children were running and loved it"]))
    # "the", "were", "and", "it" are stop words.
    assert out.clean_text == ["children running loved"]
    assert out.lemmas == [["child", "run", "love"]]
    # Snowball stems the words, not the lemmas: "children" has no suffix it strips.
    assert out.stems == [["children", "run", "love"]]
    generous = processor.process(pd.Series(["generously hydrating"]))
    assert generous.stems == [["generous", "hydrat"]]


def test_negations_are_kept_while_other_stop_words_go(processor):
    out = processor.process(pd.Series(["i don't like it", "never again not good"]))
    assert out.clean_text == ["not like", "never not good"]
    assert out.lemmas == [["not", "like"], ["never", "not", "good"]]
    assert "again" in processor.stop_words and "not" not in processor.stop_words


def test_emoji_only_empty_and_non_english_texts_go_through(processor):
    raw = pd.Series(["😍😍🔥", None, "très bien, j'adore ce produit", "这个很好"])
    out = processor.process(strip_special(normalise_text(raw)))
    assert out.clean_text[0] == "" and out.lemmas[0] == [] and out.stems[0] == []
    assert out.clean_text[1] == "" and out.lemmas[1] == []
    assert "bien" in out.clean_text[2] and "produit" in out.lemmas[2]
    assert out.clean_text[3] == "这个很好"
    assert out.truncated == [False] * 4


def test_a_5000_word_text_is_processed_whole_and_a_longer_one_cut_and_flagged(
    processor,
):
    text = " ".join(["shiny"] * 5_000)
    out = processor.process(pd.Series([text]))
    assert out.lemmas[0] == ["shiny"] * 5_000 and out.truncated == [False]
    short = models.text_processor("blank:en", ("not",), 100, "english")
    cut = short.process(pd.Series([text]))
    # 100 characters: 16 full "shiny " words and "shin" (the cut splits the 17th).
    assert len(cut.lemmas[0]) == 17 and cut.truncated == [True]

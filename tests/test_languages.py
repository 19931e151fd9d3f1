"""Each language's analysis: tokens, stop lists, stems, bigrams, fallback; the block's words."""

from __future__ import annotations

import json
import warnings
from unittest import mock

import numpy as np
import pytest

from relatedcontent import RelatedContent, load
from relatedcontent.outputs.strings import BLOCK_STRINGS, block_strings
from relatedcontent.text import languages as lang
from relatedcontent.text.languages import (
    CHAR_PREFIX,
    ENGLISH_STOP_WORDS,
    Analyzer,
    language_of,
    learnt_stop_words,
)
from relatedcontent.vectors.tfidf import (
    CHAR_AUTO_MAX_ARTICLES,
    CHAR_SHARE,
    FieldWeightedVectorizer,
    TermCounts,
    merge_term_counts,
)

pytest.importorskip("Stemmer", reason="the languages extra (PyStemmer) is not installed")
pytest.importorskip("stopwordsiso", reason="the languages extra (stopwordsiso) is not installed")


@pytest.fixture
def no_extra():
    """The languages extra hidden: no stopwords-iso lists, no stemmers."""
    lang.resources.cache_clear()
    with (
        mock.patch.object(lang, "_stopwordsiso", return_value=None),
        mock.patch.object(lang, "_pystemmer", return_value=None),
    ):
        yield
    lang.resources.cache_clear()


# -- language codes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "code"),
    [("de", "de"), ("de-AT", "de"), ("pt_BR", "pt"), ("CY", "cy"), (None, "en"), ("  ", "en")],
)
def test_language_codes_are_iso_639_1_with_regions_dropped(value, code):
    assert language_of(value, "en") == (code, None)


@pytest.mark.parametrize("value", ["german", "xx", "d", "12"])
def test_a_value_that_is_no_language_code_is_named(value):
    code, problem = language_of(value, "en")
    assert problem is not None
    assert repr(value) in problem
    assert "ISO 639-1" in problem


# -- English ---------------------------------------------------------------------------


def test_the_english_list_keeps_the_content_words_of_a_council():
    words = Analyzer("en")("The council's bill: a fire system of interest to the mill. Call us.")
    assert words == ["council", "bill", "fire", "system", "interest", "mill", "call"]
    assert {"the", "of", "to", "us", "don", "isn"} <= ENGLISH_STOP_WORDS


def test_english_is_not_stemmed_and_keeps_accents():
    assert Analyzer("en")("Collections collected café") == ["collections", "collected", "café"]
    assert Analyzer("en", strip_accents="unicode")("café") == ["cafe"]


# -- languages with a list and a stemmer -----------------------------------------------


def test_german_words_lose_stop_words_and_inflections():
    analyze = Analyzer("de")
    assert analyze("Die Mülltonnen werden geleert") == analyze("Mülltonne geleert")
    assert "die" not in analyze("die Tonne")


def test_french_elisions_and_stop_words_go_and_stems_match():
    analyze = Analyzer("fr")
    assert analyze("L'élection des présidents") == analyze("élections présidentielle")[:1] + [
        analyze("président")[0]
    ]
    assert analyze("le la les des une") == []


def test_stemming_can_be_turned_off():
    assert Analyzer("de", stemming=False)("Mülltonnen") == ["mülltonnen"]


# -- scripts ---------------------------------------------------------------------------


def test_chinese_japanese_and_thai_runs_become_bigrams_not_one_token():
    assert Analyzer("zh")("垃圾收集") == ["垃圾", "圾收", "收集"]
    assert Analyzer("ja")("東京大学") == ["東京", "京大", "大学"]
    assert len(Analyzer("th")("ห้องสมุดเปิด")) > 1


def test_a_document_mixing_scripts_keeps_every_part():
    words = Analyzer("en")("Recycling 垃圾收集 bins")
    assert words[0] == "recycling"
    assert words[-1] == "bins"
    assert {"垃圾", "收集"} <= set(words)


def test_vowel_signs_stay_inside_their_word():
    # Python's \\w leaves out Devanagari vowel signs; they are marks, kept in the token.
    assert Analyzer("hi", stemming=False, stop_words=None)("पुस्तकालय") == ["पुस्तकालय"]


# -- languages without resources -------------------------------------------------------

# Made-up Welsh-like notices: four topics, each article with the same function words.
TOPICS = {
    "bins": "biniau casglu gwastraff ailgylchu",
    "school": "ysgol athrawon disgyblion gwersi",
    "roads": "ffordd traffig gwaith pont",
    "library": "llyfrgell llyfrau darllen oriau",
}
FUNCTION = "mae y a yn erbyn ar i o gan am ei eu"


def welsh_records():
    records = []
    for topic, words in TOPICS.items():
        w = words.split()
        for i in range(8):
            picked = " ".join(w[(i + j) % 4] for j in range(3))
            records.append(
                {
                    "id": f"{topic}-{i}",
                    "title": f"{w[i % 4]} {w[(i + 1) % 4]}",
                    "body": f"{FUNCTION} {picked} {FUNCTION}",
                    "language": "cy",
                }
            )
    return records


def test_a_language_without_a_list_learns_its_function_words_from_the_site():
    rc = RelatedContent(char_ngrams=0.0).fit(welsh_records())
    vocabulary = rc.vectorizer_.vocabulary_
    assert "yn" not in vocabulary
    assert "erbyn" not in vocabulary
    assert "biniau" in vocabulary
    for topic in TOPICS:
        listed = [r.id.split("-")[0] for r in rc.related(f"{topic}-0", n=5)]
        assert listed == [topic] * 5


def test_a_pair_sharing_only_function_words_is_no_similar_text():
    records = welsh_records()
    rc = RelatedContent(char_ngrams=0.0).fit(records)
    explanation = rc.explain("bins-0", "school-0")
    assert explanation.reason == "not in the list"
    genuine = [r.score for r in rc.related("bins-0", n=5)]
    assert explanation.score < min(genuine)


def test_learnt_stop_words_need_enough_articles():
    assert learnt_stop_words(np.array([15, 4, 3]), 19).size == 0
    # in more than half of the articles, or among the 1% most widespread terms
    assert learnt_stop_words(np.array([15, 1, 3]), 20).tolist() == [0]
    df = np.r_[np.full(100, 2), np.full(100, 3), 9]
    assert learnt_stop_words(df, 20).tolist() == [100, 200]


def test_partitions_merge_the_frequencies_of_languages_without_a_list():
    a = (np.array(["a", "b"]), np.array([2, 1]), 3, {"cy": (np.array([2, 0]), 2)})
    b = (np.array(["b", "c"]), np.array([1, 1]), 2, {"cy": (np.array([1, 1]), 2)})
    terms, df, n, listless = merge_term_counts([a, b])
    assert terms.tolist() == ["a", "b", "c"]
    assert df.tolist() == [2, 2, 1]
    assert n == 5
    assert listless["cy"][0].tolist() == [2, 1, 1]
    assert listless["cy"][1] == 4
    assert TermCounts(*a[:3], [], a[3]).summary()[3] is a[3]


def test_an_unknown_language_code_warns_and_keeps_the_article():
    records = [dict(r, language="welsh") for r in welsh_records()]
    with pytest.warns(UserWarning, match="'welsh' is not an ISO 639-1 code"):
        rc = RelatedContent().fit(records)
    assert len(rc) == len(records)
    assert rc.related("bins-0")


def test_without_the_extra_a_language_is_named_with_the_install_command(no_extra):
    records = [dict(r, language="de") for r in welsh_records()]
    with pytest.warns(UserWarning, match=r"'de'.*pip install 'relatedcontent\[languages\]'"):
        rc = RelatedContent().fit(records)
    assert len(rc) == len(records)


def test_english_needs_no_extra(no_extra):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Analyzer("en")("the fire bill") == ["fire", "bill"]


def test_one_index_holds_several_languages():
    days = ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag"]
    records = welsh_records() + [
        {
            "id": f"de-{i}",
            "title": f"Mülltonnen Abholung am {days[i]}",
            "body": f"Die Mülltonne wird am {days[i]} oder am {days[i + 1]} geleert",
            "language": "de",
        }
        for i in range(4)
    ]
    rc = RelatedContent().fit(records)
    listed = [r.id for r in rc.related("de-2", n=3)]
    assert listed
    assert all(i.startswith("de-") for i in listed)
    assert all(r.id.startswith("bins") for r in rc.related("bins-1", n=3))


# -- character n-grams on short texts --------------------------------------------------


def short_records(n=40):
    words = ["Bürgeramt", "Bürgerämter", "Öffnungszeiten", "Parkplätze", "Parkplatz", "Schule"]
    return [
        {"id": i, "title": f"{words[i % 6]} {words[(i + 2) % 6]}", "body": "", "language": "de"}
        for i in range(n)
    ]


def test_short_texts_blend_in_character_ngrams_and_keep_the_choice(tmp_path):
    rc = RelatedContent().fit(short_records())
    assert rc.vectorizer_.get_params()["char_ngrams"] == 0.5
    assert rc.vectorizer_.terms_[0].startswith(CHAR_PREFIX)
    draft = {"title": "Öffnungszeiten Bürgeramt", "language": "de"}
    before = [(r.id, r.score) for r in rc.similar(draft)]
    rc.save(tmp_path / "idx")
    loaded = load(tmp_path / "idx")
    assert loaded.vectorizer_.get_params()["char_ngrams"] == 0.5
    assert [(r.id, r.score) for r in loaded.similar(draft)] == before
    # explanations show words, not n-grams
    terms = [t.term for t in rc.explain(0, 6).shared_terms]
    assert terms
    assert not any(t.startswith(CHAR_PREFIX) for t in terms)


def test_character_ngram_rows_weigh_words_and_ngrams_as_asked():
    rc = RelatedContent(char_ngrams=0.3).fit(short_records())
    X, split = rc.X_.tocsr(), rc.vectorizer_.n_char_terms_
    row = X[0].toarray().ravel()
    assert np.isclose(np.sum(row[:split] ** 2), 0.3)
    assert np.isclose(np.sum(row**2), 1.0)


def test_long_texts_and_small_sites_get_no_ngrams(council_records):
    assert RelatedContent().fit(short_records(12)).vectorizer_.get_params()["char_ngrams"] == 0.0
    rc = RelatedContent().fit(council_records)
    assert rc.vectorizer_.get_params()["char_ngrams"] == 0.0
    assert not rc.vectorizer_.terms_[0].startswith(CHAR_PREFIX)


# -- the analysis of earlier versions --------------------------------------------------


def test_indexes_saved_before_languages_keep_their_analysis(tmp_path, council_records):
    rc = RelatedContent(analyzer="words", stop_words="english", strip_accents="unicode")
    rc.fit(council_records).save(tmp_path / "idx")
    manifest = tmp_path / "idx" / "current" / "manifest.json"
    if not manifest.exists():
        manifest = next((tmp_path / "idx").rglob("manifest.json"))
    data = json.loads(manifest.read_text())
    del data["vectorizer"]["analyzer"]  # as saved by a version without the parameter
    manifest.write_text(json.dumps(data))
    loaded = load(tmp_path / "idx", verify=False)
    assert loaded.vectorizer_.analyzer == "words"
    assert "bill" not in loaded.vectorizer_._word_terms("the bill")


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="'language' parameter"):
        RelatedContent(language="english").fit([{"id": 1, "body": "x y"}])
    with pytest.raises(ValueError, match="'analyzer' parameter"):
        RelatedContent(analyzer="chars").fit([{"id": 1, "body": "x y"}])
    with pytest.raises(ValueError, match="'char_ngrams' parameter"):
        RelatedContent(char_ngrams=2).fit([{"id": 1, "body": "x y"}])


def test_the_vectorizer_is_picklable_for_workers_without_its_analyzers():
    import pickle

    vec = FieldWeightedVectorizer()
    rc = RelatedContent().fit(short_records())
    vec = pickle.loads(pickle.dumps(rc.vectorizer_))
    assert vec.terms_ == rc.vectorizer_.terms_


# -- the block's words -----------------------------------------------------------------


@pytest.mark.parametrize("code", ["en", "cy", "de", "fr", "es"])
def test_the_block_speaks_each_built_in_language(code):
    strings = block_strings(code)
    assert (strings.heading, strings.read_more) == BLOCK_STRINGS[code][:2]
    assert strings.direction == "ltr"
    assert strings.language == code
    assert "Title" in strings.label_for("Title")


def test_block_strings_fall_back_and_can_be_overridden():
    assert block_strings("fr-CA").heading == BLOCK_STRINGS["fr"][0]
    assert block_strings("pt").heading == BLOCK_STRINGS["en"][0]
    assert block_strings("pt").language == "pt"
    assert block_strings("not a code").language == "en"
    assert block_strings("he").direction == "rtl"
    custom = block_strings("cy", {"read_more": "Mwy", "heading": None})
    assert custom.read_more == "Mwy"
    assert custom.heading == BLOCK_STRINGS["cy"][0]
    with pytest.raises(ValueError, match="unknown block strings"):
        block_strings("en", {"title": "x"})


def test_learnt_stop_words_are_words_not_character_ngrams():
    chars = [f"{CHAR_PREFIX}g{i}" for i in range(10)]
    words = [f"w{i:03d}" for i in range(200)]
    terms = np.array(chars + words)
    cy_df = np.r_[np.full(10, 9), 8, 7, np.full(198, 2)]  # n-grams in the most articles
    vec = FieldWeightedVectorizer(char_ngrams=0.5)
    vec.fit_vocabulary(terms, np.full(210, 2), 40, {"cy": (cy_df, 20)})
    # the top 1% of the 200 words: w000 and w001; every n-gram stays
    assert [t for t in terms if t not in vec.vocabulary_] == ["w000", "w001"]


def test_character_ngrams_are_chosen_automatically_up_to_a_site_size():
    """Their all-pairs work grows with the square of the site: "auto" stops at a size."""
    short = 5  # words per article
    vectorizer = FieldWeightedVectorizer()
    assert vectorizer.choose_char_share(np.full(CHAR_AUTO_MAX_ARTICLES, short)) == CHAR_SHARE
    assert vectorizer.choose_char_share(np.full(CHAR_AUTO_MAX_ARTICLES + 1, short)) == 0.0
    assert vectorizer.choose_char_share(np.full(CHAR_AUTO_MAX_ARTICLES, 200)) == 0.0
    fixed = FieldWeightedVectorizer(char_ngrams=0.5)
    assert fixed.choose_char_share(np.full(CHAR_AUTO_MAX_ARTICLES + 1, short)) == 0.5

"""The words an application is found by: lowercase, accents folded, every script kept, each once."""

from applications.domain import search_words


def test_words_are_lowercase_distinct_and_accent_folded() -> None:
    assert search_words("Café Harrow: the CAFE circle", "Harrow's café") == ["cafe", "circle", "harrow", "s", "the"]


def test_every_script_is_kept_and_nothing_is_no_words() -> None:
    assert search_words("Ümit Derneği", None) == ["dernegi", "umit"]
    assert search_words("مركز الشباب") == ["الشباب", "مركز"]
    assert search_words(None, "") == [] and search_words("— & —") == []

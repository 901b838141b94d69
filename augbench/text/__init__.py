"""Text support: vocabularies and the whitespace tokenizer, the WordNet reader, the rewrite seam.

Token ids: 0 padding, 1 unknown word, 2 mask, words from 3; batches ``(B, L)`` int64,
right-padded with 0 (see :mod:`augbench.functional.text`).
"""

from augbench.text.rewrite import REWRITERS, Rewriter
from augbench.text.vocabulary import (
    DEMO_WORDS, RESERVED, VOCABULARIES, Vocabulary, build_vocabulary, check_vocabulary_spec, load_vocabulary, tokenize,
)
from augbench.text.wordnet import STOP_WORDS, WordNet, load_wordnet, synonym_table, wordnet_folder

__all__ = [
    "DEMO_WORDS", "RESERVED", "REWRITERS", "Rewriter", "STOP_WORDS", "VOCABULARIES", "Vocabulary", "WordNet",
    "build_vocabulary", "check_vocabulary_spec", "load_vocabulary", "load_wordnet", "synonym_table", "tokenize",
    "wordnet_folder",
]

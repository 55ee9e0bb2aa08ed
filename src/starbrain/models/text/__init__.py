"""Text world models for the post stream: embeddings, BM25, vector index, search and bursts."""

from starbrain._lazy import lazy_exports

_EXPORTS = {
    "HashedNgramEmbedder": ("embeddings", "HashedNgramEmbedder"),
    "MiniLMEmbedder": ("embeddings", "MiniLMEmbedder"),
    "make_embedder": ("embeddings", "make_embedder"),
    "BM25Index": ("lexical", "BM25Index"),
    "VectorIndex": ("index", "VectorIndex"),
    "ANN_THRESHOLD": ("index", "ANN_THRESHOLD"),
    "PostSearch": ("search", "PostSearch"),
    "SEARCH_SCHEMA": ("search", "SEARCH_SCHEMA"),
    "BURSTS_SCHEMA": ("bursts", "BURSTS_SCHEMA"),
    "Burst": ("bursts", "Burst"),
    "BurstDetector": ("bursts", "BurstDetector"),
    "detect_bursts": ("bursts", "detect_bursts"),
    "link_bursts": ("bursts", "link_bursts"),
    "bursts_table": ("bursts", "bursts_table"),
    "score_bursts": ("bursts", "score_bursts"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

"""Embedders, Korean BM25 tokenization, the on-disk index directory and hybrid search."""

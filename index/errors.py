"""Domain errors of the index layer (see ingest.errors for the shared base class)."""

from ingest.errors import AihubQaError


class IndexNotFound(AihubQaError):
    """No index directory (or an incomplete one) where one was expected."""


class IndexMismatch(AihubQaError):
    """The index on disk does not fit its manifest or the configured embedder/tokenizer."""


class EmptyQuery(AihubQaError):
    """The question is empty or only whitespace."""


class InvalidSetting(AihubQaError):
    """An embedder spec, tokenizer name, mode or fusion the product does not know."""


class NotAnIndexDirectory(AihubQaError):
    """`--index` names a file, or a non-empty directory that is not an aihub-qa index."""


class IndexLocked(AihubQaError):
    """Another build holds the lock of the index directory."""

"""Domain errors shared by every layer. Each carries a plain, one-line message for users."""


class AihubQaError(Exception):
    """Base class: the message is shown to the user as is (CLI one-liner, HTTP `detail`)."""


class CorpusNotFound(AihubQaError):
    """The corpus directory is missing or holds no articles."""


class InvalidMetadata(AihubQaError):
    """A sidecar `<name>.meta.json` is unreadable or has a bad field."""


class UnreadableArticle(AihubQaError):
    """One article file cannot be used (not UTF-8, binary, empty, no prose): skipped with a warning."""

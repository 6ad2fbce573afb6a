"""Errors a user can cause. The CLI prints them as one line and exits with status 2; anything else is a bug."""


class SealError(Exception):
    """Base class of user-facing errors (bad input, bad config, unreachable endpoint)."""


class ConfigError(SealError):
    """An unknown key, a wrong type or an invalid value in a config file or `--set` override."""


class DataError(SealError):
    """A malformed, empty or invalid data file (passages, ARC tasks, self-edits)."""


class ModelError(SealError):
    """A model that cannot be found or loaded."""


class JudgeError(SealError):
    """An LLM judge endpoint that cannot be reached or keeps failing."""


class StorageError(SealError):
    """A run's file that cannot be written (a full disk, a file size limit, a failing disk); the message says what
    failed and names the file."""

    @classmethod
    def writing(cls, e: OSError, path) -> "StorageError":
        """`no space left on device while writing <path>` for the OSError `e` of a write of `path`."""
        return cls(f"{(e.strerror or str(e)).lower()} while writing {path}")

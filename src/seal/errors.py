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

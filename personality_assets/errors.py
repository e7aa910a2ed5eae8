"""The one error base for "fail clearly, don't retry", free of any framework so that every library
module can raise it."""


class NoRetryError(ValueError):
    """Something retrying cannot help (a bad file, a missing upstream step, data not there yet): a
    step that meets one fails at once with this message, without the retry policy's next attempt."""

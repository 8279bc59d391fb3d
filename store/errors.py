"""Errors a person can act on: one line saying what, where, and what to do."""


class InputError(ValueError):
    """Bad user input (a file, a column, a value). The message is shown as is."""

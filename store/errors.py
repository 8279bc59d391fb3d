"""Errors a person can act on: one line saying what, where, and what to do.

Two kinds, because the fix is in a different place: an :class:`InputError` is fixed by changing
what was given (a file, a column, a value); a :class:`SetupError` by changing the machine (install a
package, reinstall data, start a service). Front ends show either message as it is by catching
:class:`WhyrecError`.
"""


class WhyrecError(Exception):
    """Any error whose message is written for the person who can fix it."""


class InputError(WhyrecError, ValueError):
    """Bad user input (a file, a column, a value). The message is shown as is."""


class SetupError(WhyrecError, RuntimeError):
    """The environment lacks something whyrec needs (a package, a file, a runtime). The message says how to fix it."""

"""The one exception a user can cause. The CLI prints its message on one line and exits with code 2."""


class UserError(Exception):
    """Bad input from the user (path, name, number, file): reported without a traceback."""

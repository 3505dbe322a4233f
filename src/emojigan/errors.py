"""The one exception a user can cause. The CLI (and every script in scripts/) prints its message on one line
and exits with code 2."""
from __future__ import annotations

import sys
from typing import Callable


class UserError(Exception):
    """Bad input from the user (path, name, number, file): reported without a traceback."""


def script_main(prog: str, main: Callable[[], object]) -> None:
    """A script's entry point: run `main`; a UserError becomes one line `PROG: error: ...` on stderr and exit
    code 2, as `emojigan` itself reports it."""
    try:
        main()
    except UserError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None

"""The `emojigan` command: one entry point, subcommands (parser.py), each a thin wrapper over the Python API
(commands.py).

Errors a user can cause end in one line on stderr and exit code 2; programming errors still raise.
"""
from __future__ import annotations

import sys

from ..errors import UserError
from .parser import build_parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UserError as e:
        print(f"emojigan: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("emojigan: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `emojigan labels RUN | head`
        sys.stderr.close()
        return 0


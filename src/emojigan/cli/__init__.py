"""The `emojigan` command: one entry point, subcommands (parser.py), each a thin wrapper over the Python API
(commands.py).

Errors a user can cause end in one line on stderr and exit code 2; programming errors still raise.
"""
from __future__ import annotations

import sys

from ..errors import UserError
from .parser import build_parser


VALUE_MAY_START_WITH_MINUS = ("--strengths", "--strength")  # edit's strengths: -2,-1,0,1,2


def join_negative_values(argv: list[str]) -> list[str]:
    """argparse reads a value such as "-2,-1,0" as an option: written after its flag, it is joined to it."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] in VALUE_MAY_START_WITH_MINUS and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(join_negative_values(list(sys.argv[1:] if argv is None else argv)))
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


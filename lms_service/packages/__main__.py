"""``python -m lms_service.packages validate PATH...``: check packages without an app or a database."""
from __future__ import annotations

import argparse
import sys

from .validation import format_result, validate_targets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lms_service.packages",
                                     description="Check module packages (folders or zips) and catalogue folders.")
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="report every problem; exit 0 when all are valid, 1 when not")
    validate.add_argument("paths", nargs="+", metavar="PATH")
    args = parser.parse_args(argv)
    result = validate_targets(args.paths)
    print(format_result(result))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())

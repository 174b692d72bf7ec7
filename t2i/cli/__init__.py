"""Command line: `python -m t2i ...` (t2i/__main__.py calls main). parser.py builds the argparse tree
(build_parser, parse_overrides), commands.py holds the cmd_* handlers and print_table; main runs one and turns
every expected failure into a single "error: ..." line (exit status 2; T2I_DEBUG=1 shows the traceback)."""
from __future__ import annotations

import os
import sys

from t2i.cli.commands import (cmd_bench, cmd_compare, cmd_curves, cmd_data, cmd_edit, cmd_eval, cmd_export,
                              cmd_generate, cmd_loadtest, cmd_ship, cmd_space, cmd_train, cmd_tsne, cmd_upsampler,
                              cmd_vocab_map, print_table)
from t2i.cli.parser import build_parser, parse_overrides

__all__ = ["build_parser", "main", "parse_overrides", "print_table"]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"generate": cmd_generate, "ship": cmd_ship, "data": cmd_data, "train": cmd_train, "eval": cmd_eval,
               "bench": cmd_bench, "export": cmd_export, "edit": cmd_edit, "tsne": cmd_tsne, "curves": cmd_curves,
               "compare": cmd_compare, "loadtest": cmd_loadtest,
               "vocab-map": cmd_vocab_map, "space": cmd_space, "upsampler": cmd_upsampler}[args.command]
    try:
        return handler(args)
    except (FileNotFoundError, ValueError, KeyError, TypeError, OverflowError, RuntimeError, OSError) as e:
        if os.environ.get("T2I_DEBUG"):  # the full traceback for developers
            raise
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return 2


def _one_line(e: BaseException) -> str:
    """An exception as one readable line: disk full and bad devices said plainly, no traceback."""
    import errno

    if isinstance(e, OSError) and e.errno == errno.ENOSPC:
        return "the disk is full: free some space and run the same command again (the last checkpoint is kept)"
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if isinstance(e, RuntimeError) and "device" in text.lower():
        return f"unknown or unavailable device ({text}); use --device cpu or cuda"
    return text if isinstance(e, (ValueError, FileNotFoundError, OSError)) else f"{type(e).__name__}: {text}"

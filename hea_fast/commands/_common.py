"""Pieces every command module shares: registering a command, and argument types."""
from __future__ import annotations

import argparse
from typing import Callable


def add_command(subparsers, name: str, func: Callable[[argparse.Namespace], int], help: str,
                description: str | None = None) -> argparse.ArgumentParser:
    """Add the command `name` (handler `func`, run by hea_fast.cli.main) and return its parser."""
    p = subparsers.add_parser(name, help=help, description=description or help)
    p.set_defaults(func=func)
    return p


def csv_list(s) -> list[str]:
    """'Al, Co,Cr' -> ['Al', 'Co', 'Cr'] (empty items dropped): an argparse type."""
    return [t.strip() for t in str(s).split(",") if t.strip()]

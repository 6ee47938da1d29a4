"""Command-line options shared by the management commands."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import CommandError

from sdgen_site.cli import BAD_ARGUMENTS, RUNTIME_FAILURE
from sessions.scanning import ResultsDirError, check_results_dir

__all__ = ["BAD_ARGUMENTS", "RUNTIME_FAILURE", "add_results_argument", "non_negative_float", "positive_float",
           "positive_int", "results_dir_from"]


def add_results_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results",
        metavar="DIR",
        type=Path,
        default=None,
        help=f"results folder to read (default: SDGEN_RESULTS_DIR, now {settings.SDGEN_RESULTS_DIR})",
    )


def results_dir_from(options: dict[str, Any]) -> Path:
    """The results folder to use, checked; a bad one is a clear CommandError (exit 2)."""
    path = (options.get("results") or settings.SDGEN_RESULTS_DIR).expanduser().resolve()
    try:
        return check_results_dir(path)
    except ResultsDirError as exc:
        raise CommandError(str(exc), returncode=BAD_ARGUMENTS) from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number >= 0")
    return value


def positive_float(text: str) -> float:
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text} must be greater than 0")
    return value

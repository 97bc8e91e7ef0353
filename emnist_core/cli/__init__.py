"""Command line: ``python -m emnist_core {train,evaluate,predict,calibrate,roundtrip,report,robustness,download,pack,
cache} --help``.

``parser`` builds the command line (light: ``--help`` imports no deep-learning backend); each command runs in
``models`` (train, evaluate, predict, calibrate), ``reports`` (roundtrip, report, robustness) or ``data`` (download,
pack, cache), imported only when it is run.
"""

from __future__ import annotations

import sys

from emnist_core.cli.parser import build_parser

COMMANDS = {  # command -> (module, function)
    "train": ("models", "cmd_train"),
    "evaluate": ("models", "cmd_evaluate"),
    "predict": ("models", "cmd_predict"),
    "calibrate": ("models", "cmd_calibrate"),
    "roundtrip": ("reports", "cmd_roundtrip"),
    "report": ("reports", "cmd_report"),
    "robustness": ("reports", "cmd_robustness"),
    "download": ("data", "cmd_download"),
    "pack": ("data", "cmd_pack"),
    "cache": ("data", "cmd_cache"),
}


def main(argv=None) -> int:
    from importlib import import_module

    args = build_parser().parse_args(argv)
    from emnist_core.data.datasets import DataNotFoundError
    from emnist_core.data.download import DownloadError
    from emnist_core.data.files import DataFileError
    from emnist_core.data.preprocess import ImageInputError
    from emnist_core.data.unipen import UnipenNotFoundError
    from emnist_core.models.store import ModelFileError

    try:
        module, function = COMMANDS[args.command]
        return getattr(import_module(f"emnist_core.cli.{module}"), function)(args)
    except (
        DataNotFoundError,
        UnipenNotFoundError,
        DataFileError,
        DownloadError,
        ModelFileError,
        ImageInputError,
        ValueError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing was saved", file=sys.stderr)
        return 130


__all__ = ["build_parser", "main"]

"""Running a service process: command line, settings (exit 2 on bad config), logging, signals."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from pydantic import ValidationError

from zeropower.shared.settings import ConfigError, ServiceSettings, SettingsT, load_settings

EXIT_CONFIG_ERROR = 2


def run_service(
    name: str,
    settings_cls: type[SettingsT],
    main: Callable[[SettingsT, asyncio.Event], Awaitable[None]],
) -> None:
    """Parse ``--config``, load settings, and run ``main`` until SIGTERM/SIGINT sets its stop event."""
    parser = argparse.ArgumentParser(prog=f"python -m zeropower.{name}", description=f"zeropower {name} service")
    add_config_argument(parser)
    arguments = parser.parse_args()
    settings = settings_or_exit(name, settings_cls, arguments.config)
    configure_logging(settings)
    asyncio.run(_run_until_signal(main, settings))


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--config`` option every zeropower command takes."""
    parser.add_argument(
        "--config",
        type=Path,
        default=os.environ.get("ZEROPOWER_CONFIG"),
        help="YAML config file (default: $ZEROPOWER_CONFIG); environment variables override it",
    )


def settings_or_exit(name: str, settings_cls: type[SettingsT], config_file: Path | None) -> SettingsT:
    """Load settings; on invalid configuration print what is wrong and exit with status 2."""
    try:
        return load_settings(settings_cls, config_file)
    except ConfigError as error:
        print(f"zeropower.{name}: invalid configuration: {error}", file=sys.stderr)
    except ValidationError as error:
        print(f"zeropower.{name}: invalid configuration:", file=sys.stderr)
        for problem in describe_validation_error(error):
            print(f"  {problem}", file=sys.stderr)
    raise SystemExit(EXIT_CONFIG_ERROR)


#: Field names holding secrets: their values never appear in an error message.
SECRET_WORDS = ("password", "passwd", "token", "secret", "key")


def describe_validation_error(error: ValidationError) -> list[str]:
    """One line per problem: the dotted field path, the message and the offending input.

    The input is not shown for an unknown key (a misspelled ``password:`` would print the password to the
    journal) nor for a field whose name says it holds a secret.
    """
    lines = []
    for problem in error.errors(include_url=False):
        path = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        given = problem.get("input")
        secret = any(word in str(problem["loc"][-1]).lower() for word in SECRET_WORDS) if problem["loc"] else False
        if problem["type"] in ("missing", "extra_forbidden") or isinstance(given, dict):
            shown = ""
        elif secret:
            shown = " (value not shown: a secret)"
        else:
            shown = f" (got {given!r})"
        lines.append(f"{path}: {problem['msg']}{shown}")
    return lines


def configure_logging(settings: ServiceSettings) -> None:
    """Log to stderr with time, level and logger name."""
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


async def _run_until_signal(main: Callable[[SettingsT, asyncio.Event], Awaitable[None]], settings: SettingsT) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await main(settings, stop)

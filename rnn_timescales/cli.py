"""``rnn-timescales``: the LightningCLI entry point (fit / validate / test) and ``analyze``."""

from __future__ import annotations

import sys
from pathlib import Path

from jsonargparse import ArgumentError
from lightning.pytorch.cli import LightningCLI

from rnn_timescales.curriculum import Curriculum
from rnn_timescales.data import MemoryTaskData
from rnn_timescales.errors import ConfigError
from rnn_timescales.module import MemoryTaskModule


def find_last_checkpoint(root: Path) -> Path | None:
    """The most recently written ``last.ckpt`` under ``root`` (any run version)."""
    candidates = sorted(root.glob("**/checkpoints/last*.ckpt"), key=lambda p: p.stat().st_mtime)
    return candidates[-1] if candidates else None


class RNNTimescalesCLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        # The curriculum is a callback, but it is the experiment's main knob: give it its
        # own config section (`curriculum.mode`, `--curriculum.n_final 20`).
        parser.add_lightning_class_args(Curriculum, "curriculum")

    def before_instantiate_classes(self) -> None:
        # Lightning resolves `--ckpt_path last` inside the NEW run's folder, where there is
        # nothing yet; a researcher means "the run I interrupted", so look for it here.
        if self.subcommand != "fit":
            return
        config = self.config[self.subcommand]
        if config.get("ckpt_path") == "last":
            root = Path(config.trainer.get("default_root_dir") or ".")
            last = find_last_checkpoint(root)
            if last is None:
                raise ConfigError(f"--ckpt_path last: no checkpoints/last.ckpt under {root.resolve()}")
            print(f"[rnn-timescales] resuming from {last}", file=sys.stderr)
            config.ckpt_path = str(last)


def main(args: list[str] | None = None) -> None:
    argv = sys.argv[1:] if args is None else list(args)
    try:
        if argv[:1] == ["analyze"]:
            from jsonargparse import CLI

            from rnn_timescales.analyze import COMMANDS

            CLI(COMMANDS, args=argv[1:], prog="rnn-timescales analyze", as_positional=False, exit_on_error=False)
            return
        RNNTimescalesCLI(
            MemoryTaskModule,
            MemoryTaskData,
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"exit_on_error": False},
            args=args,
        )
    except (ConfigError, ArgumentError, ValueError) as error:
        # Only bad user input becomes a one-line message; any other ValueError is a bug
        # whose traceback we want to see.
        if not isinstance(error, (ConfigError, ArgumentError)) and not (
            ConfigError.last_message and ConfigError.last_message in str(error)
        ):
            raise
        print(f"rnn-timescales: error: {one_line(error)}", file=sys.stderr)
        sys.exit(2)


def one_line(error: Exception) -> str:
    """The user-facing part of an error: our own message if the parser wrapped one."""
    text = str(error)
    if ConfigError.last_message and ConfigError.last_message in text:
        return ConfigError.last_message
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


if __name__ == "__main__":
    main()

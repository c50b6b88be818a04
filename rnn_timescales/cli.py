"""``rnn-timescales``: the LightningCLI entry point (fit / validate / test) and ``analyze``."""

from __future__ import annotations

import sys
from pathlib import Path

from jsonargparse import ArgumentError
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.cli import LightningCLI

from rnn_timescales.checkpoints import read_checkpoint
from rnn_timescales.curriculum import Curriculum
from rnn_timescales.data import MemoryTaskData
from rnn_timescales.errors import ConfigError
from rnn_timescales.module import MemoryTaskModule


def find_last_checkpoint(root: Path) -> Path | None:
    """The most recently written ``lightning_logs/*/checkpoints/last.ckpt`` under ``root``."""
    candidates = sorted(root.glob("lightning_logs/*/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime)
    return candidates[-1] if candidates else None


# Backbone arguments that change how fast it computes, never which network it is.
SPEED_ONLY_ARGS = ("implementation", "cpu_batch_blocks")
# MemoryTaskModule arguments that are settings of this process, not of the network.
PROCESS_ARGS = ("flush_denormal", "keep_freed_memory")


def _recipe(spec: dict) -> tuple:
    """What makes two backbone specs build weight-compatible networks (not how they compute)."""
    args = {k: v for k, v in spec.get("init_args", {}).items() if k not in SPEED_ONLY_ARGS}
    return spec.get("class_path", "").rpartition(".")[2], sorted(args.items())


def _recipe_text(spec: dict) -> str:
    name, args = _recipe(spec)
    return f"{name}({', '.join(f'{k}={v}' for k, v in args)})"


class RNNTimescalesCLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        # The curriculum is a callback, but it is the experiment's main knob: give it its
        # own config section (`curriculum.mode`, `--curriculum.n_final 20`).
        parser.add_lightning_class_args(Curriculum, "curriculum")

    def _parse_ckpt_path(self) -> None:
        # Lightning reads the checkpoint's hyper-parameters right after parsing; resolve
        # `last` and vet the file first, so a bad path is one line, not a torch traceback.
        subcommand = self.config.get("subcommand")
        config = self.config.get(subcommand) if subcommand else None
        if subcommand == "fit" and config.get("ckpt_path"):
            if config.ckpt_path == "last":
                # Lightning would look for `last` inside the NEW run's folder, where there is
                # nothing yet; a researcher means "the run I interrupted".
                root = Path(config.trainer.get("default_root_dir") or ".")
                last = find_last_checkpoint(root)
                if last is None:
                    raise ConfigError(
                        f"--ckpt_path last: no lightning_logs/*/checkpoints/last.ckpt under {root.resolve()}"
                    )
                print(f"[rnn-timescales] resuming from {last}", file=sys.stderr)
                config.ckpt_path = str(last)
            checkpoint = read_checkpoint(config.ckpt_path)
            if "pytorch-lightning_version" not in checkpoint:
                raise ConfigError(
                    f"{config.ckpt_path!r} is not a training checkpoint of rnn-timescales (an authors' .pt "
                    "file can be analysed with `rnn-timescales analyze`, not resumed)"
                )
            saved = checkpoint.get("hyper_parameters", {}).get("backbone")
            asked = config.get("model", {}).get("backbone")
            asked = asked.as_dict() if hasattr(asked, "as_dict") else asked
            if saved and asked and _recipe(saved) != _recipe(asked):
                # Resuming into a differently built model fails deep in load_state_dict (or the
                # checkpoint silently wins over the flags): say which recipe differs instead.
                raise ConfigError(
                    f"the checkpoint was trained with {_recipe_text(saved)}, this run builds {_recipe_text(asked)}; "
                    "resume with the run's own config (config.yaml next to the run's checkpoints folder)"
                )
            # Lightning lays the checkpoint's hyper-parameters over the flags; settings of
            # speed and of the process belong to this run (another machine, another
            # choice), so they are put back after.
            model = config.get("model", {})
            mine = {key: model.get(key) for key in PROCESS_ARGS if key in model}
            init_args = (asked or {}).get("init_args", {})
            mine_backbone = {key: init_args[key] for key in SPEED_ONLY_ARGS if key in init_args}
            super()._parse_ckpt_path()
            model = self.config[subcommand].model
            for key, value in mine.items():
                model[key] = value
            if mine_backbone and model.get("backbone") is not None and "init_args" in model.backbone:
                for key, value in mine_backbone.items():
                    model.backbone.init_args[key] = value
            return
        super()._parse_ckpt_path()

    def _set_seed(self) -> None:
        config = self.config.get(self.config.get("subcommand"), self.config)
        seed = config.get("seed_everything")
        if not isinstance(seed, bool) and isinstance(seed, int) and not 0 <= seed < 2**32:
            raise ConfigError(f"seed_everything must be true, false or an integer in 0..{2**32 - 1}, got {seed}")
        super()._set_seed()


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
            # A bare `fit` follows the paper too, and is repeatable.
            seed_everything_default=0,
            trainer_defaults={"gradient_clip_val": 2.0, "max_epochs": 1000, "num_sanity_val_steps": 0},
            args=args,
        )
    except MisconfigurationException as error:  # Lightning's own word on a bad Trainer setting
        print(f"rnn-timescales: error: {one_line(error)}", file=sys.stderr)
        sys.exit(2)
    except (MemoryError, RuntimeError) as error:
        # torch reports an impossible allocation as a RuntimeError ("can't allocate memory",
        # "out of memory"); anything else is a bug whose traceback we want to see.
        text = str(error)
        if not isinstance(error, MemoryError) and "allocate" not in text and "out of memory" not in text:
            raise
        print(f"rnn-timescales: error: out of memory: {text.splitlines()[0][:200]}; "
              "use a smaller model.backbone.init_args.hidden_size or data.batch_size", file=sys.stderr)
        sys.exit(1)
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

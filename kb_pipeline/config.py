"""The pipeline's one YAML configuration file, validated with pydantic.

Any string may reference the environment as `${NAME}` or `${NAME:-default}`. Credentials must be
such references, never inline values, so a config file can be committed and shared. Every error
names the file and the key that is wrong.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, create_model

from kb_pipeline.sources import SOURCES
from kb_pipeline.sources.base import SourceSettings, Strict

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
CREDENTIAL_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
"""A credential is exactly one reference, with no inline default to leak a secret through."""
CONFIG_ENV_VAR = "KB_PIPELINE_CONFIG"


class ConfigError(ValueError):
    """A configuration file that cannot be used, with the file and key at fault."""


class _Sources(Strict):
    def enabled(self) -> dict[str, SourceSettings]:
        """The settings of each source present and enabled, by source name."""
        return {name: cfg for name, cfg in self if cfg is not None and cfg.enabled}


Sources = create_model(
    "Sources",
    __base__=_Sources,
    **{name: (source.settings_model | None, None) for name, source in SOURCES.items()},
)
"""One optional section per registered source (`kb_pipeline.sources.SOURCES`), under its name."""


class PipelineConfig(Strict):
    data_dir: Path = Path("data")
    concurrency: int = Field(
        default=8, ge=1, le=64, description="knowledge bases extracted at once per source"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    sources: Sources


_CREDENTIAL_KEYS = {"credentials"}


def _interpolate(node: Any, where: str, path: Path, *, credential: bool = False) -> Any:
    """Replace ${VAR} references from the environment, refusing inline credentials."""
    if isinstance(node, dict):
        return {
            key: _interpolate(
                value,
                f"{where}.{key}" if where else str(key),
                path,
                credential=credential or key in _CREDENTIAL_KEYS,
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [
            _interpolate(item, f"{where}[{i}]", path, credential=credential) for i, item in enumerate(node)
        ]
    if not isinstance(node, str):
        if credential:
            raise ConfigError(f"{path}: {where}: credentials must be ${{ENV_VAR}} references")
        return node
    if credential and not CREDENTIAL_REFERENCE.fullmatch(node.strip()):
        raise ConfigError(
            f"{path}: {where}: credentials must be an environment reference such as ${{MY_SECRET}}, "
            "never an inline value"
        )

    def resolve(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                raise ConfigError(f"{path}: {where}: environment variable {name} is not set")
            return default
        return value

    return ENV_REFERENCE.sub(resolve, node)


def _describe(error: ValidationError, path: Path) -> str:
    lines = [f"{path}: invalid configuration"]
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"])
        message = "unknown key (typo?)" if problem["type"] == "extra_forbidden" else problem["msg"]
        lines.append(f"  {key}: {message}")
    return "\n".join(lines)


def parse_config(document: Any, path: Path) -> PipelineConfig:
    """Validate an already-read YAML document (used by `load_config` and by tests)."""
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        config = PipelineConfig.model_validate(_interpolate(document, "", path))
    except ValidationError as error:
        raise ConfigError(_describe(error, path)) from None
    for key, source in config.sources:
        if source is not None:
            credentials = document["sources"][key].get("credentials") or {}
            references = (ENV_REFERENCE.finditer(str(value)) for value in credentials.values())
            source._credential_variables = tuple(match.group(1) for found in references for match in found)
    if not config.data_dir.is_absolute():
        config = config.model_copy(update={"data_dir": (path.parent / config.data_dir).resolve()})
    return config


SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML was built with it: ten times faster on a configuration that
lists thousands of knowledge bases, and every step of a run reads the file."""


def config_path(explicit: Path | str | None = None) -> Path:
    """The file to read: the explicit path, else $KB_PIPELINE_CONFIG."""
    chosen = explicit or os.environ.get(CONFIG_ENV_VAR)
    if not chosen:
        raise ConfigError(f"no configuration file: pass --config or set {CONFIG_ENV_VAR}")
    return Path(chosen)


@lru_cache(maxsize=4)
def _parse_yaml(text: str) -> Any:
    """The YAML document of `text`, parsed once per content: each step of a run reads the
    configuration, and parsing one that lists thousands of knowledge bases takes most of a second
    (the document is only read afterwards; variables are resolved on every load)."""
    return yaml.load(text, Loader=SAFE_LOADER)


def load_config(explicit: Path | str | None = None) -> PipelineConfig:
    path = config_path(explicit)
    try:
        document = _parse_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory; pass the YAML configuration file in it") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the configuration: {error}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    return parse_config(document, path)

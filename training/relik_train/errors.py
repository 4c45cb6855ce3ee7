"""Error classes with messages that name the file / field / parameter at fault."""

from __future__ import annotations


class DataError(ValueError):
    """A data record could not be parsed."""

    def __init__(self, path: str, line: int, field: str, message: str) -> None:
        super().__init__(f"{path}:{line}: field '{field}': {message}")
        self.path = path
        self.line = line
        self.field = field


class ConfigError(ValueError):
    """A config value is missing or not allowed."""

    def __init__(self, field: str, message: str, source: str = "config") -> None:
        super().__init__(f"{source}: '{field}': {message}")
        self.field = field


class InputBuildError(ValueError):
    """A reader input could not be built (e.g. the window alone exceeds maxLength)."""

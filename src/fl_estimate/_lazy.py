"""Lazy package attributes (PEP 562), one implementation for every lazy package init.

A package lists which module defines each public name; the name is imported on first use and
then kept in the package's namespace. A sub-module read as an attribute is imported too, as an
eager package allowed.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(
    package: str, names: Mapping[str, str], public: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of ``package``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names : mapping of str to str
        Public name -> the module that defines it.
    public : sequence of str
        The package's ``__all__``.

    Examples
    --------
    >>> getattr_, dir_ = lazy_attributes("fl_estimate", {"sqrt": "math"}, ["sqrt"])
    >>> getattr_("sqrt")(9.0)
    3.0
    """

    def __getattr__(name: str) -> Any:
        namespace = vars(sys.modules[package])
        if name in names:
            value = getattr(importlib.import_module(names[name]), name)
            namespace[name] = value
            return value
        try:  # a sub-module read as an attribute, as the eager package allowed
            return importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{package}.{name}":
                raise
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(public))

    return __getattr__, __dir__

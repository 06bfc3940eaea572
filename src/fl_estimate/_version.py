"""The package version: the one place it is written (hatch reads it from here at build time).

A literal rather than ``importlib.metadata.version(...)``: reading the installed metadata costs
about 0.1 s at start-up (it imports email, zipfile and pathlib machinery), a third of the
command line's start-up budget.
"""

from __future__ import annotations

__version__ = "0.1.0"

"""Errors and warnings raised by fl_estimate.

Every error the package raises on purpose derives from :class:`FLEstimateError`; the command line
turns those into one line on stderr and exit code 2. Warnings derive from :class:`FLEstimateWarning`
so that a user can filter all of them, or one kind, with :mod:`warnings`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "ConvergenceWarning",
    "DataWarning",
    "EstimateDoesNotExistError",
    "FLEstimateError",
    "FLEstimateWarning",
    "HeterogeneityWarning",
    "InputValidationError",
    "LinkageKeyError",
    "LinkageWarning",
    "ModelSpecificationError",
    "OutputFolderError",
    "Problem",
    "SmallSampleWarning",
    "SuppressionWarning",
]


@dataclass(frozen=True)
class Problem:
    """One problem found while validating input.

    Attributes
    ----------
    message : str
        What is wrong and what was expected.
    source : str or None
        File name (or ``"<DataFrame>"``) the problem was found in.
    row : int or None
        Row as a spreadsheet user counts it: the header is row 1, the first data row is row 2.
    column : str or None
        Column name.
    value : object
        The offending value, if any.
    """

    message: str
    source: str | None = None
    row: int | None = None
    column: str | None = None
    value: object = None

    def __str__(self) -> str:
        where = []
        if self.source:
            where.append(str(self.source))
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        prefix = ", ".join(where)
        val = "" if self.value is None else f" (value {self.value!r})"
        return f"{prefix}: {self.message}{val}" if prefix else f"{self.message}{val}"

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "row": self.row,
            "column": self.column,
            "value": None if self.value is None else str(self.value),
            "message": self.message,
        }


class FLEstimateError(Exception):
    """Base class of every error raised on purpose by fl_estimate."""

    def one_line(self, max_problems: int = 1) -> str:
        """The message on one line (the command line prints this after ``fl-estimate: error:``).

        ``max_problems`` is used by :class:`InputValidationError`, which lists its problems.
        """
        return " ".join(str(self).split())


class InputValidationError(FLEstimateError, ValueError):
    """Input failed validation; :attr:`problems` lists every problem found, not just the first.

    Parameters
    ----------
    problems : iterable of Problem or str
        All problems found.
    summary : str, optional
        Headline; defaults to "N problems found in SOURCE".
    """

    def __init__(self, problems: Iterable[Problem | str], summary: str | None = None) -> None:
        self.problems: list[Problem] = [
            p if isinstance(p, Problem) else Problem(str(p)) for p in problems
        ]
        if summary is None:
            sources = sorted({p.source for p in self.problems if p.source})
            where = f" in {', '.join(sources)}" if sources else ""
            n = len(self.problems)
            summary = f"{n} problem{'s' if n != 1 else ''} found{where}"
        self.summary = summary
        super().__init__(self._render())

    def __reduce__(self) -> tuple[type, tuple[list[Problem], str]]:
        # rebuilt from its problems, not from the rendered text (worker processes pickle errors)
        return (type(self), (self.problems, self.summary))

    def _render(self) -> str:
        lines = [self.summary + ":"] + [f"  - {p}" for p in self.problems]
        return "\n".join(lines)

    def one_line(self, max_problems: int = 1) -> str:
        """The headline and the first ``max_problems`` problems, on one line.

        >>> InputValidationError(["a", "b", "c"]).one_line(2)
        '3 problems found: a; b (and 1 more)'
        """
        if not self.problems:
            return " ".join(self.summary.split())
        shown = [str(p) for p in self.problems[: max(1, max_problems)]]
        more = len(self.problems) - len(shown)
        tail = f" (and {more} more)" if more else ""
        return " ".join(f"{self.summary}: {'; '.join(shown)}{tail}".split())


class ModelSpecificationError(FLEstimateError, ValueError):
    """A model or option was specified in a way that cannot be used (unknown list, bad term...)."""


class OutputFolderError(FLEstimateError):
    """An output folder cannot be written safely: it holds files fl_estimate did not write, it is
    (or holds) an input, another run is writing it, or the disk is full.

    Parameters
    ----------
    folder : str or Path
        The output folder concerned.
    reason : str
        Why, and what to do instead.
    """

    def __init__(self, folder: object, reason: str) -> None:
        self.folder = str(folder)
        self.reason = reason
        super().__init__(f"output folder {self.folder}: {reason}")


class EstimateDoesNotExistError(FLEstimateError):
    """The requested estimate does not exist or is not identifiable for these data.

    Parameters
    ----------
    reason : str
        Why, in words a person can act on.
    code : str
        Short machine-readable status: ``"no-mle"``, ``"not-identifiable"``, ``"no-overlap"``...
    """

    def __init__(self, reason: str, code: str = "does-not-exist") -> None:
        self.reason = reason
        self.code = code
        super().__init__(reason)


class LinkageKeyError(FLEstimateError):
    """The linkage key (pseudonymisation of identifiers) is missing or too short."""


class FLEstimateWarning(UserWarning):
    """Base class of every warning fl_estimate issues."""


class DataWarning(FLEstimateWarning):
    """Input was accepted but changed or looks suspicious (duplicate patterns merged, ...)."""


class ConvergenceWarning(FLEstimateWarning):
    """An iterative fit or an MCMC sampler may not have converged."""


class SmallSampleWarning(FLEstimateWarning):
    """An estimate rests on very few observations (small domain, sparse stratum)."""


class SuppressionWarning(FLEstimateWarning):
    """Cells were suppressed for disclosure control."""


class HeterogeneityWarning(FLEstimateWarning):
    """The table shows the signs of strong capture heterogeneity, where every method tested in
    ``benchmarks/mse_validation.py`` under-covers: the estimate is best read as a lower bound."""


class LinkageWarning(DataWarning):
    """The record linkage may have gone wrong: a model parameter fell back on its documented
    prior, the fitted prior moved far from the counted one, clusters were split for their size
    or span strata, or the persons found depend strongly on the match threshold. The linkage
    report says which and why."""

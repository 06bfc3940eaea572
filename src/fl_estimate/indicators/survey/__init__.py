"""Design-based estimation for complex survey samples (means, totals, ratios, proportions).

Two designs are provided, both written directly with NumPy and checked against the R ``survey``
package (Lumley) to 1e-6 relative on estimates and standard errors:

* :class:`SurveyDesign`: stratified, clustered (one or more stages), weighted samples, with or
  without finite-population corrections; variances by Taylor linearisation, exactly as R's
  ``svydesign`` + ``svyrecvar`` (with-replacement PSU variance within strata, plus later-stage
  variance when the stage's fpc is given).
* :class:`ReplicateDesign`: replicate weights (JK1, JKn, bootstrap, BRR or any other scheme
  described by ``scale``, ``rscales`` and ``mse``), as R's ``svrepdesign``.

Domains (subpopulations) are estimated on the whole design, never by subsetting the data: rows
outside the domain keep their place in the design with a zero contribution (as R's ``svyby``
does), so the number of PSUs per stratum, the fpc and the degrees of freedom come from the full
design.

Intervals for proportions follow R's ``svyciprop``: ``"wald"`` (normal quantile, R's ``confint`` of
``svymean``), ``"logit"`` (Wald on the logit scale with a t quantile on ``df`` degrees of freedom;
for replicate designs the logit's standard error comes from the replicates of the logit, as R's
``svyglm``), ``"xlogit"`` (delta method on the logit) and ``"beta"`` (Korn–Graubard). When a domain
has no positive case (or only positive cases) the logit interval does not exist; the Korn–Graubard
interval is returned instead, ``[0, upper]`` with the effective sample size taken as the unweighted
domain size (see :meth:`BaseDesign.proportion`).

Modules: :mod:`.design` (the two designs, and ``design.toml``: :func:`load_design`,
:class:`DesignSpec`), :mod:`.estimates` (:class:`BaseDesign`'s statistics and intervals,
:class:`SurveyStat`), :mod:`.variance` (Taylor linearisation by stage, replicate variance and
replicate weights).
"""

from __future__ import annotations

from fl_estimate.indicators.survey.design import (
    DesignSpec,
    ReplicateDesign,
    SurveyDesign,
    load_design,
)
from fl_estimate.indicators.survey.estimates import (
    CI_METHODS,
    BaseDesign,
    SurveyStat,
    korn_graubard,
)

__all__ = [
    "CI_METHODS",
    "BaseDesign",
    "DesignSpec",
    "ReplicateDesign",
    "SurveyDesign",
    "SurveyStat",
    "korn_graubard",
    "load_design",
]

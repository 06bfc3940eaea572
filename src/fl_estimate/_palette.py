"""Colours shared by every chart: the Okabe-Ito palette (distinguishable with the common colour-vision
deficiencies). The bottom floor of the package, so estimators may name a colour without importing
the plotting layer."""

__all__ = ["OKABE_ITO"]

OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",
)

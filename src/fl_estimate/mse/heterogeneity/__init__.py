"""Heterogeneity of catchability: Rcapture's closed-population models, the diagnosis, covariates."""

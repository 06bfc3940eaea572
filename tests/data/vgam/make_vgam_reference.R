# Reference values for tests/mse/test_covariates.py: Huggins' conditional-likelihood model with
# covariates, fitted by R VGAM's posbernoulli.t on the CSV data sets in this folder (made by
# make_vgam_data.py). Run once from this folder; R is not needed by the tests:
#
#     Rscript make_vgam_reference.R      # writes vgam_reference.json
#
# Models (VGAM's parallel.t argument):
#   "list-specific": parallel.t = FALSE       every list its own intercept and covariate effects
#   "parallel":      parallel.t = FALSE ~ 1   list intercepts, covariate effects shared (VGAM default)
#   "all-parallel":  one intercept and shared effects for every list (M0 with covariates): VGAM's
#                    parallel.t never constrains the intercept (apply.parint = FALSE), so this one
#                    is given as vglm(..., constraints = ) with a column of ones for every term
# Levels: sorted in C-locale order with "(missing)" last, the first level the reference (as
# fl_estimate's treatment coding). Convergence is tightened (epsilon 1e-13) so that the
# reference is the MLE to many more digits than the tests' tolerance.
suppressPackageStartupMessages({
  library(VGAM)
  library(jsonlite)
})

read_set <- function(name) {
  d <- read.csv(paste0(name, ".csv"), stringsAsFactors = FALSE, check.names = FALSE)
  lists <- grep("^L[0-9]+$", names(d), value = TRUE)
  covs <- setdiff(names(d), lists)
  for (cv in covs) {
    lv <- sort(unique(d[[cv]][d[[cv]] != "(missing)"]), method = "radix")
    if (any(d[[cv]] == "(missing)")) lv <- c(lv, "(missing)")
    d[[cv]] <- factor(d[[cv]], levels = lv)
  }
  list(data = d, lists = lists, covs = covs)
}

sets <- list(
  list(name = "sex_k3", formula = "sex"),
  list(name = "sex_nat_k4", formula = "sex + nationality"),
  list(name = "age_k5", formula = "age")
)
models <- list(
  "list-specific" = FALSE,
  "parallel" = FALSE ~ 1,
  "all-parallel" = NA
)

out <- list()
for (s in sets) {
  rs <- read_set(s$name)
  lhs <- paste0("cbind(", paste(rs$lists, collapse = ", "), ")")
  fml <- as.formula(paste(lhs, "~", s$formula))
  for (mname in names(models)) {
    pt <- models[[mname]]
    ctl <- vglm.control(epsilon = 1e-13, maxit = 200)
    if (identical(mname, "all-parallel")) {
      terms_rhs <- c("(Intercept)", attr(terms(fml), "term.labels"))
      ones <- matrix(1, length(rs$lists), 1)
      cons <- setNames(rep(list(ones), length(terms_rhs)), terms_rhs)
      fit <- vglm(fml, posbernoulli.t(), data = rs$data, constraints = cons, control = ctl)
      pt_text <- "FALSE ~ 1), constraints = <ones for every term>"
    } else {
      fit <- vglm(fml, posbernoulli.t(parallel.t = pt), data = rs$data, control = ctl)
      pt_text <- paste0(paste(deparse(pt), collapse = ""), ")")
    }
    cf <- coef(fit)
    se <- sqrt(diag(vcov(fit)))
    out[[length(out) + 1]] <- list(
      dataset = s$name,
      formula = s$formula,
      model = mname,
      call = paste0("vglm(", deparse(fml), ", posbernoulli.t(parallel.t = ", pt_text,
                    ", data = ", s$name, ")"),
      n = nrow(rs$data),
      N_hat = fit@extra$N.hat,
      SE_N_hat = fit@extra$SE.N.hat,
      loglik = as.numeric(logLik(fit)),
      coef_names = names(cf),
      coef = unname(cf),
      std_error = unname(se)
    )
  }
}
meta <- list(
  made_by = "tests/data/vgam/make_vgam_reference.R",
  R = R.version.string,
  VGAM = as.character(packageVersion("VGAM")),
  fits = out
)
writeLines(toJSON(meta, auto_unbox = TRUE, digits = NA, pretty = TRUE), "vgam_reference.json")
cat("wrote vgam_reference.json with", length(out), "fits\n")

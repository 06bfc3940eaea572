# The R reference peers' calls on capture tables, for benchmarks/peers_side_by_side.py (one table a
# call) and benchmarks/mse_validation_peers.py (many tables a call: R's start-up is about 1 s).
#
# Usage: Rscript benchmarks/r/peer_call.R TASK TABLE.csv [EXTRA...]
#        Rscript benchmarks/r/peer_call.R batch TASK DIR OUT.json [EXTRA...]
#   TASK: mse-bic | sparsemse-bca | dga | mse-bayesthresh | lcmcr        (settings of peer_results.json)
#         mse-default | sparsemse-wald | dga-auto                        (for the validation study)
#   dga takes two extras: NMAX BY, the grid Nmissing = seq(0, NMAX, by = BY) recorded in
#   tests/data/mse/peer_results.json for that table.
#   batch: every DIR/*.csv through TASK; OUT.json gets one record per file (file, estimate, ci_low,
#   ci_high, model, seconds, error); a table on which the peer fails gets its error message, the
#   others go on.
# The peers are loaded from $FL_PEERS_RLIB (default ~/peers/Rlib, where ../shared/tools/install-r-peers
# puts them) ahead of the system library. The settings:
#   mse-bic          MultipleSystemsEstimation 1.2.0 estimate_population(method = "bic", nboot = 0,
#                    maxorder = 2): exhaustive BIC over every hierarchical model with two-list terms
#   mse-default      MultipleSystemsEstimation estimate_population(z, nboot = NBOOT) with its default
#                    method "auto" (BIC over hierarchical models at its default maxorder for K <= 5:
#                    2 at K = 3, 3 at K = 4-5; stepwise at K >= 6) and its BCa interval from NBOOT
#                    replicates (extra 1, default 200; 0: no interval), iseed 20240601; for BIC the
#                    limits of the last nested set (selection repeated over every retained model:
#                    all at K = 3, the best 20 at K = 4, 100 at K = 5)
#   sparsemse-bca    SparseMSE 2.0.1 estimatepopulation(nboot = NBOOT, pthresh = 0.02, iseed = 20240601):
#                    stepwise selection, then NBOOT (extra 1, default 1,000) BCa replicates that repeat
#                    the selection
#   sparsemse-wald   SparseMSE estimatepopulation.0(method = "stepwise"): the stepwise model's
#                    Wald interval on the log dark figure (conditional on the selected model)
#   dga              dga 2.0.2 bma.cr(Y, Nmissing, delta = 2^-K, graphsK), prior on N proportional to 1/N
#   dga-auto         the same on the grid Nmissing = 0..NMAX in about 2,000 steps, NMAX from
#                    10 x observed (at least 2,000), doubled until the posterior mass above 0.9 NMAX
#                    is under 1e-4, then again on 0 .. 1.25 x its 1 - 1e-5 quantile (K <= 5: dga
#                    ships its decomposable graphs for 3 to 5 lists)
#   mse-bayesthresh  MultipleSystemsEstimation 1.2.0 estimate_population(method = "bayesthresh",
#                    seed = 20240601): threshold 2, proper normal priors of variance 1, MCMCpack
#   lcmcr            LCMCR 0.4.14 lcmCR(K = 10, a_alpha = b_alpha = 0.25, seed = 20240601) then
#                    lcmCR_PostSampl(burnin = BURNIN, samples = SAMPLES, thinning = THIN), extras
#                    1-3 (default 100000 5000 100)
# Single-table mode prints one line "PEER_RESULT {json}" with estimate (total N), ci_low, ci_high
# (95%), model and extras.
args <- commandArgs(trailingOnly = TRUE)
rlib <- Sys.getenv("FL_PEERS_RLIB", file.path(Sys.getenv("HOME"), "peers", "Rlib"))
.libPaths(c(rlib, .libPaths()))
seed <- 20240601L

result <- function(estimate, ci_low = NA, ci_high = NA, model = NA, ...) {
  list(estimate = estimate, ci_low = ci_low, ci_high = ci_high, model = model, ...)
}

as_array <- function(z) {
  nlists <- ncol(z) - 1L
  y <- array(0, dim = rep(2, nlists))
  cells <- as.matrix(z[, seq_len(nlists)]) %*% 2^(seq_len(nlists) - 1) + 1
  y[cells] <- z[[nlists + 1L]]
  y
}

dga_fit <- function(y, nmissing) {
  nlists <- length(dim(y))
  graphs_name <- paste0("graphs", nlists)
  utils::data(list = graphs_name, package = "dga", envir = environment())
  graphs <- get(graphs_name)
  w <- bma.cr(y, nmissing, 2^-nlists, graphs)
  list(w = w, post = colSums(w), n_total = nmissing + sum(y))
}

dga_result <- function(fit, ...) {
  cdf <- cumsum(fit$post)
  q <- function(p) fit$n_total[which(cdf >= p)[1]]
  result(q(0.5), q(0.025), q(0.975), grid_points = length(fit$n_total),
         top_model_prob = max(rowSums(fit$w)), posterior_mode = fit$n_total[which.max(fit$post)], ...)
}

run_task <- function(task, z, extra = character()) {
  nlists <- ncol(z) - 1L
  num <- function(i, default) if (length(extra) >= i) as.numeric(extra[i]) else default
  if (task == "mse-bic") {
    suppressPackageStartupMessages(library(MultipleSystemsEstimation))
    r <- estimate_population(z, method = "bic", nboot = 0, maxorder = 2)
    result(r$popest, model = r$model, BIC = r$BIC)
  } else if (task == "mse-default") {
    suppressPackageStartupMessages(library(MultipleSystemsEstimation))
    nboot <- num(1, 200)
    r <- estimate_population(z, nboot = nboot, iseed = seed, alpha = c(0.025, 0.975))
    method <- attr(r, "method")
    model <- if (!is.null(r$model)) r$model else
      paste(grep(":", names(stats::coef(r$MSEfit$fit)), value = TRUE), collapse = " + ")
    q <- r$BCaquantiles
    # BIC: one row per nested set of top-BIC models (row k: the selection repeated over the k
    # best); the last row, every retained model, is the interval that repeats the whole selection
    if (is.matrix(q)) q <- q[nrow(q), ]
    if (is.null(q)) q <- c(NA, NA)
    result(unname(r$popest), unname(q[1]), unname(q[2]), model = model, method = method,
           nboot = nboot)
  } else if (task == "sparsemse-bca") {
    suppressPackageStartupMessages(library(SparseMSE))
    r <- estimatepopulation(z, nboot = num(1, 1000), pthresh = 0.02, iseed = seed,
                            alpha = c(0.025, 0.975))
    terms <- grep(":", names(stats::coef(r$MSEfit$fit)), value = TRUE)
    result(unname(r$popest), unname(r$BCaquantiles[1]), unname(r$BCaquantiles[2]),
           model = paste(terms, collapse = " + "), ahat = r$ahat)
  } else if (task == "sparsemse-wald") {
    suppressPackageStartupMessages(library(SparseMSE))
    r <- estimatepopulation.0(z, method = "stepwise", quantiles = c(0.025, 0.975))
    terms <- grep(":", names(stats::coef(r$MSEfit$fit)), value = TRUE)
    e <- unname(r$estimate)  # 2.5%, point estimate, 97.5%
    result(e[2], e[1], e[3], model = paste(terms, collapse = " + "))
  } else if (task == "dga") {
    suppressPackageStartupMessages(library(dga))
    dga_result(dga_fit(as_array(z), seq(0, num(1, NA), by = num(2, NA))))
  } else if (task == "dga-auto") {
    suppressPackageStartupMessages(library(dga))
    if (nlists > 5L) stop("dga ships decomposable graphs for 3 to 5 lists only")
    y <- as_array(z)
    nmax <- max(2000, 10 * sum(y))
    repeat {
      by <- max(1, ceiling(nmax / 2000))
      nmissing <- seq(0, nmax, by = by)
      fit <- dga_fit(y, nmissing)
      tail <- sum(fit$post[nmissing > 0.9 * nmax])
      if (tail < 1e-4 || nmax > 1e7) break
      nmax <- 2 * nmax
    }
    # then the grid again over 0 .. 1.25 x the posterior's 1 - 1e-5 quantile, so that a posterior
    # near the observed count is not read off a coarse grid
    top <- 1.25 * nmissing[which(cumsum(fit$post) >= 1 - 1e-5)[1]]
    if (top < 0.5 * nmax) {
      nmax <- max(100, ceiling(top))
      by <- max(1, ceiling(nmax / 2000))
      nmissing <- seq(0, nmax, by = by)
      fit <- dga_fit(y, nmissing)
      tail <- sum(fit$post[nmissing > 0.9 * nmax])
    }
    dga_result(fit, nmax = nmax, by = by, tail_mass = tail)
  } else if (task == "mse-bayesthresh") {
    suppressPackageStartupMessages(library(MultipleSystemsEstimation))
    r <- estimate_population(z, method = "bayesthresh", seed = seed)
    result(r$popest, unname(r$quantiles["2.5%"]), unname(r$quantiles["97.5%"]),
           model = paste(r$retained_interactions, collapse = " + "))
  } else if (task == "lcmcr") {
    suppressPackageStartupMessages(library(LCMCR))
    burnin <- num(1, 100000)
    samples <- num(2, 5000)
    thinning <- num(3, 100)
    m <- as.matrix(z)
    sampler <- lcmCR(m, tabular = TRUE, in_list_label = "1", not_in_list_label = "0", K = 10,
                     a_alpha = 0.25, b_alpha = 0.25, seed = seed, verbose = FALSE)
    n <- lcmCR_PostSampl(sampler, burnin = burnin, samples = samples, thinning = thinning,
                         output = FALSE)
    q <- unname(quantile(n, c(0.025, 0.5, 0.975)))
    result(q[2], q[1], q[3], model = "latent classes, K*=10", chains = 1L,
           iterations = burnin + samples * thinning, ess_N = unname(coda::effectiveSize(n)))
  } else {
    stop("unknown task: ", task)
  }
}

to_json <- function(x) jsonlite::toJSON(x, auto_unbox = TRUE, digits = NA, na = "null")

if (args[1] == "batch") {
  task <- args[2]
  files <- sort(list.files(args[3], pattern = "\\.csv$", full.names = TRUE))
  out <- lapply(files, function(f) {
    z <- read.csv(f, check.names = FALSE)
    t0 <- proc.time()[["elapsed"]]
    r <- tryCatch(suppressWarnings(run_task(task, z, args[-(1:4)])),
                  error = function(e) list(error = conditionMessage(e)))
    r$seconds <- proc.time()[["elapsed"]] - t0
    r$file <- basename(f)
    r
  })
  writeLines(to_json(out), args[4])
} else {
  z <- read.csv(args[2], check.names = FALSE)
  cat("PEER_RESULT", to_json(run_task(args[1], z, args[-(1:2)])), "\n")
}

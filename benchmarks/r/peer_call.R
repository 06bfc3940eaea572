# One R reference peer's call on one capture table, for benchmarks/peers_side_by_side.py.
#
# Usage: Rscript benchmarks/r/peer_call.R TASK TABLE.csv [EXTRA...]
#   TASK: mse-bic | sparsemse-bca | dga | mse-bayesthresh | lcmcr
#   dga takes two extras: NMAX BY, the grid Nmissing = seq(0, NMAX, by = BY) recorded in
#   tests/data/mse/peer_results.json for that table.
# The peers are loaded from $FL_PEERS_RLIB (default ~/peers/Rlib, where ../shared/tools/install-r-peers
# puts them) ahead of the system library. The settings are those of the peer_results.json records:
#   mse-bic          MultipleSystemsEstimation 1.2.0 estimate_population(method = "bic", nboot = 0,
#                    maxorder = 2): exhaustive BIC over every hierarchical model with two-list terms
#   sparsemse-bca    SparseMSE 2.0.1 estimatepopulation(nboot = 1000, pthresh = 0.02, iseed = 20240601):
#                    stepwise selection, then 1,000 BCa replicates that repeat the selection
#   dga              dga 2.0.2 bma.cr(Y, Nmissing, delta = 2^-K, graphsK), prior on N proportional to 1/N
#   mse-bayesthresh  MultipleSystemsEstimation 1.2.0 estimate_population(method = "bayesthresh",
#                    seed = 20240601): threshold 2, proper normal priors of variance 1, MCMCpack
#   lcmcr            LCMCR 0.4.14 lcmCR(K = 10, a_alpha = b_alpha = 0.25, seed = 20240601) then
#                    lcmCR_PostSampl(burnin = 100000, samples = 5000, thinning = 100)
# Prints one line "PEER_RESULT {json}" with estimate (total N), ci_low, ci_high (95%), model and extras.
args <- commandArgs(trailingOnly = TRUE)
task <- args[1]
csv <- args[2]
rlib <- Sys.getenv("FL_PEERS_RLIB", file.path(Sys.getenv("HOME"), "peers", "Rlib"))
.libPaths(c(rlib, .libPaths()))
z <- read.csv(csv, check.names = FALSE)
nlists <- ncol(z) - 1L
seed <- 20240601L

emit <- function(estimate, ci_low = NA, ci_high = NA, model = NA, ...) {
  out <- list(estimate = estimate, ci_low = ci_low, ci_high = ci_high, model = model, ...)
  cat("PEER_RESULT", jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA, na = "null"), "\n")
}

if (task == "mse-bic") {
  suppressPackageStartupMessages(library(MultipleSystemsEstimation))
  r <- estimate_population(z, method = "bic", nboot = 0, maxorder = 2)
  emit(r$popest, model = r$model, BIC = r$BIC)
} else if (task == "sparsemse-bca") {
  suppressPackageStartupMessages(library(SparseMSE))
  r <- estimatepopulation(z, nboot = 1000, pthresh = 0.02, iseed = seed, alpha = c(0.025, 0.975))
  terms <- grep(":", names(stats::coef(r$MSEfit$fit)), value = TRUE)
  emit(unname(r$popest), unname(r$BCaquantiles[1]), unname(r$BCaquantiles[2]),
       model = paste(terms, collapse = " + "), ahat = r$ahat)
} else if (task == "dga") {
  suppressPackageStartupMessages(library(dga))
  nmissing <- seq(0, as.numeric(args[3]), by = as.numeric(args[4]))
  y <- array(0, dim = rep(2, nlists))
  cells <- as.matrix(z[, seq_len(nlists)]) %*% 2^(seq_len(nlists) - 1) + 1
  y[cells] <- z[[nlists + 1L]]
  graphs_name <- paste0("graphs", nlists)
  utils::data(list = graphs_name, package = "dga", envir = environment())
  graphs <- get(graphs_name)
  w <- bma.cr(y, nmissing, 2^-nlists, graphs)
  post <- colSums(w)
  n_total <- nmissing + sum(y)
  cdf <- cumsum(post)
  q <- function(p) n_total[which(cdf >= p)[1]]
  emit(q(0.5), q(0.025), q(0.975), grid_points = length(nmissing),
       top_model_prob = max(rowSums(w)), posterior_mode = n_total[which.max(post)])
} else if (task == "mse-bayesthresh") {
  suppressPackageStartupMessages(library(MultipleSystemsEstimation))
  r <- estimate_population(z, method = "bayesthresh", seed = seed)
  emit(r$popest, unname(r$quantiles["2.5%"]), unname(r$quantiles["97.5%"]),
       model = paste(r$retained_interactions, collapse = " + "))
} else if (task == "lcmcr") {
  suppressPackageStartupMessages(library(LCMCR))
  m <- as.matrix(z)
  sampler <- lcmCR(m, tabular = TRUE, in_list_label = "1", not_in_list_label = "0", K = 10,
                   a_alpha = 0.25, b_alpha = 0.25, seed = seed, verbose = FALSE)
  n <- lcmCR_PostSampl(sampler, burnin = 100000, samples = 5000, thinning = 100, output = FALSE)
  q <- unname(quantile(n, c(0.025, 0.5, 0.975)))
  emit(q[2], q[1], q[3], model = "latent classes, K*=10", chains = 1L,
       iterations = 100000 + 5000 * 100, ess_N = unname(coda::effectiveSize(n)))
} else {
  stop("unknown task: ", task)
}

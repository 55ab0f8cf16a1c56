#!/usr/bin/env Rscript
# bench/peers/r_glmnet.R — glmnet peer for bench/run_elnet.sh: reads the
# design and outcome bench_elnet dumped (PREFIX.X column-major float64 n x p,
# PREFIX.y), times glmnet() (binomial, alpha) and optionally cv.glmnet(K folds),
# and prints one JSON line (peer, n, p, fit_s, lambdas, max RSS from VmHWM);
# writes its path (step, lambda, a0, df, dev_ratio) to PREFIX.glmnet.csv.
# Invariant: fit_s excludes reading the files and library().
# usage: r_glmnet.R PREFIX N P ALPHA [K]
suppressPackageStartupMessages(library(glmnet))
a <- commandArgs(trailingOnly = TRUE)
prefix <- a[1]; n <- as.integer(a[2]); p <- as.integer(a[3]); alpha <- as.numeric(a[4])
K <- if (length(a) >= 5) as.integer(a[5]) else 0L
X <- matrix(readBin(paste0(prefix, ".X"), "double", n * p), n, p)
y <- readBin(paste0(prefix, ".y"), "double", n)
t0 <- proc.time()[["elapsed"]]
fit <- if (K > 0) cv.glmnet(X, y, family = "binomial", alpha = alpha, nfolds = K)$glmnet.fit else
  glmnet(X, y, family = "binomial", alpha = alpha)
fit_s <- proc.time()[["elapsed"]] - t0
write.csv(data.frame(step = seq_along(fit$lambda), lambda = sprintf("%.17g", fit$lambda),
                     a0 = sprintf("%.17g", fit$a0), df = fit$df, dev_ratio = sprintf("%.17g", fit$dev.ratio)),
          paste0(prefix, ".glmnet.csv"), row.names = FALSE, quote = FALSE)
hwm <- tryCatch({
  l <- grep("^VmHWM", readLines("/proc/self/status"), value = TRUE)
  as.numeric(gsub("[^0-9]", "", l)) / 1024
}, error = function(e) NA)
cat(sprintf('{"peer": "%s", "n": %d, "p": %d, "alpha": %g, "folds": %d, "fit_s": %.3f, "lambdas": %d, "max_rss_mb": %.0f}\n',
            if (K > 0) "cv.glmnet" else "glmnet", n, p, alpha, K, fit_s, length(fit$lambda), hwm))

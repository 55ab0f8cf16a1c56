#!/usr/bin/env Rscript
# bench/peers/r_glmnet.R — glmnet peer for bench/run_elnet.sh: reads the
# design and outcome bench_elnet dumped (PREFIX.X column-major float64 n x p, or
# PREFIX.ij, the (row, column) int32 pairs of a 0/1 design, read as a sparse
# dgCMatrix as a glmnet user holds code-list flags; PREFIX.y), times glmnet()
# (binomial, alpha) and optionally cv.glmnet(K folds),
# and prints one JSON line (peer, n, p, fit_s wall, cpu_s, lambdas, max RSS from VmHWM);
# writes its path (step, lambda, a0, df, dev_ratio) to PREFIX.glmnet.csv.
# Invariant: fit_s excludes reading the files and library().
# usage: r_glmnet.R PREFIX N P ALPHA [K]
suppressPackageStartupMessages(library(glmnet))
a <- commandArgs(trailingOnly = TRUE)
prefix <- a[1]; n <- as.integer(a[2]); p <- as.integer(a[3]); alpha <- as.numeric(a[4])
K <- if (length(a) >= 5) as.integer(a[5]) else 0L
ijf <- paste0(prefix, ".ij")
X <- if (file.exists(ijf)) {
  ij <- matrix(readBin(ijf, "integer", file.size(ijf) %/% 4, size = 4), nrow = 2)
  Matrix::sparseMatrix(i = ij[1, ] + 1L, j = ij[2, ] + 1L, x = 1, dims = c(n, p))
} else matrix(readBin(paste0(prefix, ".X"), "double", n * p), n, p)
y <- readBin(paste0(prefix, ".y"), "double", n)
pt0 <- proc.time()
t0 <- pt0[["elapsed"]]
fit <- if (K > 0) cv.glmnet(X, y, family = "binomial", alpha = alpha, nfolds = K)$glmnet.fit else
  glmnet(X, y, family = "binomial", alpha = alpha)
pt1 <- proc.time()
fit_s <- pt1[["elapsed"]] - t0
cpu_s <- (pt1[["user.self"]] + pt1[["sys.self"]]) - (pt0[["user.self"]] + pt0[["sys.self"]])
write.csv(data.frame(step = seq_along(fit$lambda), lambda = sprintf("%.17g", fit$lambda),
                     a0 = sprintf("%.17g", fit$a0), df = fit$df, dev_ratio = sprintf("%.17g", fit$dev.ratio)),
          paste0(prefix, ".glmnet.csv"), row.names = FALSE, quote = FALSE)
hwm <- tryCatch({
  l <- grep("^VmHWM", readLines("/proc/self/status"), value = TRUE)
  as.numeric(gsub("[^0-9]", "", l)) / 1024
}, error = function(e) NA)
cat(sprintf('{"peer": "%s", "n": %d, "p": %d, "alpha": %g, "folds": %d, "fit_s": %.3f, "cpu_s": %.3f, "lambdas": %d, "max_rss_mb": %.0f}\n',
            if (K > 0) "cv.glmnet" else "glmnet", n, p, alpha, K, fit_s, cpu_s, length(fit$lambda), hwm))

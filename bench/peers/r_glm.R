#!/usr/bin/env Rscript
# bench/peers/r_glm.R — R glm peer: loads X and an outcome from a strata cohort
# (one hdf5r read per column into a preallocated matrix; or the row-major /X of
# gen_cohort.py --xmatrix with --source xmatrix), fits glm(y ~ X) and prints one
# JSON line (peer, n, p, load_s, fit_s, iters, coef file, max RSS from VmHWM);
# writes coefficients in `strata coef --csv` layout (Wald CIs as confint.default).
# Invariant: load_s excludes library(); fit_s includes glm's model.frame/matrix.
# usage: r_glm.R DATA --coef OUT.csv [--family binomial|poisson|gamma] [--source cohort|xmatrix]
suppressPackageStartupMessages({ library(hdf5r); library(jsonlite) })

args <- commandArgs(trailingOnly = TRUE)
opt <- list(family = "binomial", source = "cohort", coef = NULL, data = NULL)
i <- 1
while (i <= length(args)) {
  a <- args[i]
  if (a %in% c("--family", "--source", "--coef")) {
    opt[[sub("^--", "", a)]] <- args[i + 1]; i <- i + 2
  } else { opt$data <- a; i <- i + 1 }
}
if (is.null(opt$data) || is.null(opt$coef)) {
  message("usage: r_glm.R DATA --coef OUT.csv [--family binomial|poisson|gamma] [--source cohort|xmatrix]")
  quit(status = 2)
}
yname <- c(binomial = "y_bin", poisson = "y_count", gamma = "cost")[[opt$family]]
fam <- switch(opt$family, binomial = binomial(), poisson = poisson(), gamma = Gamma(link = "log"))

t0 <- proc.time()[["elapsed"]]
f <- H5File$new(opt$data, mode = "r")
if (opt$source == "cohort") {
  pg <- f[["patients"]]
  xn <- grep("^x[0-9]+$", pg$ls()$name, value = TRUE)
  xn <- xn[order(as.integer(sub("x", "", xn)))]
  n <- pg[[xn[1]]]$dims
  X <- matrix(0, n, length(xn))
  for (j in seq_along(xn)) X[, j] <- pg[[xn[j]]]$read()
  y <- as.numeric(f[["outcomes"]][[yname]]$read())
} else {
  X <- t(f[["X"]]$read())       # hdf5r reads row-major n x p as a p x n R matrix
  y <- as.numeric(f[[yname]]$read())
  xn <- paste0("x", seq_len(ncol(X)))
}
f$close_all()
colnames(X) <- xn
load_s <- proc.time()[["elapsed"]] - t0

t1 <- proc.time()[["elapsed"]]
fit <- glm(y ~ X, family = fam)
fit_s <- proc.time()[["elapsed"]] - t1

cf <- summary(fit)$coefficients
ci <- confint.default(fit)
terms <- sub("^X", "", rownames(cf))
g17 <- function(v) sprintf("%.17g", v)
out <- data.frame(term = terms, estimate = g17(cf[, 1]), std_error = g17(cf[, 2]),
                  statistic = g17(cf[, 3]), p_value = g17(cf[, 4]),
                  conf_low = g17(ci[rownames(cf), 1]), conf_high = g17(ci[rownames(cf), 2]))
write.csv(out, opt$coef, row.names = FALSE, quote = FALSE)

st <- readLines("/proc/self/status")
hwm <- as.numeric(gsub("[^0-9]", "", st[grep("^VmHWM", st)])) / 1024
cat(toJSON(list(peer = paste("R glm", opt$family), n = nrow(X), p = ncol(X),
                load_s = round(load_s, 4), fit_s = round(fit_s, 4), iters = fit$iter,
                converged = fit$converged, coef = normalizePath(opt$coef),
                max_rss_mb = round(hwm, 1), note = paste0("load=", opt$source)),
            auto_unbox = TRUE, digits = NA), "\n")

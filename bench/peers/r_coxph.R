#!/usr/bin/env Rscript
# bench/peers/r_coxph.R — R survival::coxph peer for bench/run_cox.sh: loads x1..xp,
# time_days and event from a gen_surv.py cohort (one hdf5r read per column into a
# preallocated matrix), fits coxph(Surv(time, event) ~ X, ties = "efron") and prints
# one JSON line (peer, n, p, load_s, fit_s, iters, coef file, max RSS from VmHWM);
# writes term, estimate, std_error. Invariant: load_s excludes library(); fit_s is
# the coxph call alone (its model.frame/matrix included).
# usage: r_coxph.R COHORT.h5 --coef OUT.csv [--ties efron|breslow]
suppressPackageStartupMessages({ library(hdf5r); library(jsonlite); library(survival) })

args <- commandArgs(trailingOnly = TRUE)
opt <- list(ties = "efron", coef = NULL, data = NULL)
i <- 1
while (i <= length(args)) {
  a <- args[i]
  if (a %in% c("--ties", "--coef")) { opt[[sub("^--", "", a)]] <- args[i + 1]; i <- i + 2 }
  else { opt$data <- a; i <- i + 1 }
}
if (is.null(opt$data) || is.null(opt$coef)) {
  message("usage: r_coxph.R COHORT.h5 --coef OUT.csv [--ties efron|breslow]")
  quit(status = 2)
}

t0 <- proc.time()[["elapsed"]]
f <- H5File$new(opt$data, mode = "r")
pg <- f[["patients"]]
xn <- grep("^x[0-9]+$", pg$ls()$name, value = TRUE)
xn <- xn[order(as.integer(sub("x", "", xn)))]
n <- pg[[xn[1]]]$dims
X <- matrix(0, n, length(xn))
for (j in seq_along(xn)) X[, j] <- pg[[xn[j]]]$read()
time <- as.numeric(f[["outcomes"]][["time_days"]]$read())
event <- as.numeric(f[["outcomes"]][["event"]]$read())
f$close_all()
colnames(X) <- xn
load_s <- proc.time()[["elapsed"]] - t0

t1 <- proc.time()[["elapsed"]]
fit <- coxph(Surv(time, event) ~ X, ties = opt$ties)
fit_s <- proc.time()[["elapsed"]] - t1

g17 <- function(v) sprintf("%.17g", v)
write.csv(data.frame(term = sub("^X", "", names(coef(fit))), estimate = g17(coef(fit)),
                     std_error = g17(sqrt(diag(fit$var)))), opt$coef, row.names = FALSE, quote = FALSE)
st <- readLines("/proc/self/status")
hwm <- as.numeric(gsub("[^0-9]", "", st[grep("^VmHWM", st)])) / 1024
cat(toJSON(list(peer = "R coxph", n = nrow(X), p = ncol(X), load_s = round(load_s, 4),
                fit_s = round(fit_s, 4), iters = fit$iter, loglik = fit$loglik[2],
                coef = normalizePath(opt$coef), max_rss_mb = round(hwm, 1),
                note = paste0("ties=", opt$ties, ", survival ", packageVersion("survival"))),
            auto_unbox = TRUE, digits = NA), "\n")

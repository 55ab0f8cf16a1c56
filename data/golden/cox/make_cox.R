# data/golden/cox/make_cox.R — golden fixtures for the Cox tests (tests/test_cox.c):
# survival::coxph on real public data in ../shared/data/r_survival_datasets, with
# Efron and Breslow ties, strata(), case weights, a factor, an rcs() term and an offset.
# Run from the repository root:  Rscript data/golden/cox/make_cox.R
# Writes, all numbers with 17 significant digits:
#  - design_<data>.csv (one per data set and design): the rows R fitted (after na.omit) as time, status, stratum
#    (1-based code of the strata() level, 1 when unstratified), weight, offset and
#    model.matrix(fit) columns, in R's row order;
#  - cox_coef.csv: coefficients, model-based SEs (naive.var when coxph went robust because
#    of fractional weights) and robust SEs (NA unless coxph reported them);
#  - cox_summary.csv: n, events, loglik (null = at beta 0, fitted), iterations, score /
#    Wald (model-based variance) / LR tests, Harrell's C from survival::concordance(fit) and its counts;
#  - cox_basehaz.csv: basehaz(fit, centered = FALSE): the cumulative hazard at x = 0 and
#    the offset at its weighted mean (offset_mean in cox_summary.csv; 0 without one), per stratum at each distinct time of the stratum. Its increments are
#    survfit's default for the fit's ties (ctype 1 = Breslow for breslow fits,
#    ctype 2 = the Efron-adjusted estimator for efron fits);
#  - cox_surv.csv: survfit(fit, newdata = row)$surv at a horizon for a few rows;
#  - cox_robust.csv: robust SEs (coxph robust = TRUE, or cluster(cl) with cl the design row's
#    ((i - 1) * 7919) %% 97), cox_hr.csv: summary.coxph's z, p and hazard ratios with 95% CIs;
#  - cox_concord.csv: concordance(fit, timewt = "n" (Harrell) / "n/G2" (Uno)) with sqrt(var);
#  - cox_kmcal.csv: 1 - Kaplan-Meier at the horizon in 10 groups of predicted risk, with CIs.
suppressMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
data_dir <- if (length(args) >= 1) args[1] else "../shared/data"
out_dir <- if (length(args) >= 2) args[2] else "data/golden/cox"

rd <- function(rel) read.csv(file.path(data_dir, rel), stringsAsFactors = FALSE, check.names = FALSE)
cfactor <- function(x, ref = NULL) {
  x <- as.character(x)
  f <- factor(x, levels = sort(unique(x[!is.na(x)]), method = "radix"))
  if (!is.null(ref)) f <- relevel(f, ref)
  f
}
# Restricted cubic spline basis as Hmisc::rcspline.eval(x, nk = k, norm = 2) (rms::rcs) for a
# variable without heavy ties (no value holds >= 5% of rows, n >= 100: the knots are then plain
# type-7 quantiles at Harrell's default probabilities). rms is not in Debian; this is its rule.
rcs_basis <- function(x, k, name) {
  stopifnot(k == 4, max(table(x)) / length(x) < 0.05, length(x) >= 100)
  t <- quantile(x, c(0.05, 0.35, 0.65, 0.95), type = 7, names = FALSE)
  kd <- (t[k] - t[1])^(2 / 3)
  p3 <- function(u) pmax(u / kd, 0)^3
  b <- sapply(1:(k - 2), function(j)
    p3(x - t[j]) + ((t[k - 1] - t[j]) * p3(x - t[k]) - (t[k] - t[j]) * p3(x - t[k - 1])) / (t[k] - t[k - 1]))
  colnames(b) <- paste0("rcs(", name, ", ", k, ")", name, strrep("'", 1:(k - 2)))
  b
}
g17 <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))

# Spline columns enter coxph as a matrix `rk`; their coefficients are named as strata names them.
rename <- function(nm) { i <- grepl("^rk", nm); nm[i] <- rk_names[as.integer(sub("^rk", "", nm[i]))]; nm }
rk_names <- character(0)
out_coef <- list(); out_sum <- list(); out_bh <- list(); out_surv <- list()
# d: the data frame fitted; dn: name of its design file; st: name of the strata column or NULL; w: weights column or NULL;
# offv: offset values per row of d or NULL; horizon: time for survfit.
run <- function(id, fit, d, dn = id, st = NULL, w = NULL, offv = NULL, horizon, rows = 1:5) {
  used <- if (is.null(fit$na.action)) seq_len(nrow(d)) else seq_len(nrow(d))[-fit$na.action]
  du <- d[used, , drop = FALSE]
  X <- model.matrix(fit)
  colnames(X) <- rename(colnames(X))
  y <- fit$y
  stratum <- if (is.null(st)) rep(1L, nrow(du)) else as.integer(cfactor(du[[st]]))
  wt <- if (is.null(w)) rep(1, nrow(du)) else du[[w]]
  off <- if (is.null(offv)) rep(0, nrow(du)) else offv[used]
  des <- data.frame(time = g17(y[, 1]), status = as.integer(y[, 2]), stratum = stratum,
                    weight = g17(wt), offset = g17(off), check.names = FALSE)
  for (j in seq_len(ncol(X))) des[[colnames(X)[j]]] <- g17(X[, j])
  write.csv(des, file.path(out_dir, paste0("design_", dn, ".csv")), row.names = FALSE, quote = TRUE)

  # fractional case weights make coxph report the robust variance; the model-based one is naive.var
  V <- if (is.null(fit$naive.var)) fit$var else fit$naive.var
  rse <- if (is.null(fit$naive.var)) rep(NA_real_, length(coef(fit))) else sqrt(diag(fit$var))
  out_coef[[id]] <<- data.frame(model = id, term = rename(names(coef(fit))), estimate = g17(coef(fit)),
                                std_error = g17(sqrt(diag(V))), robust_se = g17(rse), stringsAsFactors = FALSE)
  cc <- concordance(fit)
  cnt <- if (is.matrix(cc$count)) colSums(cc$count) else cc$count  # per stratum when stratified
  out_sum[[id]] <<- data.frame(model = id, ties = fit$method, n = fit$n, nevent = fit$nevent,
                               loglik_null = g17(fit$loglik[1]), loglik = g17(fit$loglik[2]),
                               iter = fit$iter, score = g17(fit$score),
                               wald = g17(sum(coef(fit) * solve(V, coef(fit)))),
                               lr = g17(2 * diff(fit$loglik)), concordance = g17(cc$concordance),
                               concordant = g17(cnt[["concordant"]]), discordant = g17(cnt[["discordant"]]),
                               tied_x = g17(cnt[["tied.x"]]), tied_y = g17(cnt[["tied.y"]]),
                               offset_mean = g17(weighted.mean(off, wt)),
                               stringsAsFactors = FALSE)
  bh <- basehaz(fit, centered = FALSE)
  bst <- if (is.null(bh$strata)) rep(1L, nrow(bh)) else as.integer(factor(bh$strata, levels = levels(bh$strata)))
  out_bh[[id]] <<- data.frame(model = id, stratum = bst, time = g17(bh$time), hazard = g17(bh$hazard))
  for (i in rows) {
    sf <- survfit(fit, newdata = du[i, , drop = FALSE])
    sv <- summary(sf, times = horizon, extend = TRUE)$surv
    out_surv[[paste(id, i)]] <<- data.frame(model = id, row = i, horizon = g17(horizon), surv = g17(sv))
  }
}

## --- flchain (7,874 subjects): general-population mortality, many tied days ---------
fl <- rd("r_survival_datasets/flchain.csv")
fl$sex <- cfactor(fl$sex)
fl <- fl[fl$futime > 0, ]
rk <- cbind(fl$kappa, rcs_basis(fl$kappa, 4, "kappa"))
rk_names <- c("rcs(kappa, 4)kappa", colnames(rk)[-1])
colnames(rk) <- NULL
fl$rk <- rk
# fl_efron: strata  Surv(futime, death) ~ age + sex + rcs(kappa, 4) + log(lambda)
fit <- coxph(Surv(futime, death) ~ age + sex + rk + log(lambda), data = fl, ties = "efron")
run("fl_efron", fit, fl, dn = "fl", horizon = 1826)
# fl_breslow: the same with Breslow ties
fit <- coxph(Surv(futime, death) ~ age + sex + rk + log(lambda), data = fl, ties = "breslow")
run("fl_breslow", fit, fl, dn = "fl", horizon = 1826)

## --- colon (deaths, etype 2): a factor and strata() ---------------------------------
co <- rd("r_survival_datasets/colon.csv")
co <- co[co$etype == 2, ]
co$rx <- cfactor(co$rx)      # byte-wise: "Lev", "Lev+5FU", "Obs"
# colon_strata: strata  Surv(time, status) ~ rx + sex + age + nodes + strata(extent)
fit <- coxph(Surv(time, status) ~ rx + sex + age + nodes + strata(extent), data = co, ties = "efron")
run("colon_strata", fit, co, st = "extent", horizon = 1000)

## --- pbc (death = status 2): case weights and an offset ------------------------------
pb <- rd("r_survival_datasets/pbc.csv")
pb$dead <- as.integer(pb$status == 2)
pb$w <- 0.5 + (pb$id %% 4) / 2                 # deterministic, non-integer case weights
pb$off <- 0.3 * log(pb$protime)
# pbc_wt_off: strata  Surv(time, dead) ~ age + log(bili) + albumin + edema + offset(0.3*log(protime)), weights w
fit <- coxph(Surv(time, dead) ~ age + log(bili) + albumin + edema + offset(off), data = pb, weights = w,
             ties = "efron")
run("pbc_wt_off", fit, pb, dn = "pbc", w = "w", offv = pb$off, horizon = 2000)
fit <- coxph(Surv(time, dead) ~ age + log(bili) + albumin + edema + offset(off), data = pb, weights = w,
             ties = "breslow")
run("pbc_wt_off_breslow", fit, pb, dn = "pbc", w = "w", offv = pb$off, horizon = 2000)

## --- rotterdam (recurrence): strata() with Breslow ties ------------------------------
ro <- rd("r_survival_datasets/rotterdam.csv")
ro$size <- cfactor(ro$size)
# rot_strata: strata  Surv(rtime, recur) ~ age + meno + log1p(nodes) + hormon + chemo + strata(size), breslow
fit <- coxph(Surv(rtime, recur) ~ age + meno + log1p(nodes) + hormon + chemo + strata(size), data = ro,
             ties = "breslow")
run("rot_strata", fit, ro, st = "size", horizon = 1826)

## --- robust (sandwich) variance and cluster(): cox_robust.csv --------------------------
# cl(n): a deterministic cluster code of the design's row i (R's row order): ((i - 1) * 7919) %% 97,
# so the test rebuilds it from the row number.
cl <- function(n) ((seq_len(n) - 1) * 7919) %% 97
out_rob <- list()
robust <- function(id, fit) {
  out_rob[[id]] <<- data.frame(model = id, term = rename(names(coef(fit))), estimate = g17(coef(fit)),
                               robust_se = g17(sqrt(diag(fit$var))), naive_se = g17(sqrt(diag(fit$naive.var))),
                               stringsAsFactors = FALSE)
}
fl_used <- fl[complete.cases(fl[, c("futime", "death", "age", "sex", "kappa", "lambda")]), ]
fl_used$cl <- cl(nrow(fl_used))
rk_names <- c("rcs(kappa, 4)kappa", colnames(rcs_basis(fl$kappa, 4, "kappa")))
# fl_efron_robust: Surv(futime, death) ~ age + sex + rcs(kappa, 4) + log(lambda), robust = TRUE (each row its own cluster)
robust("fl_efron_robust", coxph(Surv(futime, death) ~ age + sex + rk + log(lambda), data = fl_used,
                                ties = "efron", robust = TRUE))
robust("fl_breslow_robust", coxph(Surv(futime, death) ~ age + sex + rk + log(lambda), data = fl_used,
                                  ties = "breslow", robust = TRUE))
co_used <- co[complete.cases(co[, c("time", "status", "rx", "sex", "age", "nodes", "extent")]), ]
co_used$cl <- cl(nrow(co_used))
# colon_strata_cluster: ... + strata(extent) + cluster(cl)
robust("colon_strata_cluster", coxph(Surv(time, status) ~ rx + sex + age + nodes + strata(extent),
                                     data = co_used, ties = "efron", cluster = cl))
pb_used <- pb[complete.cases(pb[, c("time", "dead", "age", "bili", "albumin", "edema", "protime")]), ]
pb_used$cl <- cl(nrow(pb_used))
# pbc_wt_off_cluster: fractional weights, offset and cluster(cl)
robust("pbc_wt_off_cluster", coxph(Surv(time, dead) ~ age + log(bili) + albumin + edema + offset(off),
                                   data = pb_used, weights = w, ties = "efron", cluster = cl))
ro_used <- ro
ro_used$cl <- cl(nrow(ro_used))
robust("rot_strata_cluster", coxph(Surv(rtime, recur) ~ age + meno + log1p(nodes) + hormon + chemo + strata(size),
                                   data = ro_used, ties = "breslow", cluster = cl))
write.csv(do.call(rbind, out_rob), file.path(out_dir, "cox_robust.csv"), row.names = FALSE, quote = TRUE)

## --- hazard ratios with 95% CIs and Wald z / p as summary.coxph: cox_hr.csv ----------------
out_hr <- list()
hr <- function(id, fit) {
  sm <- summary(fit)
  cf <- sm$coefficients; ci <- sm$conf.int
  out_hr[[id]] <<- data.frame(model = id, term = rename(rownames(cf)), z = g17(cf[, "z"]),
                              p = g17(cf[, "Pr(>|z|)"]), hr = g17(ci[, "exp(coef)"]),
                              lower = g17(ci[, "lower .95"]), upper = g17(ci[, "upper .95"]),
                              stringsAsFactors = FALSE)
}
hr("fl_efron", coxph(Surv(futime, death) ~ age + sex + rk + log(lambda), data = fl_used, ties = "efron"))
hr("colon_strata_cluster", coxph(Surv(time, status) ~ rx + sex + age + nodes + strata(extent),
                                 data = co_used, ties = "efron", cluster = cl))
write.csv(do.call(rbind, out_hr), file.path(out_dir, "cox_hr.csv"), row.names = FALSE, quote = TRUE)

## --- concordance with standard errors: Harrell (timewt n) and Uno (n/G2): cox_concord.csv ---
out_conc <- list()
conc <- function(id, fit) {
  for (tw in c("n", "n/G2")) {
    cc <- concordance(fit, timewt = tw)
    cnt <- if (is.matrix(cc$count)) colSums(cc$count) else cc$count
    out_conc[[paste(id, tw)]] <<- data.frame(model = id, timewt = tw, concordance = g17(cc$concordance),
                                             std_err = g17(sqrt(cc$var)), concordant = g17(cnt[["concordant"]]),
                                             discordant = g17(cnt[["discordant"]]), tied_x = g17(cnt[["tied.x"]]),
                                             tied_y = g17(cnt[["tied.y"]]), stringsAsFactors = FALSE)
  }
}
conc("fl_efron", coxph(Surv(futime, death) ~ age + sex + rk + log(lambda), data = fl_used, ties = "efron"))
conc("colon_strata", coxph(Surv(time, status) ~ rx + sex + age + nodes + strata(extent), data = co_used))
conc("pbc_wt_off", coxph(Surv(time, dead) ~ age + log(bili) + albumin + edema + offset(off), data = pb_used,
                         weights = w))
write.csv(do.call(rbind, out_conc), file.path(out_dir, "cox_concord.csv"), row.names = FALSE, quote = TRUE)

## --- Kaplan-Meier calibration at the horizon: cox_kmcal.csv ---------------------------
# Predicted risk 1 - S(h | x) from the fit; 10 risk groups cut at type-7 quantiles (intervals closed
# on the right, the first also on the left; equal breaks merged), as strata evaluate's risk groups;
# observed risk 1 - KM(h) per group with survfit's log-scale CI (Greenwood, case weights as counts:
# robust = FALSE, which survfit would otherwise switch on for non-integer weights; conf.type = "log").
out_km <- list()
kmcal <- function(id, fit, d, time, status, h, wts = NULL) {
  sf <- survfit(fit, newdata = d)
  risk <- 1 - as.numeric(summary(sf, times = h, extend = TRUE)$surv)
  brk <- unique(quantile(risk, 0:10 / 10, type = 7, names = FALSE))
  grp <- cut(risk, brk, include.lowest = TRUE, labels = FALSE)
  for (g in sort(unique(grp))) {
    k <- grp == g
    wk <- if (is.null(wts)) rep(1, sum(k)) else wts[k]
    km <- survfit(Surv(time[k], status[k]) ~ 1, weights = wk, robust = FALSE)  # Greenwood, weights as counts
    s <- summary(km, times = h, extend = TRUE)
    out_km[[paste(id, g)]] <<- data.frame(model = id, horizon = g17(h), group = g, n = g17(sum(wk)),
                                          pred = g17(weighted.mean(risk[k], wk)),
                                          obs = g17(1 - s$surv), obs_lo = g17(1 - s$upper), obs_hi = g17(1 - s$lower),
                                          p_min = g17(min(risk[k])), p_max = g17(max(risk[k])))
  }
}
fit <- coxph(Surv(futime, death) ~ age + sex + rk + log(lambda), data = fl_used, ties = "efron")
kmcal("fl_efron", fit, fl_used, fl_used$futime, fl_used$death, 1826)
fit <- coxph(Surv(time, dead) ~ age + log(bili) + albumin + edema + offset(off), data = pb_used, weights = w)
kmcal("pbc_wt_off", fit, pb_used, pb_used$time, pb_used$dead, 2000, pb_used$w)
write.csv(do.call(rbind, out_km), file.path(out_dir, "cox_kmcal.csv"), row.names = FALSE, quote = TRUE)

write.csv(do.call(rbind, out_coef), file.path(out_dir, "cox_coef.csv"), row.names = FALSE, quote = TRUE)
write.csv(do.call(rbind, out_sum), file.path(out_dir, "cox_summary.csv"), row.names = FALSE, quote = TRUE)
write.csv(do.call(rbind, out_bh), file.path(out_dir, "cox_basehaz.csv"), row.names = FALSE, quote = TRUE)
write.csv(do.call(rbind, out_surv), file.path(out_dir, "cox_surv.csv"), row.names = FALSE, quote = TRUE)

# data/golden/evaluate/make_evaluate.R — golden values for tests/test_evaluate.c.
# Fits models in R on the first 20,000 encounters of the UCI Diabetes 130-US data
# (../shared/data/uci_diabetes_130us, CC BY 4.0, Strack et al. 2014), saves y, p and
# subgroup codes (scored_*.csv) and every metric (golden_*.csv: by,level,metric,idx,value)
# computed with pROC (AUC, DeLong), glm (recalibration) and the plain R below.
# Run from the repository root: Rscript data/golden/evaluate/make_evaluate.R [TAG ...]
# (no TAG: every fixture; pROC is loaded only where an AUC is defined, so the
# gamma fixture, whose outcome is always > 0, needs base R alone).
tags <- commandArgs(trailingOnly = TRUE)
out <- "data/golden/evaluate"
d <- read.csv("../shared/data/uci_diabetes_130us/diabetic_data.csv", stringsAsFactors = FALSE)
d <- d[d$gender %in% c("Female", "Male"), ][1:20000, ]
age_lv <- sort(unique(d$age))
d$age_num <- match(d$age, age_lv)
race_lv <- c("AfricanAmerican", "Asian", "Caucasian", "Hispanic", "Other")
codes <- data.frame(
  race = ifelse(d$race %in% race_lv, match(d$race, race_lv) - 1L, -1L),
  sex = ifelse(d$gender == "Female", 0L, 1L),
  ageband = d$age_num - 1L)
ctl <- glm.control(epsilon = 1e-15, maxit = 100)

# ---- metric code (documented in docs/evaluate.md) ----
qtl_groups <- function(p, g) {
  br <- unique(quantile(p, (0:g) / g, type = 7, names = FALSE))
  if (length(br) < 2) return(rep(1L, length(p)))
  as.integer(cut(p, br, include.lowest = TRUE, right = TRUE))
}
yield_at <- function(y, p, f, binary) {
  o <- order(p, decreasing = FALSE); y <- y[o]; p <- p[o]
  want <- f * length(y); got <- 0; obs <- 0; cut <- NA
  u <- rev(unique(p))
  for (v in u) {
    if (got >= want) break
    i <- p == v; gw <- sum(i); go <- sum(y[i])
    take <- if (want - got < gw) (want - got) / gw else 1
    got <- got + take * gw; obs <- obs + take * go; cut <- v
  }
  c(got, obs, obs / sum(y), obs / got, if (binary && obs > 0) got / obs else NA, cut)
}
curve_pts <- function(y, p, lp, nb = 100) {
  o <- order(p); y <- y[o]; p <- p[o]; lp <- lp[o]; m <- length(y)
  nb <- min(nb, m); b <- 0:(nb - 1)
  k0 <- (b * m) %/% nb; k1 <- ((b + 1) * m) %/% nb
  res <- t(sapply(seq_len(nb), function(j) {
    i <- if (k1[j] > k0[j]) (k0[j] + 1):k1[j] else integer(0)
    c(length(i), mean(lp[i]), mean(p[i]), mean(y[i]))
  }))
  res <- res[res[, 1] > 0, , drop = FALSE]
  h <- 1.06 * sqrt(mean((lp - mean(lp))^2)) * m^(-0.2)
  sm <- sapply(res[, 2], function(x) {
    kw <- exp(-0.5 * ((res[, 2] - x) / h)^2)
    sum(kw * res[, 4] * res[, 1]) / sum(kw * res[, 1])
  })
  cbind(res, sm)
}
udev <- function(fam, y, mu) sum(fam$dev.resids(y, mu, rep(1, length(y))))

metrics <- function(y, p, fam, family, pop) {
  z <- qnorm(0.975)
  lp <- fam$linkfun(p); n <- length(y); O <- sum(y); E <- sum(p)
  r <- list()
  add <- function(metric, value, idx = 0) r[[length(r) + 1]] <<- data.frame(
    by = pop[1], level = pop[2], metric = metric, idx = idx, value = value)
  add("n_rows", n); add("observed", O); add("expected", E); add("n_events", sum(y > 0))
  yb <- as.integer(y > 0)
  if (sum(yb) > 1 && sum(1 - yb) > 1) {
    suppressMessages(library(pROC))
    ro <- roc(yb, p, direction = "<", levels = c(0, 1), quiet = TRUE)
    ci <- ci.auc(ro, method = "delong")
    add("c", as.numeric(auc(ro))); add("c_se", sqrt(var(ro, method = "delong")))
    add("c_lo", ci[1]); add("c_hi", ci[3])
  }
  lse <- switch(family, binomial = sqrt(1 / O - 1 / n), poisson = sqrt(1 / O),
                gamma = sqrt(sum((y - p)^2)) / O, gaussian = sqrt(sum((y - p)^2)) / O)
  add("oe", O / E); add("oe_lo", O / E * exp(-z * lse)); add("oe_hi", O / E * exp(z * lse))
  f0 <- summary(glm(y ~ offset(lp), family = fam, control = ctl))$coefficients
  add("citl", f0[1, 1]); add("citl_se", f0[1, 2])
  f1 <- summary(glm(y ~ lp, family = fam, control = ctl))$coefficients
  add("cal_a", f1[1, 1]); add("cal_a_se", f1[1, 2]); add("slope", f1[2, 1]); add("slope_se", f1[2, 2])
  add("slope_lo", f1[2, 1] - z * f1[2, 2]); add("slope_hi", f1[2, 1] + z * f1[2, 2])
  br <- mean((y - p)^2); add("brier", br); add("brier_scaled", 1 - br / mean((y - mean(y))^2))
  D <- udev(fam, y, p); D0 <- udev(fam, y, rep(mean(y), n))
  add("deviance", D); add("null_deviance", D0); add("pseudo_r2", 1 - D / D0)
  g <- qtl_groups(p, 10); go <- tapply(y, g, sum); ge <- tapply(p, g, sum); gn <- tapply(y, g, length)
  for (j in seq_along(go)) { add("bin_n", gn[j], j); add("bin_observed", go[j], j); add("bin_expected", ge[j], j) }
  if (family == "binomial" && length(go) > 2) {
    hl <- sum((go - ge)^2 / (ge * (1 - ge / gn)))
    add("hl_chi2", hl); add("hl_df", length(go) - 2); add("hl_p", pchisq(hl, length(go) - 2, lower.tail = FALSE))
  }
  fr <- c(0.005, 0.01, 0.02, 0.05, 0.10, 0.20)
  for (j in seq_along(fr)) {
    v <- yield_at(y, p, fr[j], family == "binomial")
    add("top_n", v[1], j); add("top_observed", v[2], j); add("top_sens", v[3], j)
    add("top_ppv", v[4], j); if (!is.na(v[5])) add("top_nns", v[5], j); add("top_cut", v[6], j)
  }
  if (family == "binomial") {
    ts <- seq(0.01, 0.5, by = 0.01)
    for (j in seq_along(ts)) {
      t <- ts[j]; tp <- sum(y == 1 & p >= t); fp <- sum(y == 0 & p >= t)
      add("nb_model", tp / n - fp / n * t / (1 - t), j)
      add("nb_all", mean(y) - (1 - mean(y)) * t / (1 - t), j)
    }
  }
  cp <- curve_pts(y, p, lp)
  for (j in seq_len(nrow(cp))) {
    add("curve_n", cp[j, 1], j); add("curve_lp", cp[j, 2], j); add("curve_p", cp[j, 3], j)
    add("curve_obs", cp[j, 4], j); add("curve_smooth", cp[j, 5], j)
  }
  do.call(rbind, r)
}

flags <- function(tab, all) {
  v <- function(t, m) { x <- t$value[t$metric == m]; if (length(x)) x else NA }
  small <- v(tab, "n_rows") < 100 || v(tab, "n_events") < 10
  outside <- function(m, lo, hi) { a <- v(all, m); l <- v(tab, lo); h <- v(tab, hi)
    as.numeric(!small && !is.na(l) && (a < l || a > h)) }
  data.frame(by = tab$by[1], level = tab$level[1],
             metric = c("small", "oe_differs", "slope_differs", "c_differs"), idx = 0,
             value = c(as.numeric(small), outside("oe", "oe_lo", "oe_hi"),
                       outside("slope", "slope_lo", "slope_hi"), outside("c", "c_lo", "c_hi")))
}

run <- function(tag, y, p, fam, family) {
  if (length(tags) && !(tag %in% tags)) return(invisible(NULL))
  write.csv(data.frame(y = y, p = sprintf("%.17g", p), codes), file.path(out, paste0("scored_", tag, ".csv")),
            row.names = FALSE, quote = FALSE)
  all <- metrics(y, p, fam, family, c("overall", "all"))
  res <- list(all)
  for (b in names(codes)) {
    cc <- codes[[b]]
    for (lv in sort(unique(cc))) {
      i <- cc == lv
      lab <- if (lv < 0) "NA" else as.character(lv)
      t <- metrics(y[i], p[i], fam, family, c(b, lab))
      res[[length(res) + 1]] <- rbind(t, flags(t, all))
    }
  }
  g <- do.call(rbind, res)
  g$value <- sprintf("%.17g", g$value)
  write.csv(g, file.path(out, paste0("golden_", tag, ".csv")), row.names = FALSE, quote = FALSE)
}

readmit <- as.integer(d$readmitted == "<30")
m1 <- glm(readmit ~ age_num + gender + time_in_hospital + num_medications + number_inpatient +
            number_emergency + number_outpatient + number_diagnoses, family = binomial, data = d)
run("binomial", readmit, fitted(m1), binomial(), "binomial")
# ties: the same risks rounded to 3 decimals
run("binomial_ties", readmit, round(fitted(m1), 3), binomial(), "binomial")
m2 <- glm(number_inpatient ~ age_num + gender + time_in_hospital + number_emergency +
            number_outpatient + number_diagnoses, family = poisson, data = d)
run("poisson", d$number_inpatient, fitted(m2), poisson(), "poisson")
m3 <- glm(time_in_hospital ~ age_num + gender + num_medications + num_lab_procedures +
            number_diagnoses, family = gaussian, data = d)
run("gaussian", d$time_in_hospital, fitted(m3), gaussian(), "gaussian")
# gamma with its log link: the same length of stay as a positive, cost-like outcome
m4 <- glm(time_in_hospital ~ age_num + gender + num_medications + num_lab_procedures +
            number_diagnoses, family = Gamma(link = "log"), data = d, control = ctl)
run("gamma", d$time_in_hospital, fitted(m4), Gamma(link = "log"), "gamma")

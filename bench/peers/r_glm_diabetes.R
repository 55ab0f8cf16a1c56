# bench/peers/r_glm_diabetes.R — R glm() on the UCI diabetes golden model (data/golden/glm/make_glm.R's
# dia_logit), for bench/run_glm_factor.sh. Prints key=value timings (read_s: read.csv and factor set-up;
# fit_s: the glm() call alone) and writes the coefficients, %.17g, to the CSV given.
# usage: Rscript r_glm_diabetes.R DIABETIC_DATA.CSV COEF_OUT.csv
# rms is not installed here: Harrell's restricted cubic spline (rms::rcs, 4 knots at the
# .05 .35 .65 .95 quantiles, norm 2; docs/glm.md) is evaluated below, before the timed call.
a <- commandArgs(trailingOnly = TRUE)
t0 <- proc.time()[["elapsed"]]
dia <- read.csv(a[1], na.strings = c("?", "NA", "", "Unknown/Invalid"), stringsAsFactors = FALSE)
cfactor <- function(x, ref = NULL) {
  x <- as.character(x)
  f <- factor(x, levels = sort(unique(x[!is.na(x)]), method = "radix"))
  if (!is.null(ref)) f <- relevel(f, ref)
  f
}
dia$readmit30 <- as.integer(dia$readmitted == "<30")
dia$race <- cfactor(dia$race, ref = "Caucasian")
dia$gender <- cfactor(dia$gender)
dia$age <- cfactor(dia$age)
dia$A1Cresult <- cfactor(dia$A1Cresult)
kn <- quantile(dia$num_medications, c(.05, .35, .65, .95), na.rm = TRUE, names = FALSE)
kd <- (kn[4] - kn[1])^(2 / 3)
cub <- function(x, t) pmax((x - t) / kd, 0)^3
for (j in 1:2)
  dia[[paste0("nm_rcs", j)]] <- cub(dia$num_medications, kn[j]) + ((kn[3] - kn[j]) * cub(dia$num_medications, kn[4]) -
                                  (kn[4] - kn[j]) * cub(dia$num_medications, kn[3])) / (kn[4] - kn[3])
t1 <- proc.time()[["elapsed"]]
fit <- glm(readmit30 ~ race + gender + age + num_medications + nm_rcs1 + nm_rcs2 + number_inpatient * gender +
             log1p(number_emergency) + A1Cresult, family = binomial, data = dia)
t2 <- proc.time()[["elapsed"]]
cf <- coef(fit)
write.csv(data.frame(term = names(cf), estimate = sprintf("%.17g", cf)), a[2], row.names = FALSE, quote = FALSE)
cat(sprintf("read_s=%.3f fit_s=%.3f iter=%d n=%d p=%d\n", t1 - t0, t2 - t1, fit$iter, length(fit$y), length(cf)))

# data/golden/glm/make_glm.R — golden fixtures for the GLM tests (tests/test_glm_golden.c):
# R's glm() on real public data in ../shared/data, written with 17 significant digits.
# Run from the repository root:  Rscript data/golden/glm/make_glm.R
# Conventions that make R and strata fit the same rows and design:
#  - R drops incomplete rows itself (glm's na.omit), AFTER model.frame has evaluated
#    rcs(): the knots come from every non-missing x, as strata computes them;
#  - categorical levels are sorted byte-wise (C locale, sort(method = "radix")), the
#    reference level is the first one unless relevel()ed (strata: C(x, ref = L));
#  - missing values in the CSVs are "?" / "NA" / "" and "Unknown/Invalid".
suppressMessages(library(rms))
args <- commandArgs(trailingOnly = TRUE)
data_dir <- if (length(args) >= 1) args[1] else "../shared/data"
out_dir <- if (length(args) >= 2) args[2] else "data/golden/glm"

rd <- function(rel) read.csv(file.path(data_dir, rel), na.strings = c("?", "NA", "", "Unknown/Invalid"),
                             stringsAsFactors = FALSE, check.names = FALSE)
cfactor <- function(x, ref = NULL) {
  x <- as.character(x)
  f <- factor(x, levels = sort(unique(x[!is.na(x)]), method = "radix"))
  if (!is.null(ref)) f <- relevel(f, ref)
  f
}
g17 <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))

out_coef <- list(); out_sum <- list()
run <- function(id, fit) {
  s <- summary(fit)$coefficients
  cf <- coef(fit)
  est <- cf; se <- rep(NA_real_, length(cf)); st <- se; pv <- se
  names(se) <- names(cf); st <- se; pv <- se
  se[rownames(s)] <- s[, 2]; st[rownames(s)] <- s[, 3]; pv[rownames(s)] <- s[, 4]
  out_coef[[id]] <<- data.frame(model = id, term = names(cf), estimate = g17(est), std_error = g17(se),
                                statistic = g17(st), p_value = g17(pv), stringsAsFactors = FALSE)
  out_sum[[id]] <<- data.frame(model = id, deviance = g17(fit$deviance), null_deviance = g17(fit$null.deviance),
                               aic = g17(fit$aic), dispersion = g17(summary(fit)$dispersion),
                               df_residual = fit$df.residual, n = length(fit$y), iter = fit$iter)
}

## --- UCI diabetes 130-US (101,766 encounters) -------------------------------
dia <- rd("uci_diabetes_130us/diabetic_data.csv")
dia$readmit30 <- as.integer(dia$readmitted == "<30")
dia$race <- cfactor(dia$race, ref = "Caucasian")
dia$gender <- cfactor(dia$gender)
dia$age <- cfactor(dia$age)
dia$A1Cresult <- cfactor(dia$A1Cresult)

# dia_logit: strata  readmit30 ~ C(race, ref=Caucasian) + gender + age + rcs(num_medications, 4)
#                     + number_inpatient*gender + log1p(number_emergency) + A1Cresult
d <- dia
run("dia_logit", glm(readmit30 ~ race + gender + age + rcs(num_medications, 4) + number_inpatient * gender +
                       log1p(number_emergency) + A1Cresult, family = binomial, data = d))
# dia_poisson: strata  number_inpatient ~ age + gender + num_medications + number_diagnoses + time_in_hospital:gender
d <- dia
run("dia_poisson", glm(number_inpatient ~ age + gender + num_medications + number_diagnoses + time_in_hospital:gender,
                       family = poisson, data = d))
# dia_gamma: strata  num_lab_procedures ~ time_in_hospital + gender + rcs(num_medications, 3) + log(number_diagnoses)
d <- dia
run("dia_gamma", glm(num_lab_procedures ~ time_in_hospital + gender + rcs(num_medications, 3) + log(number_diagnoses),
                     family = Gamma(link = "log"), data = d))
# dia_gauss_w: strata  num_medications ~ time_in_hospital + age + gender - 1, weights number_diagnoses
d <- dia
run("dia_gauss_w", glm(num_medications ~ time_in_hospital + age + gender - 1, family = gaussian,
                       weights = number_diagnoses, data = d))

## --- flchain (7,874 subjects) -----------------------------------------------
fl <- rd("r_survival_datasets/flchain.csv")
fl$sex <- cfactor(fl$sex)
fl$flc_grp <- cfactor(fl$flc.grp)      # byte-wise: "1" "10" "2" ... "9"
fl$futime[fl$futime <= 0] <- NA        # strata test loads futime <= 0 as missing
# fl_poisson: strata  death ~ rcs(age, 4) + sex + log(kappa) + log(lambda) + age:sex + offset(log(futime))
d <- fl
run("fl_poisson", glm(death ~ rcs(age, 4) + sex + log(kappa) + log(lambda) + age:sex + offset(log(futime)),
                      family = poisson, data = d))
# fl_logit: strata  death ~ age*sex + creatinine + flc_grp + rcs(kappa, 5)
d <- fl
run("fl_logit", glm(death ~ age * sex + creatinine + flc_grp + rcs(kappa, 5), family = binomial, data = d))
# fl_collinear: strata  death ~ age + sex + kappa + kappa2  (kappa2 = 2*kappa: aliased, reported as NA)
d <- fl; d$kappa2 <- 2 * d$kappa
run("fl_collinear", glm(death ~ age + sex + kappa + kappa2, family = binomial, data = d))

write.csv(do.call(rbind, out_coef), file.path(out_dir, "glm_coef.csv"), row.names = FALSE, quote = TRUE)
write.csv(do.call(rbind, out_sum), file.path(out_dir, "glm_summary.csv"), row.names = FALSE, quote = TRUE)

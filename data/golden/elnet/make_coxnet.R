# data/golden/elnet/make_coxnet.R — golden fixtures for the penalised Cox tests (tests/test_elnet_cox.c):
# glmnet 4.1-6 (Debian r-cran-glmnet) family = "cox" (Fortran coxnet: Breslow ties) with
# thresh = 1e-14 on real public survival data in ../shared/data/r_survival_datasets.
# Run from the repository root:  Rscript data/golden/elnet/make_coxnet.R
# Writes (beside this script):
#   coxnet_<data>_data.csv   design columns x_*, time (days), status (0/1), w (case weight), fold (1..5)
#   coxnet_cases.csv         one glmnet() call per row: data, alpha, weights, penalty factors, lambda, cv
#   coxnet_<data>_path.csv   per case and step: lambda, dev_ratio_path, nulldev (the 1e-14 path);
#                            dev_ratio and every coefficient (original scale, 17 digits) from the
#                            refit on the same lambdas at THRESH_COEF
#   coxnet_cv.csv            cv.glmnet(foldid = fold, type.measure = "deviance") curves
#   coxnet_cv_summary.csv    lambda.min, lambda.1se and their 1-based indices
# Time is passed to glmnet in years (days / 365.25): glmnet orders a censored row after an
# event at the same time by adding 100 * .Machine$double.eps to censored times, which rounding
# swallows for times above ~128, leaving the tie to its quicksort; in years the shift always
# takes effect, and the order of the times (all the partial likelihood sees) is that of the days.
suppressMessages({library(glmnet); library(survival)})
args <- commandArgs(trailingOnly = TRUE)
data_dir <- if (length(args) >= 1) args[1] else "../shared/data"
out_dir <- if (length(args) >= 2) args[2] else "data/golden/elnet"
THRESH <- 1e-14
THRESH_COEF <- 1e-22
g17 <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))
rd <- function(rel) read.csv(file.path(data_dir, rel), stringsAsFactors = FALSE, check.names = FALSE)
syn_w <- function(n) 0.5 + ((seq_len(n) * 7919) %% 4) / 2          # 0.5, 1, 1.5, 2
fold_of <- function(n) (seq_len(n) * 7919) %% 5 + 1

## --- lung (NCCTG advanced lung cancer): complete cases, 167 rows -------------------------
lu <- rd("r_survival_datasets/lung.csv"); lu <- lu[complete.cases(lu), ]
lung_df <- data.frame(x_age = lu$age, x_sex = lu$sex, x_ph_ecog = lu$ph.ecog, x_ph_karno = lu$ph.karno,
                      x_pat_karno = lu$pat.karno, x_meal_cal = lu$meal.cal, x_wt_loss = lu$wt.loss,
                      time = lu$time, status = lu$status - 1, w = syn_w(nrow(lu)), fold = fold_of(nrow(lu)))

## --- flchain: the first 800 complete cases (creatinine recorded, futime > 0) -----------
fl <- rd("r_survival_datasets/flchain.csv"); fl <- fl[!is.na(fl$creatinine) & fl$futime > 0, ][1:800, ]
grp <- sapply(2:10, function(l) as.numeric(fl$flc.grp == l)); colnames(grp) <- sprintf("x_flc_grp%02d", 2:10)
fl_df <- data.frame(x_age = fl$age, x_sexM = as.numeric(fl$sex == "M"), x_sample_yr = fl$sample.yr,
                    x_kappa = fl$kappa, x_lambda = fl$lambda, x_creatinine = fl$creatinine, x_mgus = fl$mgus,
                    grp, time = fl$futime, status = fl$death, w = syn_w(nrow(fl)), fold = fold_of(nrow(fl)))

cases <- data.frame(
  id = c("lung_a1", "lung_a05_wpf", "fl_a1_w", "fl_a05_pf", "lung_ulam"),
  data = c("lung", "lung", "fl", "fl", "lung"),
  weights = c(0, 1, 1, 0, 0),
  alpha = c(1, 0.5, 1, 0.5, 0.8),
  penalty = c("", "x_age=0;x_sex=2", "", "x_mgus=0.5;x_age=0", ""),
  lambda = c("", "", "", "", "0.2;0.1;0.05;0.02;0.01;0.005"),
  cv = c(1, 0, 1, 0, 0), stringsAsFactors = FALSE)

datasets <- list(lung = lung_df, fl = fl_df)
xcols <- function(d) grep("^x_", names(d), value = TRUE)
pf_vector <- function(spec, xn) {   # "x_a=0;x_b=2" -> a factor per column, 1 unless named
  kv <- if (nzchar(spec)) do.call(rbind, strsplit(strsplit(spec, ";")[[1]], "=")) else matrix("", 0, 2)
  ifelse(xn %in% kv[, 1], as.numeric(kv[match(xn, kv[, 1]), 2]), 1)
}
call_args <- function(cs) {
  d <- datasets[[cs$data]]; xn <- xcols(d)
  a <- list(x = as.matrix(d[, xn]), y = Surv(d$time / 365.25, d$status), family = "cox", alpha = cs$alpha,
            penalty.factor = pf_vector(cs$penalty, xn), thresh = THRESH)
  if (cs$weights == 1) a$weights <- d$w
  if (nzchar(cs$lambda)) a$lambda <- as.numeric(strsplit(cs$lambda, ";")[[1]])
  a
}

paths <- list(); cvc <- list(); cvs <- list()
for (k in seq_len(nrow(cases))) {
  cs <- cases[k, ]; a <- call_args(cs)
  fit <- do.call(glmnet, a)
  refit <- do.call(glmnet, modifyList(a, list(lambda = fit$lambda, thresh = THRESH_COEF, maxit = 1e8)))
  B <- as.matrix(coef(refit))
  paths[[cs$id]] <- data.frame(id = cs$id, step = seq_along(fit$lambda), lambda = g17(fit$lambda),
    dev_ratio = g17(refit$dev.ratio), dev_ratio_path = g17(fit$dev.ratio), nulldev = g17(fit$nulldev),
    matrix(g17(t(B)), ncol = nrow(B), dimnames = list(NULL, paste0("b", seq_len(nrow(B))))),
    check.names = FALSE, stringsAsFactors = FALSE)
  if (cs$cv == 1) {
    cv <- do.call(cv.glmnet, c(a, list(foldid = datasets[[cs$data]]$fold, type.measure = "deviance")))
    cvc[[cs$id]] <- data.frame(id = cs$id, step = seq_along(cv$lambda), lambda = g17(cv$lambda),
      cvm = g17(cv$cvm), cvsd = g17(cv$cvsd), nzero = cv$nzero)
    cvs[[cs$id]] <- data.frame(id = cs$id, lambda_min = g17(cv$lambda.min), lambda_1se = g17(cv$lambda.1se),
      index_min = cv$index[1], index_1se = cv$index[2])
  }
}

wr <- function(df, name) write.csv(df, file.path(out_dir, name), row.names = FALSE, quote = FALSE)
wr(lung_df, "coxnet_lung_data.csv")
wr(fl_df, "coxnet_fl_data.csv")
wr(cases, "coxnet_cases.csv")
for (dn in names(datasets))
  wr(do.call(rbind, paths[cases$id[cases$data == dn]]), sprintf("coxnet_%s_path.csv", dn))
wr(do.call(rbind, cvc), "coxnet_cv.csv")
wr(do.call(rbind, cvs), "coxnet_cv_summary.csv")

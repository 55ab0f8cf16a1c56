# data/golden/elnet/make_elnet.R — golden fixtures for the elastic-net tests (tests/test_elnet.c):
# glmnet 4.1-6 (Debian r-cran-glmnet) with thresh = 1e-14 on real public data in ../shared/data.
# Run from the repository root:  Rscript data/golden/elnet/make_elnet.R
# It writes the derived design (factors expanded with treatment contrasts, levels sorted
# byte-wise, reference = first level) so the C tests read the very same X, y, w, offset, fold:
#   elnet_<data>_data.csv   the design columns x_*, responses, weights, offsets, fold id (1..5)
#   elnet_cases.csv         one glmnet() call per row: data, family, response, weights, offset,
#                           alpha, penalty factors ("col=w;..."), nlambda, lambda.min.ratio, lambda
#   elnet_<data>_path.csv   per case and step: lambda, nulldev and dev_ratio_path (thresh 1e-14);
#                           dev_ratio, a0 and every coefficient (original scale, 17 significant
#                           digits; 0 when not in the model) from the refit at THRESH_COEF
#   elnet_cv.csv            cv.glmnet(foldid = fold) curves: lambda, cvm, cvsd, nzero
#   elnet_cv_summary.csv    lambda.min, lambda.1se and their 1-based indices
suppressMessages(library(glmnet))
args <- commandArgs(trailingOnly = TRUE)
data_dir <- if (length(args) >= 1) args[1] else "../shared/data"
out_dir <- if (length(args) >= 2) args[2] else "data/golden/elnet"
THRESH <- 1e-14
# glmnet at thresh = 1e-14 is itself only accurate to ~1e-4 (scaled) at some lambdas: compared with
# a refit at 1e-22 its coefficients differ by up to 3e-4 of the step's largest (near-collinear
# indicator columns make coordinate descent converge slowly). The path (lambda
# sequence, early stop, dev.ratio) and the CV runs use 1e-14; the coefficients written are those of
# the refit on the same lambdas at THRESH_COEF, accurate enough for a 1e-6 comparison.
THRESH_COEF <- 1e-22

rd <- function(rel) read.csv(file.path(data_dir, rel), na.strings = c("?", "NA", "", "Unknown/Invalid"),
                             stringsAsFactors = FALSE, check.names = FALSE)
g17 <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))
# Treatment-coded indicator columns x_<var>_<level> for every level but the first (byte-wise order).
expand <- function(d, v) {
  lev <- sort(unique(d[[v]]), method = "radix")
  out <- sapply(lev[-1], function(l) as.numeric(d[[v]] == l))
  colnames(out) <- paste0("x_", v, "_", gsub("[^A-Za-z0-9]+", "", lev[-1]))
  out
}

## --- UCI diabetes 130-US: the first 8,000 encounters with race, gender recorded ---------
dia <- rd("uci_diabetes_130us/diabetic_data.csv")
dia <- dia[!is.na(dia$race) & !is.na(dia$gender), ][1:8000, ]
dia$admission_type <- ifelse(dia$admission_type_id %in% c(1, 2, 3), as.character(dia$admission_type_id), "other")
num <- c("time_in_hospital", "num_medications", "number_outpatient", "number_emergency",
         "number_inpatient", "number_diagnoses")
X <- cbind(as.matrix(dia[, num]), do.call(cbind, lapply(c("race", "gender", "age", "admission_type",
           "max_glu_serum", "A1Cresult", "insulin", "metformin", "change", "diabetesMed"), function(v) expand(dia, v))))
colnames(X)[seq_along(num)] <- paste0("x_", num)
X <- X[, apply(X, 2, function(z) length(unique(z)) > 1)]
dia_df <- data.frame(X, y_lab = dia$num_lab_procedures, y_readmit = as.integer(dia$readmitted == "<30"),
                     y_proc = dia$num_procedures, w_diag = dia$number_diagnoses,
                     fold = (seq_len(nrow(X)) * 7919) %% 5 + 1, check.names = FALSE)

## --- flchain: complete cases (creatinine recorded, futime > 0) --------------------------
fl <- rd("r_survival_datasets/flchain.csv")
fl <- fl[!is.na(fl$creatinine) & fl$futime > 0, ]
fl$flc_grp <- sprintf("%02d", fl$flc.grp)
XF <- cbind(x_age = fl$age, x_sexM = as.numeric(fl$sex == "M"), x_sample_yr = fl$sample.yr, x_kappa = fl$kappa,
            x_lambda = fl$lambda, x_creatinine = fl$creatinine, x_mgus = fl$mgus, expand(fl, "flc_grp"))
fl_df <- data.frame(XF, y_death = fl$death, off_logyears = g17(log(fl$futime / 365.25)),
                    fold = (seq_len(nrow(XF)) * 7919) %% 5 + 1, check.names = FALSE)

## --- the cases ----------------------------------------------------------------------------
cases <- data.frame(
  id = c("dia_gaussian_a1", "dia_gaussian_a05", "dia_gaussian_a005",
         "dia_binomial_a1", "dia_binomial_a05", "dia_binomial_a005",
         "dia_poisson_a1", "dia_poisson_a05", "dia_poisson_a005",
         "dia_gaussian_wpf", "dia_binomial_wpf", "dia_poisson_wpf",
         "dia_binomial_ulam", "fl_binomial_a1", "fl_poisson_off_a05"),
  data = c(rep("dia", 13), "fl", "fl"),
  family = c(rep(c("gaussian", "binomial", "poisson"), each = 3), "gaussian", "binomial", "poisson",
             "binomial", "binomial", "poisson"),
  y = c(rep(c("y_lab", "y_readmit", "y_proc"), each = 3), "y_lab", "y_readmit", "y_proc", "y_readmit",
        "y_death", "y_death"),
  weights = c(rep("", 9), rep("w_diag", 3), "", "", ""),
  offset = c(rep("", 14), "off_logyears"),
  alpha = c(rep(c(1, 0.5, 0.05), 3), 0.5, 0.5, 0.5, 0.3, 1, 0.5),
  penalty = c(rep("", 9), rep("x_number_inpatient=0;x_time_in_hospital=2;x_gender_Male=0.5", 3), "", "", ""),
  nlambda = c(rep(100, 14), 60),
  lmr = c(rep(NA, 14), 1e-3),
  lambda = c(rep("", 12), "0.2;0.1;0.05;0.02;0.01;0.005;0.002;0.001", "", ""),
  cv = c(0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0),
  stringsAsFactors = FALSE)

datasets <- list(dia = dia_df, fl = fl_df)
xcols <- function(d) grep("^x_", names(d), value = TRUE)
pf_vector <- function(spec, xn) {
  pf <- rep(1, length(xn))
  if (nzchar(spec)) for (kv in strsplit(spec, ";")[[1]]) {
    s <- strsplit(kv, "=")[[1]]; pf[match(s[1], xn)] <- as.numeric(s[2])
  }
  pf
}
call_args <- function(cs) {
  d <- datasets[[cs$data]]; xn <- xcols(d)
  a <- list(x = as.matrix(d[, xn]), y = d[[cs$y]], family = cs$family, alpha = cs$alpha,
            penalty.factor = pf_vector(cs$penalty, xn), thresh = THRESH, nlambda = cs$nlambda)
  if (nzchar(cs$weights)) a$weights <- d[[cs$weights]]
  if (nzchar(cs$offset)) a$offset <- as.numeric(d[[cs$offset]])
  if (!is.na(cs$lmr)) a$lambda.min.ratio <- cs$lmr
  if (nzchar(cs$lambda)) a$lambda <- as.numeric(strsplit(cs$lambda, ";")[[1]])
  a
}

paths <- list(dia = list(), fl = list()); cvc <- list(); cvs <- list()
for (k in seq_len(nrow(cases))) {
  cs <- cases[k, ]; a <- call_args(cs)
  fit <- do.call(glmnet, a)
  refit <- do.call(glmnet, modifyList(a, list(lambda = fit$lambda, thresh = THRESH_COEF, maxit = 1e8)))
  B <- as.matrix(coef(refit))
  paths[[cs$data]][[cs$id]] <- data.frame(id = cs$id, step = seq_along(fit$lambda), lambda = g17(fit$lambda),
    dev_ratio = g17(refit$dev.ratio), dev_ratio_path = g17(fit$dev.ratio), nulldev = g17(fit$nulldev), a0 = g17(B[1, ]),
    matrix(g17(t(B[-1, , drop = FALSE])), ncol = nrow(B) - 1, dimnames = list(NULL, rownames(B)[-1])),
    check.names = FALSE, stringsAsFactors = FALSE)
  if (cs$cv == 1) {
    measures <- if (cs$family == "binomial") c("deviance", "auc") else if (cs$family == "gaussian") "mse" else "deviance"
    for (m in measures) {
      cv <- do.call(cv.glmnet, c(a, list(foldid = datasets[[cs$data]]$fold, type.measure = m)))
      cvc[[paste(cs$id, m)]] <- data.frame(id = cs$id, measure = m, step = seq_along(cv$lambda),
        lambda = g17(cv$lambda), cvm = g17(cv$cvm), cvsd = g17(cv$cvsd), nzero = cv$nzero)
      cvs[[paste(cs$id, m)]] <- data.frame(id = cs$id, measure = m, lambda_min = g17(cv$lambda.min),
        lambda_1se = g17(cv$lambda.1se), index_min = cv$index[1], index_1se = cv$index[2])
    }
  }
}

wr <- function(df, name) write.csv(df, file.path(out_dir, name), row.names = FALSE, quote = FALSE)
wr(dia_df, "elnet_dia_data.csv")
wr(fl_df, "elnet_fl_data.csv")
cases$lmr <- ifelse(is.na(cases$lmr), "", format(cases$lmr))
wr(cases, "elnet_cases.csv")
for (d in names(paths)) wr(do.call(rbind, paths[[d]]), sprintf("elnet_%s_path.csv", d))
wr(do.call(rbind, cvc), "elnet_cv.csv")
wr(do.call(rbind, cvs), "elnet_cv_summary.csv")

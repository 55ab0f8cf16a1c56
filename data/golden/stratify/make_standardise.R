# data/golden/stratify/make_standardise.R — golden values for age
# standardisation, written out from PHEindicatormethods' documented methods
# (the package is not in Debian; base R 4.2.2 only):
#   byars_lower/byars_upper (R/Byars.R), calculate_dsr / phe_dsr with the 2013
#   European Standard Population and Dobson limits (R/DSR.R), calculate_ISRatio
#   (exact limits below 10 observed events, Byar from 10; R/ISRatio.R), and
#   phe_sii's point SII/RII on directly standardised rates by decile with the
#   se of log(DSR) from the 95% limits (R/SII_function.R).
# Run from this directory: Rscript make_standardise.R
options(digits = 17)
wcsv <- function(d, f) write.csv(d, f, row.names = FALSE, quote = FALSE)

esp2013 <- c(5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000, 7000,
             6500, 6000, 5500, 5000, 4000, 2500, 1500, 1000)

byars_lower <- function(x, confidence = 0.95) {
  z <- qnorm(confidence + (1 - confidence) / 2)
  x * (1 - 1 / (9 * x) - z / (3 * sqrt(x)))^3
}
byars_upper <- function(x, confidence = 0.95) {
  z <- qnorm(confidence + (1 - confidence) / 2)
  (x + 1) * (1 - 1 / (9 * (x + 1)) + z / (3 * sqrt(x + 1)))^3
}

# phe_dsr for one group: NA below 10 events
dsr <- function(x, n, stdpop = esp2013, confidence = 0.95, multiplier = 100000) {
  O <- sum(x)
  value <- sum(x * stdpop / n) / sum(stdpop) * multiplier
  vardsr <- 1 / sum(stdpop)^2 * sum(x * (stdpop / n)^2)
  lo <- value + sqrt(vardsr / O) * (byars_lower(O, confidence) - O) * multiplier
  hi <- value + sqrt(vardsr / O) * (byars_upper(O, confidence) - O) * multiplier
  if (O < 10) value <- lo <- hi <- NA
  c(total_count = O, value = value, lowercl = lo, uppercl = hi)
}

# calculate_ISRatio for one group: exact below 10 observed, Byar from 10
isr <- function(x, n, x_ref, n_ref, confidence = 0.95) {
  O <- sum(x)
  E <- sum(x_ref / n_ref * n)
  if (O < 10) {
    lo <- qchisq((1 - confidence) / 2, 2 * O) / 2 / E
    hi <- qchisq(confidence + (1 - confidence) / 2, 2 * O + 2) / 2 / E
  } else {
    lo <- byars_lower(O, confidence) / E
    hi <- byars_upper(O, confidence) / E
  }
  c(observed = O, expected = E, value = O / E, lowercl = lo, uppercl = hi)
}

# 1. Byar's limits
b <- expand.grid(x = c(1, 2, 9, 10, 37, 250, 12345), level = c(0.95, 0.998))
b$lower <- mapply(byars_lower, b$x, b$level)
b$upper <- mapply(byars_upper, b$x, b$level)
wcsv(b, "byars.csv")

# 2. twelve groups x 19 ESP bands: events and populations (fixed seed)
set.seed(20240601)
groups <- 12
pop <- matrix(0, groups, 19)
ev <- matrix(0, groups, 19)
rate <- c(0.002, 0.001, 0.001, 0.002, 0.004, 0.005, 0.006, 0.008, 0.010, 0.013,
          0.017, 0.022, 0.030, 0.042, 0.060, 0.085, 0.120, 0.170, 0.240)
for (g in 1:groups) {
  scale <- c(40, 4, 1, 0.3, 10, 25, 60, 8, 2, 120, 15, 0.6)[g]
  pop[g, ] <- pmax(1, round(scale * c(60, 62, 64, 60, 66, 70, 74, 72, 70, 72, 74,
                                      70, 64, 58, 52, 40, 28, 16, 8) * runif(19, 0.7, 1.3)))
  ev[g, ] <- rbinom(19, pop[g, ], pmin(0.9, rate * (0.6 + g / 10)))
}
long <- data.frame(group = rep(1:groups, each = 19), band = rep(1:19, groups),
                   x = as.vector(t(ev)), n = as.vector(t(pop)))
wcsv(long, "dsr_data.csv")

d <- do.call(rbind, lapply(1:groups, function(g)
  rbind(c(group = g, level = 0.95, dsr(ev[g, ], pop[g, ], confidence = 0.95)),
        c(group = g, level = 0.998, dsr(ev[g, ], pop[g, ], confidence = 0.998)))))
wcsv(as.data.frame(d), "dsr_expected.csv")

# 3. ISR of each group against the twelve together (age bands)
x_ref <- colSums(ev)
n_ref <- colSums(pop)
s <- do.call(rbind, lapply(1:groups, function(g)
  rbind(c(group = g, level = 0.95, isr(ev[g, ], pop[g, ], x_ref, n_ref, 0.95)),
        c(group = g, level = 0.998, isr(ev[g, ], pop[g, ], x_ref, n_ref, 0.998)))))
wcsv(as.data.frame(s), "isr_expected.csv")

# 4. SII/RII (phe_sii point estimates) of the DSR across the first ten groups
#    as deciles (most deprived first): population share a, cumulative-rank
#    midpoint b, weighted regression of DSR on b; RII = (b0 + b1) / b0.
deciles <- 1:10
v <- sapply(deciles, function(g) dsr(ev[g, ], pop[g, ])["value"])
lo <- sapply(deciles, function(g) dsr(ev[g, ], pop[g, ])["lowercl"])
hi <- sapply(deciles, function(g) dsr(ev[g, ], pop[g, ])["uppercl"])
keep <- !is.na(v)
popd <- rowSums(pop)[deciles][keep]
a <- popd / sum(popd)
bmid <- cumsum(a) - a / 2
fit <- lm(I(v[keep] * sqrt(a)) ~ 0 + sqrt(a) + I(bmid * sqrt(a)))
sii <- unname(coef(fit)[2])
rii <- unname((coef(fit)[1] + coef(fit)[2]) / coef(fit)[1])
se_log <- (log(hi) - log(lo)) / (2 * qnorm(0.975))
wcsv(data.frame(decile = deciles[keep], pop = popd, dsr = v[keep], se_log = se_log[keep]),
     "sii_dsr_data.csv")
wcsv(data.frame(sii = sii, rii = rii, deciles_used = sum(keep)), "sii_dsr_expected.csv")

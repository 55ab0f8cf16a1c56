# data/golden/stratify/make_stratify.R — golden values for the stratify
# statistics, computed with base R 4.2.2 (stats): exact Poisson CIs
# (poisson.test, qchisq), gamma/normal quantiles, O/E funnel limits with and
# without DerSimonian-Laird overdispersion (written out following FunnelPlotR's
# method), and SII/RII following PHEindicatormethods' phe_sii.
# Run from this directory: Rscript make_stratify.R
options(digits = 17)
wcsv <- function(d, f) write.csv(d, f, row.names = FALSE, quote = FALSE)

# 1. quantiles
g <- expand.grid(p = c(1e-10, 0.001, 0.025, 0.5, 0.975, 0.999, 1 - 1e-10),
                 a = c(0.05, 0.5, 1, 3.5, 10, 123.4, 5000))
g$q <- qgamma(g$p, g$a)
wcsv(g, "qgamma.csv")
n <- data.frame(p = c(1e-300, 1e-20, 1e-5, 0.001, 0.025, 0.3, 0.5, 0.8, 0.975, 0.999, 1 - 1e-12))
n$q <- qnorm(n$p)
wcsv(n, "qnorm.csv")
c2 <- data.frame(p = c(0.025, 0.975, 0.001, 0.999), df = c(2, 14, 51, 2000))
c2$q <- qchisq(c2$p, c2$df)
wcsv(c2, "qchisq.csv")

# 2. exact Poisson CIs (poisson.test == qchisq(a/2, 2x)/2, qchisq(1-a/2, 2x+2)/2)
pc <- expand.grid(obs = c(0, 1, 2, 5, 7, 10, 37, 250, 12345), level = c(0.95, 0.998))
pc$lo <- mapply(function(x, l) poisson.test(x, conf.level = l)$conf.int[1], pc$obs, pc$level)
pc$hi <- mapply(function(x, l) poisson.test(x, conf.level = l)$conf.int[2], pc$obs, pc$level)
wcsv(pc, "poisson_ci.csv")

# 3. funnel: 20 units with fixed O and E
units <- data.frame(
  obs = c(12, 45, 30, 8, 80, 22, 10, 120, 41, 2, 20, 90, 28, 17, 70, 6, 50, 45, 35, 10),
  expected = c(10.2, 25.7, 52.3, 9.9, 48.1, 20.4, 19.8, 75.5, 40.2, 7.4,
               35.1, 58.2, 16.3, 30.9, 47.7, 14.2, 33.3, 71.9, 22.8, 16.1))
wcsv(units, "funnel_units.csv")
dl_tau2 <- function(o, e, trim, method) {
  z <- sqrt(e) * log(o / e)
  q <- quantile(z, c(trim, 1 - trim), type = 7)
  w <- e
  if (method == "shmi") {
    keep <- z >= q[1] & z <= q[2]
    z <- z[keep]; w <- w[keep]
  } else {
    z <- pmin(pmax(z, q[1]), q[2])
  }
  k <- length(z)
  phi <- sum(z^2) / k
  tau2 <- if (k * phi < k - 1) 0 else (k * phi - (k - 1)) / (sum(w) - sum(w^2) / sum(w))
  c(phi = phi, tau2 = tau2, k = k)
}
fw <- dl_tau2(units$obs, units$expected, 0.1, "winsorise")
fs <- dl_tau2(units$obs, units$expected, 0.1, "shmi")
wcsv(data.frame(method = c("winsorise", "shmi"), phi = c(fw["phi"], fs["phi"]),
                tau2 = c(fw["tau2"], fs["tau2"]), k = c(fw["k"], fs["k"])), "funnel_tau2.csv")
lim <- expand.grid(expected = c(0.5, 3, 10, 47.7, 250, 4000), level = c(0.95, 0.998))
lim$lo_poisson <- qchisq((1 - lim$level) / 2, 2 * lim$expected) / 2 / lim$expected
lim$hi_poisson <- qchisq((1 + lim$level) / 2, 2 * (lim$expected + 1)) / 2 / lim$expected
zq <- qnorm((1 + lim$level) / 2)
lim$lo_od <- exp(-zq * sqrt(1 / lim$expected + fw["tau2"]))
lim$hi_od <- exp(zq * sqrt(1 / lim$expected + fw["tau2"]))
wcsv(lim, "funnel_limits.csv")

# 4. SII / RII (PHEindicatormethods phe_sii method; value_type 0 and 1)
sii_data <- data.frame(quantile = 1:10,
  pop = c(9800, 10400, 11200, 9900, 10050, 10700, 9600, 10100, 10900, 9300),
  value = c(0.182, 0.171, 0.160, 0.151, 0.139, 0.133, 0.121, 0.118, 0.104, 0.097),
  se = c(0.0042, 0.0040, 0.0037, 0.0038, 0.0036, 0.0035, 0.0035, 0.0033, 0.0031, 0.0031))
wcsv(sii_data, "sii_data.csv")
phe_sii_like <- function(d, value_type, multiplier, reps = 100000, conf = 0.95) {
  a <- d$pop / sum(d$pop)
  b <- cumsum(a) - a / 2
  fit <- lm(d$value ~ b, weights = a)
  b0 <- coef(fit)[[1]]; b1 <- coef(fit)[[2]]
  rii <- (b0 + b1) / b0
  if (multiplier < 0) rii <- 1 / rii
  set.seed(1)
  mu <- if (value_type == 1) log(d$value) else d$value
  y <- matrix(rnorm(reps * nrow(d), mu, d$se), ncol = reps)
  if (value_type == 1) y <- exp(y)
  m <- rbind(sqrt(a), b * sqrt(a))
  inv <- solve(m %*% t(m)) %*% m
  par <- inv %*% (y * sqrt(a))
  sii_s <- sort(multiplier * par[2, ])
  rii_s <- (par[2, ] + par[1, ]) / par[1, ]
  if (multiplier < 0) rii_s <- 1 / rii_s
  rii_s <- sort(rii_s)
  cv <- conf + (1 - conf) / 2
  lo <- round(reps * (1 - cv)); hi <- round(reps * cv)
  c(sii = multiplier * b1, sii_lo = sii_s[lo], sii_hi = sii_s[hi],
    rii = rii, rii_lo = rii_s[lo], rii_hi = rii_s[hi])
}
s0 <- phe_sii_like(sii_data, 0, 1)
s1 <- phe_sii_like(transform(sii_data, se = se / value), 1, -100)
wcsv(data.frame(case = c("other_x1", "rate_x-100"), value_type = c(0, 1),
                multiplier = c(1, -100), rbind(s0, s1)), "sii_expected.csv")

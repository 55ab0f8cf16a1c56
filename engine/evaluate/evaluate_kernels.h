/* engine/evaluate/evaluate_kernels.h — the metric kernels, included twice by
 * evaluate_metrics.c: once for views in memory (EVK(name) = name_mem, EV_AT
 * the position itself), once for views on file (name_file, EV_AT loading the
 * window that holds the position). One source, so one arithmetic: the two
 * instances read the same values in the same order and give the same bytes;
 * the memory instance keeps the in-memory path free of the window checks.
 * Not a header of its own: no include guard, nothing else includes it. */

/* ---- discrimination --------------------------------------------------- */

/* The tie group of p that starts at position k: the weights of its cases
 * (g1) and controls (g0), summed in view order, and counts of each added to
 * n1 and n0; returns the position after it. */
static size_t EVK(tie_group)(ev_cur *c, size_t k, double *g1, double *g0, size_t *n1, size_t *n0)
{
    size_t j, m = c->v->m;
    double pk = c->p[EV_AT(c, k)];
    *g1 = *g0 = 0.0;
    for (j = k; j < m; j++) {
        size_t q = EV_AT(c, j);
        double wq = EV_CW(c, q);
        if (c->p[q] != pk)
            break; /* the tie group ends */
        if (wq <= 0.0)
            continue;
        if (c->y[q] > 0.0) {
            *g1 += wq;
            ++*n1;
        } else {
            *g0 += wq;
            ++*n0;
        }
    }
    return j;
}

/* Walks the tie groups of p twice: first the Mann–Whitney sum with ties
 * counted 1/2, then the DeLong (1988) placement-value variances, which are
 * constant within a tie group. Weights act as case multiplicities. */
static void EVK(ev_auc)(const ev_view *v, double *auc, double *se)
{
    ev_cur c = ev_cur_of(v);
    double w1 = 0.0, w0 = 0.0, num = 0.0, cum0 = 0.0, cum1 = 0.0, s10 = 0.0, s01 = 0.0, a;
    size_t k, j, m1 = 0, m0 = 0;
    *auc = NAN;
    *se = NAN;
    for (k = 0; k < v->m; k = j) {
        double g1, g0;
        j = EVK(tie_group)(&c, k, &g1, &g0, &m1, &m0);
        num += g1 * (cum0 + 0.5 * g0);
        cum0 += g0;
        w1 += g1;
        w0 += g0;
    }
    if (!(w1 > 0.0 && w0 > 0.0))
        return;
    a = num / (w1 * w0);
    *auc = a;
    if (w1 <= 1.0 || w0 <= 1.0 || m1 < 2 || m0 < 2)
        return;
    cum0 = 0.0;
    for (k = 0; k < v->m; k = j) {
        double g1, g0, v10, v01;
        size_t n1 = 0, n0 = 0;
        j = EVK(tie_group)(&c, k, &g1, &g0, &n1, &n0);
        v10 = (cum0 + 0.5 * g0) / w0;            /* share of controls below a case */
        v01 = ((w1 - cum1 - g1) + 0.5 * g1) / w1; /* share of cases above a control */
        s10 += g1 * (v10 - a) * (v10 - a);
        s01 += g0 * (v01 - a) * (v01 - a);
        cum0 += g0;
        cum1 += g1;
    }
    s10 /= (w1 - 1.0);
    s01 /= (w0 - 1.0);
    *se = sqrt(s10 / w1 + s01 / w0);
}

/* ---- recalibration fits ----------------------------------------------- */

/* Score U, Fisher information H (upper triangle) and deviance at (a, b).
 * Canonical links (binomial, poisson, gaussian): U = sum w (y - mu) x, H =
 * sum w V(mu) x x'. Gamma with its log link: U = sum w (y - mu)/mu x, H = sum
 * w x x' (Fisher scoring, as R's glm; the dispersion enters the SEs only). */
static void EVK(recal_pass)(const ev_view *v, strata_family f, int slope, double a, double b,
                       int want_dev, double u[2], double h[3], double *dev)
{
    ev_cur c = ev_cur_of(v);
    /* offset fits need no exp per row: mu = p e^a / (1 - p + p e^a) etc. */
    double ea = f == STRATA_FAMILY_BINOMIAL                                  ? exp(-a)
                : f == STRATA_FAMILY_POISSON || f == STRATA_FAMILY_GAMMA ? exp(a)
                                                                             : a;
    u[0] = u[1] = h[0] = h[1] = h[2] = *dev = 0.0;
    for (size_t k0 = 0; k0 < v->m; k0 += EV_BLOCK) {
        size_t k1 = k0 + EV_BLOCK < v->m ? k0 + EV_BLOCK : v->m;
        double bu0 = 0, bu1 = 0, bh0 = 0, bh1 = 0, bh2 = 0, bd = 0;
        const size_t *ix = NULL;
        const double *wy = NULL, *wp = NULL, *wlp = NULL, *ww = NULL;
        size_t w0 = 0;
        for (size_t k = k0, seg = k0; k < k1; k++) {
            size_t q;
            double wq, x, eta, mu, var, r;
            if (k == seg) { /* the window holding k, and where it ends: no check per row */
                (void)EV_AT(&c, k);
                seg = c.k0 + c.n < k1 ? c.k0 + c.n : k1;
                ix = c.ix, wy = c.y, wp = c.p, wlp = c.lp, ww = c.w, w0 = c.k0;
            }
            q = ix ? ix[k - w0] : k - w0;
            wq = ww ? ww[q] : 1.0;
            x = wlp[q];
            (void)eta;
            if (wq <= 0.0)
                continue;
            if (slope) {
                eta = a + b * x;
                mu = ev_inv_link(f, eta);
            } else {
                double pq = wp[q];
                mu = f == STRATA_FAMILY_BINOMIAL                                  ? pq / (pq + (1.0 - pq) * ea)
                     : f == STRATA_FAMILY_POISSON || f == STRATA_FAMILY_GAMMA ? pq * ea
                                                                                  : pq + ea;
            }
            var = f == STRATA_FAMILY_BINOMIAL ? mu * (1.0 - mu)
                  : f == STRATA_FAMILY_POISSON ? mu : 1.0;
            r = f == STRATA_FAMILY_GAMMA ? wq * (wy[q] - mu) / mu : wq * (wy[q] - mu);
            bu0 += r;
            bu1 += r * x;
            bh0 += wq * var;
            bh1 += wq * var * x;
            bh2 += wq * var * x * x;
            if (want_dev)
                bd += wq * unit_dev(f, wy[q], mu);
        }
        u[0] += bu0;
        u[1] += bu1;
        h[0] += bh0;
        h[1] += bh1;
        h[2] += bh2;
        *dev += bd;
    }
}

/* Pearson chi-square sum w (y - mu)^2 / mu^2 of the gamma recalibration fit at (a, b). */
static double EVK(gamma_pearson)(const ev_view *v, int slope, double a, double b)
{
    ev_cur c = ev_cur_of(v);
    double x2 = 0.0;
    for (size_t k = 0; k < v->m; k++) {
        size_t q = EV_AT(&c, k);
        double wq = EV_CW(&c, q), mu, d;
        if (wq <= 0.0)
            continue;
        mu = slope ? exp(a + b * c.lp[q]) : c.p[q] * exp(a);
        d = (c.y[q] - mu) / mu;
        x2 += wq * d * d;
    }
    return x2;
}

/* Plain Newton from (0, 1) first: canonical links converge quadratically from
 * there, and skipping the deviance halves the cost. If a step fails to shrink
 * or anything turns non-finite, restart guarded: deviance each pass and
 * step-halving whenever it rises. */
static int EVK(ev_recal)(const ev_view *v, strata_family f, int slope, int max_iter, double tol,
             double coef[2], double se[2])
{
    ev_cur c = ev_cur_of(v);
    double a, b, pa, pb, u[2] = {0, 0}, h[3] = {0, 0, 0};
    double dev = NAN, pdev, disp = 1.0, det, plast, prev;
    int it, halvings, converged = 0, guarded;
    size_t nrows = 0;
    for (guarded = 0; guarded < 2 && !converged; guarded++) {
        a = pa = 0.0;
        b = pb = slope ? 1.0 : 0.0;
        pdev = INFINITY;
        plast = prev = INFINITY;
        halvings = 0;
        for (it = 0; it < max_iter + 30; it++) {
            double da, db, step;
            EVK(recal_pass)(v, f, slope, a, b, guarded, u, h, &dev);
            if (guarded &&
                (!isfinite(dev) || (dev > pdev * (1.0 + 1e-13) + 1e-300 && halvings < 30))) {
                a = 0.5 * (a + pa); /* step-halving when the deviance rises */
                b = 0.5 * (b + pb);
                halvings++;
                continue;
            }
            if (it - halvings >= max_iter)
                break;
            if (slope) {
                det = h[0] * h[2] - h[1] * h[1];
                if (!(det > 0.0))
                    break;
                da = (h[2] * u[0] - h[1] * u[1]) / det;
                db = (h[0] * u[1] - h[1] * u[0]) / det;
            } else {
                if (!(h[0] > 0.0))
                    break;
                da = u[0] / h[0];
                db = 0.0;
            }
            step = fabs(da) + fabs(db);
            if (!guarded && (!isfinite(step) || (it >= 2 && step > plast)))
                break; /* not contracting: retry guarded */
            prev = plast;
            plast = step;
            pa = a;
            pb = b;
            pdev = dev;
            a += da;
            b += db;
            /* converged: the step is below tol, or below sqrt(tol) while contracting
             * quadratically (the next step would be below tol). Fisher scoring of
             * gamma's non-canonical log link contracts only linearly: tol alone. */
            if ((fabs(da) <= tol * (1.0 + fabs(a)) && fabs(db) <= tol * (1.0 + fabs(b))) ||
                (f != STRATA_FAMILY_GAMMA && step < 1e-3 * prev &&
                 fabs(da) <= sqrt(tol) * (1.0 + fabs(a)) &&
                 fabs(db) <= sqrt(tol) * (1.0 + fabs(b)))) {
                converged = 1;
                EVK(recal_pass)(v, f, slope, a, b, f == STRATA_FAMILY_GAUSSIAN, u, h, &dev);
                break;
            }
        }
    }
    coef[0] = a;
    coef[1] = slope ? b : NAN;
    se[0] = se[1] = NAN;
    if (ev_measure_outcome(f)) {
        /* dispersion as R's summary.glm: Pearson chi-square / residual df (rows);
         * for the gaussian that is the residual deviance */
        for (size_t k = 0; k < v->m; k++)
            nrows += EV_CW(&c, EV_AT(&c, k)) > 0.0;
        if (f == STRATA_FAMILY_GAMMA)
            dev = EVK(gamma_pearson)(v, slope, a, b);
        disp = nrows > (size_t)(1 + slope) ? dev / (double)(nrows - (size_t)(1 + slope)) : NAN;
    }
    if (slope) {
        det = h[0] * h[2] - h[1] * h[1];
        if (det > 0.0) {
            se[0] = sqrt(disp * h[2] / det);
            se[1] = sqrt(disp * h[0] / det);
        }
    } else if (h[0] > 0.0) {
        se[0] = sqrt(disp / h[0]);
    }
    return converged;
}

/* ---- calibration tables ------------------------------------------------ */

/* Risk groups cut at type-7 quantiles of p (as R's quantile()), intervals
 * closed on the right, the first also on the left; equal breaks merged;
 * empty groups dropped. */
static void EVK(risk_groups)(const ev_view *v, const strata_eval_params *par, strata_eval_metrics *m)
{
    ev_cur c = ev_cur_of(v);
    int g = par->n_bins, nb = 0, j;
    double brk[258];
    size_t k = 0, nrow = v->m;
    if (nrow == 0 || g < 1)
        return;
    for (j = 0; j <= g; j++) {
        double hq = (double)(nrow - 1) * (double)j / (double)g;
        size_t lo = (size_t)floor(hq);
        double frac = hq - (double)lo, x = c.p[EV_AT(&c, lo)];
        if (frac > 0.0 && lo + 1 < nrow)
            x += frac * (c.p[EV_AT(&c, lo + 1)] - x);
        brk[j] = x;
    }
    for (j = 1; j <= g; j++) {
        strata_eval_bin b = {0.0, 0.0, 0.0, INFINITY, -INFINITY};
        if (j < g && brk[j] == brk[j + 1])
            continue; /* duplicate break: merge with the next group */
        for (; k < nrow && (j == g || c.p[EV_AT(&c, k)] <= brk[j]); k++) {
            size_t q = EV_AT(&c, k);
            double wq = EV_CW(&c, q);
            if (wq <= 0.0)
                continue;
            b.n += wq;
            b.observed += wq * c.y[q];
            b.expected += wq * c.p[q];
            if (c.p[q] < b.p_min)
                b.p_min = c.p[q];
            if (c.p[q] > b.p_max)
                b.p_max = c.p[q];
        }
        if (b.n > 0.0)
            m->bins[nb++] = b;
    }
    m->n_bins = nb;
    if (par->family == STRATA_FAMILY_BINOMIAL && nb > 2) {
        double chi = 0.0;
        for (j = 0; j < nb; j++) {
            const strata_eval_bin *b = &m->bins[j];
            double d = b->observed - b->expected;
            chi += d * d / (b->expected * (1.0 - b->expected / b->n));
        }
        m->hl_chi2 = chi;
        m->hl_df = nb - 2;
        m->hl_p = ev_pchisq_upper(chi, (double)(nb - 2));
    }
}

/* Top fraction of predicted risk; the tie group at the cut is taken pro rata. */
static void EVK(yield_at)(const ev_view *v, double frac, double total_w, double total_obs,
                     int binary, strata_eval_yield *out)
{
    ev_cur c = ev_cur_of(v);
    double want = frac * total_w, got = 0.0, obs = 0.0, cut = NAN;
    size_t k = v->m;
    while (k > 0 && got < want) {
        double pk = c.p[EV_AT(&c, k - 1)], gw = 0.0, go = 0.0, take;
        while (k > 0 && c.p[EV_AT(&c, k - 1)] == pk) {
            size_t q = EV_AT(&c, k - 1);
            double wq = EV_CW(&c, q);
            if (wq > 0.0) {
                gw += wq;
                go += wq * c.y[q];
            }
            k--;
        }
        if (gw <= 0.0)
            continue;
        take = want - got < gw ? (want - got) / gw : 1.0;
        got += take * gw;
        obs += take * go;
        cut = pk;
    }
    out->frac = frac;
    out->n_flagged = got;
    out->observed = obs;
    out->sensitivity = total_obs > 0.0 ? obs / total_obs : NAN;
    out->ppv = got > 0.0 ? obs / got : NAN;
    out->nns = binary && obs > 0.0 ? got / obs : NAN;
    out->p_cut = cut;
}


/* Net benefit (Vickers & Elkin 2006): treat when p >= t. */
static void EVK(net_benefit)(const ev_view *v, const strata_eval_params *par, strata_eval_metrics *m)
{
    ev_cur c = ev_cur_of(v);
    double wb = 0.0, ob = 0.0, W = m->n, O = m->observed;
    size_t k = 0, j;
    for (j = 0; j < m->n_nb; j++) {
        double t = par->nb_min + (double)j * par->nb_step, tp, fp;
        for (; k < v->m && c.p[EV_AT(&c, k)] < t; k++) {
            size_t q = EV_AT(&c, k);
            double wq = EV_CW(&c, q);
            if (wq > 0.0) {
                wb += wq;
                ob += wq * c.y[q];
            }
        }
        tp = O - ob;
        fp = (W - O) - (wb - ob);
        m->nb[j].threshold = t;
        m->nb[j].nb_model = W > 0.0 ? tp / W - fp / W * t / (1.0 - t) : NAN;
        m->nb[j].nb_all = W > 0.0 ? O / W - (1.0 - O / W) * t / (1.0 - t) : NAN;
    }
}

/* Binned Nadaraya–Watson smoother: equal-count bins of the sorted view, then
 * a Gaussian kernel in lp over the bin sums, evaluated at each bin's mean lp. */
static void EVK(calib_curve)(const ev_view *v, const strata_eval_params *par, strata_eval_metrics *m)
{
    ev_cur c = ev_cur_of(v);
    size_t nbins = (size_t)par->curve_bins < v->m ? (size_t)par->curve_bins : v->m, b, j, nc = 0;
    double sw = 0.0, slp = 0.0, slp2 = 0.0, h, mean;
    strata_eval_curve_pt *pt = m->curve;
    for (b = 0; b < nbins; b++) {
        size_t k0 = b * v->m / nbins, k1 = (b + 1) * v->m / nbins;
        double n = 0.0, o = 0.0, sp = 0.0, sx = 0.0;
        for (size_t k = k0; k < k1; k++) {
            size_t q = EV_AT(&c, k);
            double wq = EV_CW(&c, q);
            if (wq <= 0.0)
                continue;
            n += wq;
            o += wq * c.y[q];
            sp += wq * c.p[q];
            sx += wq * c.lp[q];
        }
        if (n <= 0.0)
            continue;
        pt[nc].n = n;
        pt[nc].lp_mean = sx / n;
        pt[nc].p_pred = sp / n;
        pt[nc].obs_bin = o / n;
        sw += n;
        slp += sx;
        nc++;
    }
    m->n_curve = nc;
    if (nc == 0)
        return;
    mean = slp / sw;
    for (size_t k = 0; k < v->m; k++) {
        size_t q = EV_AT(&c, k);
        double wq = EV_CW(&c, q);
        if (wq > 0.0)
            slp2 += wq * (c.lp[q] - mean) * (c.lp[q] - mean);
    }
    /* Silverman's rule on the lp scale unless a bandwidth is given */
    h = par->curve_bw > 0.0 ? par->curve_bw : 1.06 * sqrt(slp2 / sw) * pow(sw, -0.2);
    for (b = 0; b < nc; b++) {
        double num = 0.0, den = 0.0;
        if (!(h > 0.0)) {
            pt[b].obs_smooth = pt[b].obs_bin;
            continue;
        }
        for (j = 0; j < nc; j++) {
            double d = (pt[j].lp_mean - pt[b].lp_mean) / h, kw = exp(-0.5 * d * d);
            num += kw * pt[j].obs_bin * pt[j].n;
            den += kw * pt[j].n;
        }
        pt[b].obs_smooth = num / den;
    }
}


static void EVK(ev_metrics)(const ev_view *v, const strata_eval_params *par, strata_eval_metrics *m)
{
    ev_cur c = ev_cur_of(v);
    strata_family f = par->family;
    double z = strata_qnorm(0.5 + 0.5 * par->conf_level), sq = 0.0, dev = 0.0, dev0 = 0.0, ybar;
    double coef[2], se[2];
    size_t k;
    clear_metrics(m);
    for (k = 0; k < v->m; k++) {
        size_t q = EV_AT(&c, k);
        double wq = EV_CW(&c, q);
        if (wq <= 0.0)
            continue;
        m->n_rows++;
        m->n += wq;
        m->observed += wq * c.y[q];
        m->expected += wq * c.p[q];
        m->n_events += c.y[q] > 0.0 ? wq : 0.0;
        sq += wq * (c.y[q] - c.p[q]) * (c.y[q] - c.p[q]);
        dev += wq * unit_dev(f, c.y[q], c.p[q]);
    }
    if (m->n_rows == 0)
        return;
    ybar = m->observed / m->n;
    if (f == STRATA_FAMILY_BINOMIAL) { /* closed form: -2 [O log ybar + (n - O) log(1 - ybar)] */
        dev0 = (m->observed > 0.0 ? -2.0 * m->observed * log(ybar) : 0.0) +
               (m->n - m->observed > 0.0 ? -2.0 * (m->n - m->observed) * log1p(-ybar) : 0.0);
    } else {
        for (k = 0; k < v->m; k++) {
            size_t q = EV_AT(&c, k);
            double wq = EV_CW(&c, q);
            if (wq > 0.0)
                dev0 += wq * unit_dev(f, c.y[q], ybar);
        }
    }
    m->deviance = dev;
    m->null_deviance = dev0;
    m->pseudo_r2 = dev0 > 0.0 ? 1.0 - dev / dev0 : NAN;
    m->brier = sq / m->n;
    {
        double vy = 0.0;
        for (k = 0; k < v->m; k++) {
            size_t q = EV_AT(&c, k);
            double wq = EV_CW(&c, q);
            if (wq > 0.0)
                vy += wq * (c.y[q] - ybar) * (c.y[q] - ybar);
        }
        vy /= m->n;
        m->brier_scaled = vy > 0.0 ? 1.0 - m->brier / vy : NAN;
    }
    /* discrimination */
    EVK(ev_auc)(v, &m->c, &m->c_se);
    if (isfinite(m->c_se)) {
        m->c_lo = fmax(0.0, m->c - z * m->c_se);
        m->c_hi = fmin(1.0, m->c + z * m->c_se);
    }
    /* calibration in the large: O/E (Debray et al. 2017) and offset intercept */
    if (m->expected > 0.0 && m->observed > 0.0) {
        m->oe = m->observed / m->expected;
        if (f == STRATA_FAMILY_BINOMIAL || f == STRATA_FAMILY_POISSON) {
            strata_oe_log_ci(m->oe, m->observed, f == STRATA_FAMILY_BINOMIAL ? m->n : 0.0,
                             par->conf_level, &m->oe_lo, &m->oe_hi);
        } else { /* gamma, gaussian: empirical SE of O, sqrt(sum w (y - p)^2) */
            double lse = sqrt(sq) / m->observed;
            m->oe_lo = m->oe * exp(-z * lse);
            m->oe_hi = m->oe * exp(z * lse);
        }
    }
    if (!EVK(ev_recal)(v, f, 0, par->max_iter, par->tol, coef, se))
        m->flags |= STRATA_EVAL_FLAG_NOCONV;
    m->citl = coef[0];
    m->citl_se = se[0];
    m->citl_lo = coef[0] - z * se[0];
    m->citl_hi = coef[0] + z * se[0];
    if (!EVK(ev_recal)(v, f, 1, par->max_iter, par->tol, coef, se))
        m->flags |= STRATA_EVAL_FLAG_NOCONV;
    m->cal_a = coef[0];
    m->cal_a_se = se[0];
    m->slope = coef[1];
    m->slope_se = se[1];
    m->slope_lo = coef[1] - z * se[1];
    m->slope_hi = coef[1] + z * se[1];
    /* tables */
    EVK(risk_groups)(v, par, m);
    for (k = 0; k < par->n_top; k++)
        EVK(yield_at)(v, par->top_frac[k], m->n, m->observed, f == STRATA_FAMILY_BINOMIAL, &m->top[k]);
    m->n_top = par->n_top;
    m->n_nb = ev_nb_count(par);
    EVK(net_benefit)(v, par, m);
    EVK(calib_curve)(v, par, m);
}

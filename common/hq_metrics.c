/* hq_metrics: a small Prometheus registry rendered in text format 0.0.4.
 * Families are kept in registration order, each with its series in
 * registration order; a series is a family plus a fixed label string.
 * Histograms keep per-bucket counts and render them cumulatively with
 * le="+Inf", _sum and _count. Single-threaded: used from one event loop. */
#include "hq_fmacros.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hq_alloc.h"
#include "hq_metrics.h"

typedef struct hq_family hq_family;

struct hq_metric {
    hq_family *fam;      /* owning family (read-only) */
    char *labels;        /* "" when none */
    double value;        /* counter/gauge value; histogram sum */
    unsigned long long count;   /* histogram observations */
    unsigned long long *buckets; /* histogram: per-bucket (non-cumulative) counts */
    hq_metric *next;
};

struct hq_family {
    char *name;
    char *help;
    enum hq_metric_type type;
    double *bounds;      /* histogram upper bounds, ascending */
    int nbounds;
    hq_metric *series, *last;
    hq_family *next;
};

struct hq_metrics {
    hq_family *first, *last;
};

hq_metrics *hq_metrics_new(void)
{
    return hq_calloc(1, sizeof(hq_metrics));
}

void hq_metrics_free(hq_metrics *m)
{
    if (!m) return;
    hq_family *f = m->first;
    while (f) {
        hq_family *fn = f->next;
        hq_metric *s = f->series;
        while (s) {
            hq_metric *sn = s->next;
            hq_free(s->labels);
            hq_free(s->buckets);
            hq_free(s);
            s = sn;
        }
        hq_free(f->name);
        hq_free(f->help);
        hq_free(f->bounds);
        hq_free(f);
        f = fn;
    }
    hq_free(m);
}

/* Finds or creates series name{labels}. A new family takes type, help and
 * bounds from this call; later calls reuse the family's (the pointer stays
 * valid until hq_metrics_free). */
hq_metric *hq_metrics_get(hq_metrics *m, enum hq_metric_type t, const char *name,
                          const char *help, const char *labels, const double *bounds, int nbounds)
{
    if (!labels) labels = "";
    hq_family *f;
    for (f = m->first; f; f = f->next)
        if (strcmp(f->name, name) == 0) break;
    if (!f) {
        f = hq_calloc(1, sizeof *f);
        f->name = hq_strdup(name);
        f->help = hq_strdup(help ? help : "");
        f->type = t;
        if (t == HQ_HISTOGRAM && bounds && nbounds > 0) {
            f->bounds = hq_malloc(sizeof(double) * (size_t)nbounds);
            memcpy(f->bounds, bounds, sizeof(double) * (size_t)nbounds);
            f->nbounds = nbounds;
        }
        if (m->last) m->last->next = f;
        else m->first = f;
        m->last = f;
    }
    for (hq_metric *s = f->series; s; s = s->next)
        if (strcmp(s->labels, labels) == 0) return s;
    hq_metric *s = hq_calloc(1, sizeof *s);
    s->fam = f;
    s->labels = hq_strdup(labels);
    if (f->type == HQ_HISTOGRAM) s->buckets = hq_calloc((size_t)f->nbounds + 1, sizeof *s->buckets);
    if (f->last) f->last->next = s;
    else f->series = s;
    f->last = s;
    return s;
}

/* Counters ignore negative increments (they only go up); histograms ignore
 * add (use observe). */
void hq_metric_add(hq_metric *c, double v)
{
    if (!c || c->fam->type == HQ_HISTOGRAM) return;
    if (c->fam->type == HQ_COUNTER && !(v >= 0)) return;
    c->value += v;
}

void hq_metric_set(hq_metric *g, double v)
{
    if (!g || g->fam->type == HQ_HISTOGRAM) return;
    g->value = v;
}

/* Counts v in the first bucket whose bound is >= v (or only in +Inf). */
void hq_metric_observe(hq_metric *h, double v)
{
    if (!h || h->fam->type != HQ_HISTOGRAM) return;
    int i = 0;
    while (i < h->fam->nbounds && !(v <= h->fam->bounds[i])) i++;
    h->buckets[i]++;
    h->count++;
    h->value += v;
}

/* Counter/gauge value; a histogram's observation count. */
double hq_metric_value(const hq_metric *c)
{
    if (!c) return 0;
    return c->fam->type == HQ_HISTOGRAM ? (double)c->count : c->value;
}

/* Prometheus number: integers without exponent or fraction, others as the
 * shortest text that reads back to the same double; NaN, +Inf, -Inf. */
static void fmt_value(double v, char *out, size_t n)
{
    if (isnan(v)) { snprintf(out, n, "NaN"); return; }
    if (isinf(v)) { snprintf(out, n, v > 0 ? "+Inf" : "-Inf"); return; }
    if (v == floor(v) && fabs(v) < 1e17) { snprintf(out, n, "%.0f", v == 0 ? 0.0 : v); return; }
    for (int p = 1; p <= 17; p++) {
        snprintf(out, n, "%.*g", p, v);
        if (strtod(out, NULL) == v) return;
    }
}

static void series_line(hq_buf *out, const char *name, const char *suffix, const char *labels,
                        const char *extra, const char *val)
{
    hq_buf_printf(out, "%s%s", name, suffix);
    int has = labels && *labels;
    if (has || extra) {
        hq_buf_putc(out, '{');
        if (has) hq_buf_puts(out, labels);
        if (extra) hq_buf_printf(out, "%s%s", has ? "," : "", extra);
        hq_buf_putc(out, '}');
    }
    hq_buf_printf(out, " %s\n", val);
}

/* Appends the whole registry. Help text is escaped (\\ and \n) as 0.0.4 requires. */
void hq_metrics_render(hq_metrics *m, hq_buf *out)
{
    static const char *types[] = { "counter", "gauge", "histogram" };
    char v[64], le[96];
    for (hq_family *f = m->first; f; f = f->next) {
        hq_buf_printf(out, "# HELP %s ", f->name);
        for (const char *p = f->help; *p; p++) {
            if (*p == '\\') hq_buf_puts(out, "\\\\");
            else if (*p == '\n') hq_buf_puts(out, "\\n");
            else hq_buf_putc(out, *p);
        }
        hq_buf_printf(out, "\n# TYPE %s %s\n", f->name, types[f->type]);
        for (hq_metric *s = f->series; s; s = s->next) {
            if (f->type != HQ_HISTOGRAM) {
                fmt_value(s->value, v, sizeof v);
                series_line(out, f->name, "", s->labels, NULL, v);
                continue;
            }
            unsigned long long cum = 0;
            for (int i = 0; i <= f->nbounds; i++) {
                cum += s->buckets[i];
                char b[64];
                if (i < f->nbounds) fmt_value(f->bounds[i], b, sizeof b);
                else snprintf(b, sizeof b, "+Inf");
                snprintf(le, sizeof le, "le=\"%s\"", b);
                snprintf(v, sizeof v, "%llu", cum);
                series_line(out, f->name, "_bucket", s->labels, le, v);
            }
            fmt_value(s->value, v, sizeof v);
            series_line(out, f->name, "_sum", s->labels, NULL, v);
            snprintf(v, sizeof v, "%llu", s->count);
            series_line(out, f->name, "_count", s->labels, NULL, v);
        }
    }
}

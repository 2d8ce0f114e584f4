/* Prometheus metrics (text format 0.0.4). A registry of families; each series
 * is a family plus a fixed label string. Single-threaded (one loop). */
#ifndef HQ_METRICS_H
#define HQ_METRICS_H
#include "hq_buf.h"

typedef struct hq_metrics hq_metrics;
typedef struct hq_metric hq_metric;

enum hq_metric_type { HQ_COUNTER, HQ_GAUGE, HQ_HISTOGRAM };

hq_metrics *hq_metrics_new(void);
void hq_metrics_free(hq_metrics *m);
/* Registers (or finds) the series name{labels}; labels is e.g.
 * "outcome=\"delivered\"" or NULL. For histograms, bounds are the upper
 * bounds in ascending order (copied). The family's help/type come from the
 * first registration. */
hq_metric *hq_metrics_get(hq_metrics *m, enum hq_metric_type t, const char *name,
                          const char *help, const char *labels, const double *bounds, int nbounds);
void hq_metric_add(hq_metric *c, double v);      /* counter or gauge */
void hq_metric_set(hq_metric *g, double v);      /* gauge */
void hq_metric_observe(hq_metric *h, double v);  /* histogram */
double hq_metric_value(const hq_metric *c);
/* Renders every family, grouped, with # HELP and # TYPE lines. */
void hq_metrics_render(hq_metrics *m, hq_buf *out);

#endif

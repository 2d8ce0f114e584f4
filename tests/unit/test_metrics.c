/* Unit tests for hq_metrics: exact Prometheus 0.0.4 text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "hq_metrics.h"

static void test_render(void **state)
{
    (void)state;
    hq_metrics *m = hq_metrics_new();
    hq_metric *d = hq_metrics_get(m, HQ_COUNTER, "hookq_deliveries_total", "Attempts by outcome",
                                  "outcome=\"delivered\"", NULL, 0);
    hq_metric *f = hq_metrics_get(m, HQ_COUNTER, "hookq_deliveries_total", "ignored", "outcome=\"failed\"", NULL, 0);
    hq_metric *g = hq_metrics_get(m, HQ_GAUGE, "hookq_inflight", "In flight", NULL, NULL, 0);
    static const double bounds[] = { 0.005, 0.1, 1 };
    hq_metric *h = hq_metrics_get(m, HQ_HISTOGRAM, "hookq_latency_seconds", "Latency", NULL, bounds, 3);
    hq_metric *h2 = hq_metrics_get(m, HQ_HISTOGRAM, "hookq_latency_seconds", "Latency", "a=\"b\"", NULL, 0);
    assert_ptr_equal(hq_metrics_get(m, HQ_COUNTER, "hookq_deliveries_total", "x", "outcome=\"delivered\"", NULL, 0), d);
    hq_metric_add(d, 12);
    hq_metric_add(d, -5); /* counters never go down */
    hq_metric_add(f, 1);
    hq_metric_set(g, 3);
    hq_metric_add(g, -1);
    hq_metric_observe(h, 0.001);
    hq_metric_observe(h, 0.005);
    hq_metric_observe(h, 0.5);
    hq_metric_observe(h, 7);
    hq_metric_observe(h2, 0.25);
    assert_true(hq_metric_value(d) == 12);
    assert_true(hq_metric_value(g) == 2);
    assert_true(hq_metric_value(h) == 4);
    hq_buf b;
    hq_buf_init(&b, 0);
    hq_metrics_render(m, &b);
    const char *want =
        "# HELP hookq_deliveries_total Attempts by outcome\n"
        "# TYPE hookq_deliveries_total counter\n"
        "hookq_deliveries_total{outcome=\"delivered\"} 12\n"
        "hookq_deliveries_total{outcome=\"failed\"} 1\n"
        "# HELP hookq_inflight In flight\n"
        "# TYPE hookq_inflight gauge\n"
        "hookq_inflight 2\n"
        "# HELP hookq_latency_seconds Latency\n"
        "# TYPE hookq_latency_seconds histogram\n"
        "hookq_latency_seconds_bucket{le=\"0.005\"} 2\n"
        "hookq_latency_seconds_bucket{le=\"0.1\"} 2\n"
        "hookq_latency_seconds_bucket{le=\"1\"} 3\n"
        "hookq_latency_seconds_bucket{le=\"+Inf\"} 4\n"
        "hookq_latency_seconds_sum 7.506\n"
        "hookq_latency_seconds_count 4\n"
        "hookq_latency_seconds_bucket{a=\"b\",le=\"0.005\"} 0\n"
        "hookq_latency_seconds_bucket{a=\"b\",le=\"0.1\"} 0\n"
        "hookq_latency_seconds_bucket{a=\"b\",le=\"1\"} 1\n"
        "hookq_latency_seconds_bucket{a=\"b\",le=\"+Inf\"} 1\n"
        "hookq_latency_seconds_sum{a=\"b\"} 0.25\n"
        "hookq_latency_seconds_count{a=\"b\"} 1\n";
    assert_string_equal(b.data, want);
    hq_buf_free(&b);
    hq_metrics_free(m);
}

static void test_values(void **state)
{
    (void)state;
    hq_metrics *m = hq_metrics_new();
    hq_metric *g = hq_metrics_get(m, HQ_GAUGE, "g", "help \\ with\nnewline", "", NULL, 0);
    hq_metric_set(g, 1e15);
    hq_buf b;
    hq_buf_init(&b, 0);
    hq_metrics_render(m, &b);
    assert_string_equal(b.data, "# HELP g help \\\\ with\\nnewline\n# TYPE g gauge\ng 1000000000000000\n");
    hq_buf_reset(&b);
    hq_metric_set(g, 0.1);
    hq_metrics_render(m, &b);
    assert_non_null(strstr(b.data, "\ng 0.1\n"));
    hq_buf_reset(&b);
    hq_metric_set(g, -0.0);
    hq_metrics_render(m, &b);
    assert_non_null(strstr(b.data, "\ng 0\n"));
    hq_buf_free(&b);
    hq_metrics_free(m);
    hq_metrics_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

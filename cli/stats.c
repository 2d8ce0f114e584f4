/* cli_stats: "hookq stats [--watch] [--interval S]" over GET /v1/stats
 * (SPEC 6). One view: a table per shard (stream length, consumer-group lag,
 * pending, retry-set size, next retry due, dead) with an "all" row, the live
 * workers, the totals and, in --watch mode, throughput computed from the
 * change of each total between two refreshes divided by the monotonic time
 * between them. --watch renders each view into memory first and writes it
 * in one go, after an ANSI clear-screen only when stdout is a terminal
 * (piped output gets one view after another). SIGINT/SIGTERM end the loop,
 * also in the middle of a request, and exit 0. Fields the view doesn't know
 * are printed as "key: value" lines, so nothing the API adds is hidden. */
#include "hq_fmacros.h"
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "hq_alloc.h"
#include "hq_buf.h"
#include "hq_time.h"
#include "cli.h"

#define K_SHARD "shard|id|index"
#define K_STREAM "stream_length|length|stream_len|xlen|stream"
#define K_LAG "lag|consumer_lag"
#define K_PENDING "pending|pel"
#define K_RETRY "retry_scheduled|retry|retry_size|retrying|retry_set"
#define K_DUE "retry_next_due|next_due|next_due_at|next_retry_at"
#define K_DEAD "dead|dead_count"

static volatile int stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* A due time as epoch ms: an integer, or RFC 3339 text (what the API
 * sends). 0 or -1 (null, or another shape). */
static int due_ms(const json_t *v, int64_t *ms)
{
    int frac;
    if (json_is_integer(v)) {
        *ms = json_integer_value(v);
        return 0;
    }
    if (json_is_string(v) && hq_parse_rfc3339(json_string_value(v), ms, &frac) == 0) return 0;
    return -1;
}

/* "in 12s" / "now" for a due time; other shapes as they are. */
static char *due_cell(const json_t *v, int64_t now)
{
    if (!v) return NULL;
    int64_t due;
    if (due_ms(v, &due) != 0) return cli_fmt("next_due", v);
    int64_t d = due - now;
    char buf[48], dur[32];
    if (d <= 0) return hq_strdup("now");
    hq_format_duration(d >= 1000 ? d / 1000 * 1000 : d, dur, sizeof dur);
    snprintf(buf, sizeof buf, "in %s", dur);
    return hq_strdup(buf);
}

/* Adds v to *sum when it is an integer; marks *have. */
static void add(json_int_t *sum, int *have, const json_t *v)
{
    if (json_is_integer(v)) {
        *sum += json_integer_value(v);
        *have = 1;
    }
}

static char *int_cell(json_int_t v, int have)
{
    if (!have) return NULL;
    char b[32];
    snprintf(b, sizeof b, "%" JSON_INTEGER_FORMAT, v);
    return hq_strdup(b);
}

static void shard_row(cli_table *t, const json_t *s, const char *key, int64_t now)
{
    char *cells[7] = {
        cli_fmt("shard", cli_field(s, K_SHARD)),
        cli_fmt("stream", cli_field(s, K_STREAM)),
        cli_fmt("lag", cli_field(s, K_LAG)),
        cli_fmt("pending", cli_field(s, K_PENDING)),
        cli_fmt("retry", cli_field(s, K_RETRY)),
        due_cell(cli_field(s, K_DUE), now),
        cli_fmt("dead", cli_field(s, K_DEAD)),
    };
    if (!cells[0] && key) cells[0] = hq_strdup(key);
    cli_table_row(t, (const char *const *)cells);
    for (int i = 0; i < 7; i++) hq_free(cells[i]);
}

/* The shards table; falls back to a generic one for an unknown shape. */
static void print_shards(FILE *f, const json_t *shards, int64_t now)
{
    const json_t *first = NULL;
    if (json_is_array(shards)) first = json_array_get(shards, 0);
    else if (json_is_object(shards)) {
        void *it = json_object_iter((json_t *)shards);
        first = it ? json_object_iter_value(it) : NULL;
    }
    if (first && !cli_field(first, K_STREAM "|" K_LAG "|" K_PENDING "|" K_RETRY "|" K_DEAD)) {
        if (json_is_array(shards)) cli_print_generic_table(f, shards);
        else cli_print_json(f, shards);
        return;
    }
    static const char *const heads[] = { "SHARD", "STREAM", "LAG", "PENDING", "RETRY", "NEXT DUE", "DEAD" };
    cli_table *t = cli_table_new(7, heads);
    json_int_t sum[5] = { 0 };
    int have[5] = { 0 };
    const json_t *min_due = NULL;
    size_t i;
    const char *k;
    json_t *s;
#define ACCOUNT(S)                                                                          \
    do {                                                                                    \
        add(&sum[0], &have[0], cli_field(S, K_STREAM));                                     \
        add(&sum[1], &have[1], cli_field(S, K_LAG));                                        \
        add(&sum[2], &have[2], cli_field(S, K_PENDING));                                    \
        add(&sum[3], &have[3], cli_field(S, K_RETRY));                                      \
        add(&sum[4], &have[4], cli_field(S, K_DEAD));                                       \
        json_t *due_ = cli_field(S, K_DUE);                                                 \
        int64_t dm_, mm_;                                                                   \
        if (due_ms(due_, &dm_) == 0 && (!min_due || (due_ms(min_due, &mm_) == 0 && dm_ < mm_))) \
            min_due = due_;                                                                 \
    } while (0)
    if (json_is_array(shards)) {
        json_array_foreach(shards, i, s) {
            shard_row(t, s, NULL, now);
            ACCOUNT(s);
        }
    } else if (json_is_object(shards)) {
        json_object_foreach((json_t *)shards, k, s) {
            shard_row(t, s, k, now);
            ACCOUNT(s);
        }
    }
#undef ACCOUNT
    if (cli_table_rows(t) > 1) {
        char *cells[7] = {
            hq_strdup("all"), int_cell(sum[0], have[0]), int_cell(sum[1], have[1]),
            int_cell(sum[2], have[2]), int_cell(sum[3], have[3]), due_cell(min_due, now),
            int_cell(sum[4], have[4]),
        };
        cli_table_row(t, (const char *const *)cells);
        for (int j = 0; j < 7; j++) hq_free(cells[j]);
    }
    cli_table_print(t, f);
}

/* Workers: a list (table) or a count. */
static void print_workers(FILE *f, const json_t *w)
{
    if (json_is_array(w)) {
        fprintf(f, "\nLive workers: %zu\n", json_array_size(w));
        /* the epoch-ms "started"/"seen" repeat started_at/last_seen_at */
        json_t *rows = json_deep_copy(w);
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row) {
            if (json_is_object(row) && json_object_get(row, "started_at")) json_object_del(row, "started");
            if (json_is_object(row) && json_object_get(row, "last_seen_at")) json_object_del(row, "seen");
        }
        if (json_array_size(rows)) cli_print_generic_table(f, rows);
        json_decref(rows);
    } else if (w) {
        char *s = cli_fmt("workers", w);
        fprintf(f, "\nLive workers: %s\n", s);
        hq_free(s);
    }
}

/* Totals as one line, then the throughput since the previous view. */
static void print_totals(FILE *f, const json_t *tot, const json_t *prev, double secs)
{
    if (!json_is_object(tot)) return;
    const char *k;
    json_t *v;
    fprintf(f, "\nTotals:     ");
    json_object_foreach((json_t *)tot, k, v) {
        char *s = cli_fmt(k, v);
        fprintf(f, "  %s %s", k, s);
        hq_free(s);
    }
    fputc('\n', f);
    if (!json_is_object(prev) || secs <= 0) return;
    fprintf(f, "Throughput: ");
    json_object_foreach((json_t *)tot, k, v) {
        json_t *p = json_object_get(prev, k);
        if (!json_is_number(v) || !json_is_number(p)) continue;
        double rate = (json_number_value(v) - json_number_value(p)) / secs;
        if (rate < 0) rate = 0;  /* a counter reset (Redis flushed) is not negative traffic */
        fprintf(f, "  %s %.1f/s", k, rate);
    }
    fputc('\n', f);
}

/* The whole view. prev_totals/secs are NULL/0 outside --watch. */
static void render(FILE *f, const json_t *st, const json_t *prev_totals, double secs)
{
    if (!json_is_object(st)) {
        cli_print_json(f, st);
        return;
    }
    int64_t now = hq_now_ms();
    json_t *shards = json_object_get(st, "shards");
    json_t *workers = cli_field(st, "workers|live_workers");
    json_t *totals = json_object_get(st, "totals");
    if (shards) print_shards(f, shards, now);
    print_workers(f, workers);
    print_totals(f, totals, prev_totals, secs);
    /* anything else the API sends */
    json_t *rest = json_deep_copy(st);
    json_object_del(rest, "shards");
    json_object_del(rest, "workers");
    json_object_del(rest, "live_workers");
    json_object_del(rest, "totals");
    if (json_object_size(rest)) {
        fputc('\n', f);
        cli_print_detail(f, rest, NULL);
    }
    json_decref(rest);
}

/* --interval: seconds (decimals allowed) or a duration ("500ms"), 0.1s..1d. */
static int parse_interval(const char *s, int64_t *ms)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end != s && *end == 0 && errno == 0 && isfinite(d)) {
        *ms = (int64_t)(d * 1000.0 + 0.5);
    } else if (hq_parse_duration(s, ms) < 0) {
        return -1;
    }
    return *ms >= 100 && *ms <= 86400000 ? 0 : -1;
}

/* Sleeps ms, waking early when a signal sets stop. */
static void nap(int64_t ms)
{
    uint64_t until = hq_mono_ns() + (uint64_t)ms * 1000000ULL;
    while (!stop) {
        uint64_t now = hq_mono_ns();
        if (now >= until) break;
        uint64_t left = until - now;
        if (left > 100000000ULL) left = 100000000ULL;
        struct timespec ts = { (time_t)(left / 1000000000ULL), (long)(left % 1000000000ULL) };
        nanosleep(&ts, NULL);
    }
}

static int watch(cli_ctx *c, int64_t interval_ms)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;  /* no SA_RESTART: sleeps and polls wake up */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    cli_api_set_abort_flag(&stop);

    int tty = isatty(STDOUT_FILENO);
    json_t *prev = NULL;
    uint64_t prev_ns = 0;
    int ok_once = 0;
    while (!stop) {
        cli_resp r;
        int rc = cli_call(c, "GET", "/v1/stats", NULL, &r);
        uint64_t now_ns = hq_mono_ns();
        if (stop) {
            cli_resp_free(&r);
            break;
        }
        if (rc != CLI_EXIT_OK) {
            cli_resp_free(&r);
            if (!ok_once) {  /* wrong token or no API at all: don't loop on it */
                json_decref(prev);
                return rc;
            }
            nap(interval_ms);
            continue;
        }
        ok_once = 1;
        if (c->json) {
            /* one answer per line */
            json_t *v = r.json;
            if (v) {
                char *s = json_dumps(v, JSON_COMPACT);
                printf("%s\n", s ? s : "null");
                free(s);
            } else {
                cli_print_raw(&r);
            }
            fflush(stdout);
        } else {
            char *buf = NULL;
            size_t len = 0;
            FILE *m = open_memstream(&buf, &len);
            if (!m) {
                cli_resp_free(&r);
                json_decref(prev);
                fprintf(stderr, "%s: out of memory\n", CLI_NAME);
                return CLI_EXIT_USAGE;
            }
            char ts[32];
            hq_rfc3339(hq_now_ms(), ts);
            fprintf(m, "hookq stats  %s  %s  every %.1fs  (Ctrl-C to quit)\n\n", c->api, ts,
                    (double)interval_ms / 1000.0);
            json_t *tot = json_object_get(r.json, "totals");
            render(m, r.json, prev, prev ? (double)(now_ns - prev_ns) / 1e9 : 0);
            fclose(m);
            if (tty) fputs("\033[H\033[2J", stdout);
            fwrite(buf, 1, len, stdout);
            if (!tty) fputc('\n', stdout);
            fflush(stdout);
            free(buf);
            json_decref(prev);
            prev = json_is_object(tot) ? json_deep_copy(tot) : NULL;
            prev_ns = now_ns;
        }
        cli_resp_free(&r);
        nap(interval_ms);
    }
    json_decref(prev);
    return CLI_EXIT_OK;
}

int cli_stats(cli_ctx *c, cli_args *a)
{
    if (a->npos) return cli_usage_error(c, "unexpected argument '%s'", a->pos[0]);
    int64_t interval_ms = 1000;
    const char *iv = cli_arg(a, "interval");
    if (iv && !cli_has(a, "watch")) return cli_usage_error(c, "--interval needs --watch");
    if (iv && parse_interval(iv, &interval_ms) < 0)
        return cli_usage_error(c, "--interval: expected seconds between 0.1 and 86400, got '%s'", iv);
    if (cli_has(a, "watch")) return watch(c, interval_ms);

    cli_resp r;
    int rc = cli_call(c, "GET", "/v1/stats", NULL, &r);
    if (rc == CLI_EXIT_OK) {
        if (c->json) cli_print_raw(&r);
        else render(stdout, r.json, NULL, 0);
    }
    cli_resp_free(&r);
    return rc;
}

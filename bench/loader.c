/* bench/loader: publishes events to hookq-producer for benchmarks (issue 5).
 *
 * Sends --events N events as POST /v1/events/batch requests of --batch events
 * (default 1000), --concurrency C batches in flight (default 4), optionally
 * paced to --rate events/s. Each event is {"type","org_id","data"} with data
 * {"seq":n,"blob":"xxx…"} sized so the delivered body is about --size bytes.
 * The producer makes the ids; for every item answered 2xx the loader records
 * to --log the TSV line "sent_us<TAB>answered_us<TAB>id" (CLOCK_REALTIME µs:
 * when its batch was sent, when the batch answer arrived), which scripts/bench
 * joins with the receiver's arrival log for end-to-end latency. An event is
 * accepted somewhere between the two, so with big batches a delivery can
 * arrive before its batch answer does.
 *
 * Output: a JSON line on stdout {"events","accepted","rejected","http_errors",
 * "deliveries","seconds","events_per_s"}; exit 1 if nothing was accepted. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <jansson.h>

static struct {
    const char *url;
    const char *token;
    long long events;
    int batch;
    int concurrency;
    size_t size;
    const char *type;
    const char *org;
    const char *log;
    double rate;
} opt = { NULL, NULL, 10000, 1000, 4, 1024, "bench.event", "bench", NULL, 0 };

static long long next_seq, accepted, rejected, http_errors, deliveries;
static FILE *logf;
static char auth_hdr[512];

struct req {
    CURL *easy;
    struct curl_slist *hdrs;
    char *body;
    char *resp;
    size_t resp_len, resp_cap;
    int nevents;
    int64_t sent_us;             /* when this batch was handed to curl */
    char err[CURL_ERROR_SIZE];
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t on_data(char *p, size_t sz, size_t n, void *u)
{
    struct req *r = u;
    size_t len = sz * n;
    if (r->resp_len + len + 1 > r->resp_cap) {
        r->resp_cap = (r->resp_len + len + 1) * 2;
        r->resp = realloc(r->resp, r->resp_cap);
        if (!r->resp) abort();
    }
    memcpy(r->resp + r->resp_len, p, len);
    r->resp_len += len;
    r->resp[r->resp_len] = 0;
    return len;
}

/* Builds the next batch body into r->body; returns the number of events in it. */
static int build_batch(struct req *r)
{
    static char *blob;
    static size_t blob_len;
    if (!blob) {
        blob_len = opt.size > 200 ? opt.size - 160 : 16;
        blob = malloc(blob_len + 1);
        if (!blob) abort();
        memset(blob, 'x', blob_len);
        blob[blob_len] = 0;
    }
    long long left = opt.events - next_seq;
    int n = left < opt.batch ? (int)left : opt.batch;
    size_t cap = (size_t)n * (blob_len + 200) + 64;
    r->body = realloc(r->body, cap);
    if (!r->body) abort();
    size_t o = (size_t)sprintf(r->body, "{\"events\":[");
    for (int i = 0; i < n; i++) {
        o += (size_t)sprintf(r->body + o, "%s{\"type\":\"%s\",\"org_id\":\"%s\",\"data\":{\"seq\":%lld,\"blob\":\"%s\"}}",
                             i ? "," : "", opt.type, opt.org, next_seq++, blob);
    }
    o += (size_t)sprintf(r->body + o, "]}");
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, (long)o);
    r->nevents = n;
    r->resp_len = 0;
    return n;
}

static void finish(struct req *r, CURLcode rc)
{
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    int64_t t = now_us();
    if (rc != CURLE_OK || (code != 202 && code != 207 && code != 200)) {
        http_errors++;
        rejected += r->nevents;
        if (http_errors <= 5)
            fprintf(stderr, "loader: batch failed: %s HTTP %ld %.300s\n", rc != CURLE_OK ? r->err : "", code,
                    r->resp ? r->resp : "");
        return;
    }
    json_error_t je;
    json_t *root = json_loadb(r->resp, r->resp_len, 0, &je);
    json_t *results = root ? json_object_get(root, "results") : NULL;
    if (!json_is_array(results)) {
        http_errors++;
        rejected += r->nevents;
        fprintf(stderr, "loader: unexpected answer: %.300s\n", r->resp ? r->resp : "");
        json_decref(root);
        return;
    }
    size_t i;
    json_t *it;
    json_array_foreach(results, i, it) {
        json_int_t st = json_integer_value(json_object_get(it, "status"));
        const char *id = json_string_value(json_object_get(it, "id"));
        json_t *d = json_object_get(it, "deliveries");
        if (st >= 200 && st < 300 && id) {
            accepted++;
            if (json_is_integer(d)) deliveries += json_integer_value(d);
            if (logf) fprintf(logf, "%" PRId64 "\t%" PRId64 "\t%s\n", r->sent_us, t, id);
        } else {
            rejected++;
            if (rejected <= 5) {
                char *s = json_dumps(it, JSON_COMPACT);
                fprintf(stderr, "loader: item rejected: %.300s\n", s ? s : "?");
                free(s);
            }
        }
    }
    json_decref(root);
}

static void usage(void)
{
    fprintf(stderr, "usage: loader --url http://HOST:PORT --token T [--events N=10000] [--batch 1000]\n"
                    "              [--concurrency 4] [--size 1024] [--type bench.event] [--org bench]\n"
                    "              [--rate EVENTS_PER_S] [--log accept.tsv]\n");
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) { usage(); return 0; }
        const char *v = i + 1 < argc ? argv[++i] : NULL;
        if (!v) { usage(); return 2; }
        char *end = NULL;
        if (strcmp(a, "--url") == 0) opt.url = v;
        else if (strcmp(a, "--token") == 0) opt.token = v;
        else if (strcmp(a, "--events") == 0) opt.events = strtoll(v, &end, 10);
        else if (strcmp(a, "--batch") == 0) opt.batch = (int)strtol(v, &end, 10);
        else if (strcmp(a, "--concurrency") == 0) opt.concurrency = (int)strtol(v, &end, 10);
        else if (strcmp(a, "--size") == 0) opt.size = strtoul(v, &end, 10);
        else if (strcmp(a, "--type") == 0) opt.type = v;
        else if (strcmp(a, "--org") == 0) opt.org = v;
        else if (strcmp(a, "--log") == 0) opt.log = v;
        else if (strcmp(a, "--rate") == 0) opt.rate = strtod(v, &end);
        else { fprintf(stderr, "loader: unknown option %s\n", a); usage(); return 2; }
        if (end && *end) { fprintf(stderr, "loader: bad value for %s: '%s'\n", a, v); return 2; }
    }
    if (!opt.url || !opt.token || opt.batch < 1 || opt.concurrency < 1) { usage(); return 2; }
    if (opt.log) {
        logf = fopen(opt.log, "w");
        if (!logf) { perror(opt.log); return 2; }
    }
    snprintf(auth_hdr, sizeof auth_hdr, "Authorization: Bearer %s", opt.token);
    char url[1024];
    snprintf(url, sizeof url, "%s/v1/events/batch", opt.url);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    struct req *reqs = calloc((size_t)opt.concurrency, sizeof *reqs);
    if (!reqs) abort();
    for (int i = 0; i < opt.concurrency; i++) {
        struct req *r = &reqs[i];
        r->easy = curl_easy_init();
        r->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
        r->hdrs = curl_slist_append(r->hdrs, "Expect:");
        r->hdrs = curl_slist_append(r->hdrs, auth_hdr);
        curl_easy_setopt(r->easy, CURLOPT_URL, url);
        curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->hdrs);
        curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
        curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->err);
        curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, 60000L);
    }
    double t0 = mono();
    int active = 0;
    int *idle = calloc((size_t)opt.concurrency, sizeof *idle);
    for (int i = 0; i < opt.concurrency; i++) idle[i] = 1;
    for (;;) {
        /* Start batches on idle slots, honouring --rate. */
        for (int i = 0; i < opt.concurrency && next_seq < opt.events; i++) {
            if (!idle[i]) continue;
            if (opt.rate > 0 && mono() < t0 + (double)next_seq / opt.rate) break;
            build_batch(&reqs[i]);
            reqs[i].sent_us = now_us();
            curl_multi_add_handle(multi, reqs[i].easy);
            idle[i] = 0;
            active++;
        }
        if (active == 0 && next_seq >= opt.events) break;
        int running;
        curl_multi_perform(multi, &running);
        CURLMsg *m;
        int left, freed = 0;
        while ((m = curl_multi_info_read(multi, &left))) {
            if (m->msg != CURLMSG_DONE) continue;
            struct req *r = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
            finish(r, m->data.result);
            curl_multi_remove_handle(multi, m->easy_handle);
            idle[r - reqs] = 1;
            active--;
            freed = 1;
        }
        /* a slot just became free: fill it now rather than after the next
         * poll (which may wait for another transfer, or 100 ms) */
        if (freed && next_seq < opt.events && opt.rate <= 0)
            continue;
        int wait_ms = 100;
        if (opt.rate > 0 && next_seq < opt.events) {
            double due = t0 + (double)next_seq / opt.rate - mono();
            wait_ms = due <= 0 ? 0 : (int)(due * 1000) + 1;
            if (wait_ms > 100) wait_ms = 100;
        }
        if (active > 0) curl_multi_poll(multi, NULL, 0, wait_ms, NULL);
        else if (wait_ms > 0) {
            struct timespec ts = { 0, (long)wait_ms * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
    double secs = mono() - t0;
    if (logf) fclose(logf);
    printf("{\"events\":%lld,\"accepted\":%lld,\"rejected\":%lld,\"http_errors\":%lld,\"deliveries\":%lld,"
           "\"seconds\":%.3f,\"events_per_s\":%.1f}\n",
           opt.events, accepted, rejected, http_errors, deliveries, secs, secs > 0 ? (double)accepted / secs : 0.0);
    for (int i = 0; i < opt.concurrency; i++) {
        curl_easy_cleanup(reqs[i].easy);
        curl_slist_free_all(reqs[i].hdrs);
        free(reqs[i].body);
        free(reqs[i].resp);
    }
    free(reqs);
    free(idle);
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    return accepted > 0 ? 0 : 1;
}

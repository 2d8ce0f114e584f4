/* libFuzzer target: differential check of the producer's event body fast
 * path (producer/evscan.c) against the jansson path it stands in for. Every
 * input is fed, as the same bytes, to both readers in both body shapes:
 *  - POST /v1/events: producer_evscan_event + validate_scanned against
 *    producer_parse_body's hq_json_parse (an object) + producer_event_validate;
 *  - POST /v1/events/batch: producer_evscan_batch + validate_scanned per
 *    event against hq_json_parse + the "events" array check + validate_json
 *    per element (the input as is, and wrapped as {"events":[<input>]}).
 * Whenever evscan ACCEPTS a body, the jansson path must accept it too and
 * agree on everything the request's answer and the stored event depend on:
 * the number of events, every scanned field (kind and bytes), whether
 * "data" is an object and its canonical text byte for byte (hq_json_dumps),
 * and each event's validation outcome (0, or the same field and message)
 * and resulting id, created_at, ts_ms, type, org_id. Otherwise it aborts.
 * A body evscan declines is not compared: events.c then runs the jansson
 * path itself.
 *
 * The static functions events.c uses (validate_scanned, validate_json,
 * event_defaults) are reached by including producer/events.c into this
 * file; this target links every other producer source (tests/fuzz/
 * CMakeLists.txt). Generated ids and default timestamps come from one
 * event_defaults copied before each path, so both must draw the same. */
#include "../../producer/events.c"

#include <stdint.h>

static const uint8_t *g_body;
static size_t g_len;
static int g_verbose = -1;    /* FUZZ_EVSCAN_VERBOSE=1: say what evscan accepted */

static void note(const char *shape, int accepted)
{
    if (g_verbose < 0) g_verbose = getenv("FUZZ_EVSCAN_VERBOSE") != NULL;
    if (g_verbose) fprintf(stderr, "evscan %s: %s\n", shape, accepted ? "accepted, compared" : "declined");
}

static void mismatch(const char *what, const char *detail)
{
    fprintf(stderr, "evscan/jansson MISMATCH: %s%s%s\nbody (%zu bytes): %.*s\n", what, detail ? ": " : "",
            detail ? detail : "", g_len, (int)g_len, (const char *)g_body);
    abort();
}

/* A scanned field must be what the tree holds under that key. */
static void cmp_field(const char *name, const evscan_field *f, const json_t *v)
{
    int ok;
    switch (f->kind) {
    case EVSCAN_ABSENT:
        ok = v == NULL;
        break;
    case EVSCAN_NULL:
        ok = json_is_null(v);
        break;
    case EVSCAN_STRING:
        ok = json_is_string(v) && json_string_length(v) == f->len &&
             memcmp(json_string_value(v), f->s, f->len) == 0 && memchr(f->s, '\0', f->len) == NULL;
        break;
    case EVSCAN_OTHER:
        ok = v && !json_is_null(v) && !json_is_string(v);
        break;
    default:
        ok = 0;
    }
    if (!ok) mismatch("field", name);
}

/* Scanned event e (data text in the body or in canon) against element v. */
static void cmp_scanned(const evscan_event *e, const hq_buf *canon, const json_t *v)
{
    if (!json_is_object(v)) mismatch("an accepted event is not an object", NULL);
    cmp_field("type", &e->type, json_object_get(v, "type"));
    cmp_field("org_id", &e->org, json_object_get(v, "org_id"));
    cmp_field("id", &e->id, json_object_get(v, "id"));
    cmp_field("created_at", &e->created_at, json_object_get(v, "created_at"));
    json_t *d = json_object_get(v, "data");
    if (e->data_object != json_is_object(d)) mismatch("data is an object for one path only", NULL);
    if (!e->data_object) return;
    const char *text;
    if (e->data) {
        const char *b = (const char *)g_body;
        if (e->data < b || e->data_len > g_len || e->data > b + (g_len - e->data_len))
            mismatch("data span outside the body", NULL);
        text = e->data;
    } else {
        if (e->data_off > canon->len || e->data_len > canon->len - e->data_off)
            mismatch("data text outside the canonical buffer", NULL);
        text = canon->data + e->data_off;
    }
    size_t jl;
    char *j = hq_json_dumps(d, &jl);
    if (jl != e->data_len || memcmp(j, text, jl) != 0) {
        fprintf(stderr, "jansson: %s\nevscan:  %.*s\n", j, (int)e->data_len, text);
        mismatch("canonical data", NULL);
    }
    hq_free(j);
}

/* The outcomes of validate_scanned (rs, a, fa, ma) and of the jansson
 * path (rj, b, fb, mb) for one event. ids: also compare id and created_at
 * (they come from the same defaults, or from the body). */
static void cmp_outcome(int rs, const producer_event *a, const char *fa, const char *ma, int rj,
                        const producer_event *b, const char *fb, const char *mb, int ids)
{
    if (rs != rj) mismatch("validity", rs ? ma : mb);
    if (rs != 0) {
        if (strcmp(fa, fb) != 0 || strcmp(ma, mb) != 0) mismatch("validation error", ma);
        return;
    }
    if (strcmp(a->type, b->type) != 0) mismatch("type", a->type);
    if (strcmp(a->org, b->org) != 0) mismatch("org_id", a->org);
    if (a->data_len != b->data_len || memcmp(a->data, b->data, a->data_len) != 0) mismatch("event data", NULL);
    if (!ids) return;
    if (strcmp(a->id, b->id) != 0) mismatch("id", a->id);
    if (strcmp(a->ca, b->ca) != 0 || a->ts_ms != b->ts_ms) mismatch("created_at", a->ca);
}

/* One scanned event against one jansson element, both validated with the
 * same defaults (d: the state before this event; advanced). */
static void cmp_validated(const evscan_event *e, const hq_buf *canon, json_t *v, event_defaults *d, size_t len)
{
    char *strs = hq_malloc(len + 5), *pos = strs;
    if (d->left == 0) {
        /* refill the pool now (random), so that both paths draw from it */
        char id[40];
        defaults_id(d, id);
        d->left++;
    }
    event_defaults dj = *d;
    producer_event a, b;
    char fa[64], ma[256], fb[64], mb[256];
    fa[0] = ma[0] = fb[0] = mb[0] = '\0';
    int rs = validate_scanned(e, canon, &pos, d, &a, fa, sizeof fa, ma, sizeof ma);
    int rj = validate_json(v, &dj, &b, fb, sizeof fb, mb, sizeof mb);
    if ((size_t)(pos - strs) > len + 4) mismatch("scanned strings overran their buffer", NULL);
    cmp_outcome(rs, &a, fa, ma, rj, &b, fb, mb, 1);
    if (d->left != dj.left || memcmp(d->pool, dj.pool, sizeof d->pool) != 0)
        mismatch("default ids drawn differently", NULL);
    producer_event_free(&b);
    hq_free(strs);
}

/* POST /v1/events: what producer_events_post does with either reader. */
static void single(const char *body, size_t len)
{
    hq_buf canon;
    hq_buf_init(&canon, 0);
    evscan_event sc;
    int rc = producer_evscan_event(body, len, &sc, &canon);
    note("event", rc == 0);
    if (rc != 0) {
        hq_buf_free(&canon);
        return;
    }
    json_error_t jerr;
    json_t *v = hq_json_parse(body, len, &jerr);
    if (!v) mismatch("evscan accepted an event jansson rejects", jerr.text);
    if (!json_is_object(v)) mismatch("evscan accepted an event that is not an object", NULL);
    cmp_scanned(&sc, &canon, v);

    /* exactly as events.c: no defaults, fresh ids and "now" */
    char *strs = hq_malloc(len + 5), *pos = strs;
    producer_event a, b;
    char fa[64], ma[256], fb[64], mb[256];
    fa[0] = ma[0] = fb[0] = mb[0] = '\0';
    int rs = validate_scanned(&sc, &canon, &pos, NULL, &a, fa, sizeof fa, ma, sizeof ma);
    int rj = producer_event_validate(v, &b, fb, sizeof fb, mb, sizeof mb);
    cmp_outcome(rs, &a, fa, ma, rj, &b, fb, mb, sc.id.kind == EVSCAN_STRING && sc.created_at.kind == EVSCAN_STRING);
    if (rs == 0 && (!hq_event_id_valid(a.id) || !hq_event_id_valid(b.id))) mismatch("invalid id", a.id);
    if (rj == 0) producer_event_free(&b);
    hq_free(strs);

    /* and with shared defaults, so that generated ids compare too */
    event_defaults d;
    defaults_init(&d);
    cmp_validated(&sc, &canon, v, &d, len);

    json_decref(v);
    hq_buf_free(&canon);
}

/* POST /v1/events/batch: what producer_events_batch does with either reader. */
static void batch_body(const char *body, size_t len)
{
    hq_buf canon;
    hq_buf_init(&canon, 0);
    evscan_event *evs = NULL;
    int n = producer_evscan_batch(body, len, BATCH_MAX, &evs, &canon);
    note("batch", n >= 0);
    if (n < 0) {
        hq_buf_free(&canon);
        return;
    }
    if (n < 1 || n > BATCH_MAX || !evs) mismatch("evscan accepted a batch of a wrong size", NULL);
    json_error_t jerr;
    json_t *v = hq_json_parse(body, len, &jerr);
    if (!v) mismatch("evscan accepted a batch jansson rejects", jerr.text);
    if (!json_is_object(v)) mismatch("evscan accepted a batch that is not an object", NULL);
    json_t *arr = json_object_get(v, "events");
    if (!json_is_array(arr) || json_array_size(arr) < 1 || json_array_size(arr) > BATCH_MAX)
        mismatch("evscan accepted a batch the jansson path answers 422", NULL);
    if (json_array_size(arr) != (size_t)n) mismatch("number of events", NULL);
    event_defaults d;
    defaults_init(&d);
    for (int i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, (size_t)i);
        cmp_scanned(&evs[i], &canon, e);
        cmp_validated(&evs[i], &canon, e, &d, len);
    }
    json_decref(v);
    hq_free(evs);
    hq_buf_free(&canon);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_body = data;
    g_len = size;
    single((const char *)data, size);
    batch_body((const char *)data, size);

    /* the input as the one element of a batch */
    static const char pre[] = "{\"events\":[", post[] = "]}";
    size_t wl = sizeof pre - 1 + size + sizeof post - 1;
    char *w = hq_malloc(wl);
    memcpy(w, pre, sizeof pre - 1);
    if (size) memcpy(w + sizeof pre - 1, data, size);
    memcpy(w + sizeof pre - 1 + size, post, sizeof post - 1);
    g_body = (const uint8_t *)w;
    g_len = wl;
    batch_body(w, wl);
    hq_free(w);
    return 0;
}

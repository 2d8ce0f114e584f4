/* The fast path of POST /v1/events/batch and /v1/events (issue 5).
 * Parsing a batch with jansson (a tree of up to 1000 events, every byte
 * through its lexer, then hq_json_write to re-serialize each "data") cost
 * ~15 µs per 1 KiB event, most of the producer's CPU. This scanner reads
 * the body once, records where each event's fields are, and finds each
 * "data" object's canonical text (hq_json.h: JSON.stringify(JSON.parse(x)))
 * without a tree: usually the body's own bytes (compact, no escapes, plain
 * integers), else written by a second pass over that object.
 *
 * It answers only what it can answer exactly as the jansson path would
 * (hq_json_parse, producer_event_validate, hq_json_write). Everything else
 * makes it decline, and the caller parses the body with jansson as before:
 * malformed JSON (so 400 messages keep jansson's wording and position),
 * escapes in keys or in the string values of type/org_id/id/created_at,
 * duplicate keys (jansson keeps the last value in the first position),
 * keys starting with a digit (JS orders array-index keys first), objects of
 * more than 256 keys, nesting deeper than 64, numbers that overflow a
 * double, and "events" missing, empty, too long or holding anything but
 * objects. What it accepts is a subset of what jansson accepts: strict
 * UTF-8 (no overlongs, surrogates or code points past U+10FFFF), no raw
 * control characters in strings, the JSON number grammar, exact literals,
 * \u escapes with paired surrogates. */
#include "hq_fmacros.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "hq_alloc.h"
#include "hq_json.h"
#include "evscan.h"

#define MAX_DEPTH 64         /* objects/arrays nested inside "data" */
#define MAX_KEYS 256         /* keys per object (the duplicate check is quadratic) */

typedef struct key {
    const unsigned char *s;
    size_t len;
} key;

typedef struct scan {
    const unsigned char *p, *end;
    hq_buf *out;             /* canonical text goes here, or NULL (check only) */
    int exact;               /* no byte scanned since reset differs from the canonical text */
    int depth;
    key *keys;               /* keys of the objects being scanned, innermost last */
    size_t nkeys, capkeys;
    hq_buf tmp;              /* scratch: decoded strings, number text */
} scan;

/* Bytes a string may hold as they are: printable ASCII but '"' and '\'. */
static unsigned char plain[256];

static void plain_init(void)
{
    if (plain['a']) return;
    for (int c = 0x20; c < 0x80; c++) plain[c] = c != '"' && c != '\\';
}

static void ws(scan *s)
{
    const unsigned char *p = s->p;
    while (p < s->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    if (p != s->p) s->exact = 0;
    s->p = p;
}

static int at(const scan *s, int c)
{
    return s->p < s->end && *s->p == c;
}

static void emit(scan *s, const void *b, size_t n)
{
    if (s->out) (void)hq_buf_append(s->out, b, n);
}

/* Length of the strict UTF-8 sequence at p (2..4), or 0 if invalid. */
static int utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    if (c < 0xc2 || c > 0xf4) return 0;
    int n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (end - p < n) return 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    if (c == 0xe0 && p[1] < 0xa0) return 0; /* overlong */
    if (c == 0xed && p[1] >= 0xa0) return 0; /* UTF-16 surrogate */
    if (c == 0xf0 && p[1] < 0x90) return 0; /* overlong */
    if (c == 0xf4 && p[1] >= 0x90) return 0; /* past U+10FFFF */
    return n;
}

static long hex4(const unsigned char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v * 16 + d;
    }
    return v;
}

static void utf8_put(hq_buf *b, long u)
{
    unsigned char o[4];
    size_t n;
    if (u < 0x80) { o[0] = (unsigned char)u; n = 1; }
    else if (u < 0x800) { o[0] = (unsigned char)(0xc0 | (u >> 6)); o[1] = (unsigned char)(0x80 | (u & 0x3f)); n = 2; }
    else if (u < 0x10000) {
        o[0] = (unsigned char)(0xe0 | (u >> 12));
        o[1] = (unsigned char)(0x80 | ((u >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (u & 0x3f));
        n = 3;
    } else {
        o[0] = (unsigned char)(0xf0 | (u >> 18));
        o[1] = (unsigned char)(0x80 | ((u >> 12) & 0x3f));
        o[2] = (unsigned char)(0x80 | ((u >> 6) & 0x3f));
        o[3] = (unsigned char)(0x80 | (u & 0x3f));
        n = 4;
    }
    (void)hq_buf_append(b, o, n);
}

/* The string at s->p (its opening quote), checked as jansson reads strings;
 * s->p ends after the closing quote. *b and *n: the raw bytes between the
 * quotes; *esc: whether they hold escapes. With dec, the decoded bytes of a
 * string with escapes are appended to it. 0 or -1. */
static int string(scan *s, const unsigned char **b, size_t *n, int *esc, hq_buf *dec)
{
    const unsigned char *p = s->p + 1, *end = s->end, *start = p, *run = p;
    *esc = 0;
    for (;;) {
        while (p + 4 <= end && plain[p[0]] && plain[p[1]] && plain[p[2]] && plain[p[3]]) p += 4;
        while (p < end && plain[*p]) p++;
        if (p >= end) return -1;
        unsigned c = *p;
        if (c == '"') break;
        if (c < 0x20) return -1;
        if (c >= 0x80) {
            int k = utf8_seq(p, end);
            if (!k) return -1;
            p += k;
            continue;
        }
        /* a backslash */
        if (dec) (void)hq_buf_append(dec, run, (size_t)(p - run));
        *esc = 1;
        if (end - p < 2) return -1;
        char ch;
        switch (p[1]) {
        case '"': ch = '"'; break;
        case '\\': ch = '\\'; break;
        case '/': ch = '/'; break;
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u': {
            if (end - p < 6) return -1;
            long u = hex4(p + 2);
            if (u < 0) return -1;
            p += 6;
            if (u >= 0xd800 && u <= 0xdbff) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u') return -1;
                long lo = hex4(p + 2);
                if (lo < 0xdc00 || lo > 0xdfff) return -1;
                u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            } else if (u >= 0xdc00 && u <= 0xdfff) {
                return -1;
            }
            if (dec) utf8_put(dec, u);
            run = p;
            continue;
        }
        default:
            return -1;
        }
        if (dec) (void)hq_buf_putc(dec, ch);
        p += 2;
        run = p;
    }
    if (dec && *esc) (void)hq_buf_append(dec, run, (size_t)(p - run));
    *b = start;
    *n = (size_t)(p - start);
    s->p = p + 1;
    return 0;
}

/* A number (JSON grammar). Integers of at most 15 digits (but "-0") are
 * their own canonical form; others are read with strtod, as jansson does
 * (JSON_DECODE_INT_AS_REAL), and written as hq_json_format_number does. */
static int number(scan *s)
{
    const unsigned char *b = s->p, *p = b, *end = s->end;
    if (*p == '-') p++;
    if (p >= end) return -1;
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9') while (p < end && *p >= '0' && *p <= '9') p++;
    else return -1;
    int simple = 1;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9') return -1;
        while (p < end && *p >= '0' && *p <= '9') p++;
        simple = 0;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || *p < '0' || *p > '9') return -1;
        while (p < end && *p >= '0' && *p <= '9') p++;
        simple = 0;
    }
    size_t n = (size_t)(p - b);
    s->p = p;
    if (simple && n - (b[0] == '-') <= 15 && !(b[0] == '-' && b[1] == '0')) {
        emit(s, b, n);
        return 0;
    }
    s->exact = 0;
    hq_buf_reset(&s->tmp);
    (void)hq_buf_append(&s->tmp, b, n);
    char *e;
    double d = strtod(s->tmp.data, &e);
    if (e != s->tmp.data + n || isinf(d)) return -1; /* jansson: "real number overflow" */
    if (s->out) {
        char num[40];
        hq_json_format_number(d, num);
        (void)hq_buf_puts(s->out, num);
    }
    return 0;
}

static int literal(scan *s, const char *word, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) return -1;
    emit(s, word, n);
    s->p += n;
    return 0;
}

static int value(scan *s);

/* An object key: no escapes, not starting with a digit, not repeated in its
 * object (keys[base..nkeys) are the object's keys so far). */
static int object_key(scan *s, size_t base, const unsigned char **kb, size_t *kn)
{
    int esc;
    if (!at(s, '"') || string(s, kb, kn, &esc, NULL) != 0 || esc) return -1;
    if (*kn > 0 && (*kb)[0] >= '0' && (*kb)[0] <= '9') return -1;
    if (s->nkeys - base >= MAX_KEYS) return -1;
    for (size_t i = base; i < s->nkeys; i++)
        if (s->keys[i].len == *kn && memcmp(s->keys[i].s, *kb, *kn) == 0) return -1;
    if (s->nkeys == s->capkeys) {
        s->capkeys = s->capkeys ? 2 * s->capkeys : 64;
        s->keys = hq_realloc(s->keys, s->capkeys * sizeof *s->keys);
    }
    s->keys[s->nkeys++] = (key){ *kb, *kn };
    return 0;
}

/* After an object member or array element: 1 (past the ',') when another
 * follows, 0 (past `close`) at the end, -1 for anything else. */
static int next_member(scan *s, char close)
{
    ws(s);
    if (at(s, ',')) {
        s->p++;
        ws(s);
        return 1;
    }
    if (!at(s, close)) return -1;
    s->p++;
    return 0;
}

static int object(scan *s)
{
    if (++s->depth > MAX_DEPTH) return -1;
    size_t base = s->nkeys;
    s->p++;
    emit(s, "{", 1);
    ws(s);
    if (at(s, '}')) {
        s->p++;
    } else {
        for (int first = 1, more = 1; more; first = 0) {
            const unsigned char *kb;
            size_t kn;
            if (object_key(s, base, &kb, &kn) != 0) return -1;
            if (s->out) {
                if (!first) (void)hq_buf_putc(s->out, ',');
                (void)hq_buf_putc(s->out, '"');
                (void)hq_buf_append(s->out, kb, kn);
                (void)hq_buf_append(s->out, "\":", 2);
            }
            ws(s);
            if (!at(s, ':')) return -1;
            s->p++;
            ws(s);
            if (value(s) != 0) return -1;
            if ((more = next_member(s, '}')) < 0) return -1;
        }
    }
    emit(s, "}", 1);
    s->nkeys = base;
    s->depth--;
    return 0;
}

static int array(scan *s)
{
    if (++s->depth > MAX_DEPTH) return -1;
    s->p++;
    emit(s, "[", 1);
    ws(s);
    if (at(s, ']')) {
        s->p++;
    } else {
        for (int first = 1, more = 1; more; first = 0) {
            if (!first) emit(s, ",", 1);
            if (value(s) != 0) return -1;
            if ((more = next_member(s, ']')) < 0) return -1;
        }
    }
    emit(s, "]", 1);
    s->depth--;
    return 0;
}

/* Any JSON value at s->p, checked, and written canonically when s->out. */
static int value(scan *s)
{
    if (s->p >= s->end) return -1;
    switch (*s->p) {
    case '{':
        return object(s);
    case '[':
        return array(s);
    case '"': {
        const unsigned char *b;
        size_t n;
        int esc;
        hq_buf_reset(&s->tmp);
        if (string(s, &b, &n, &esc, s->out ? &s->tmp : NULL) != 0) return -1;
        if (!esc) {
            if (s->out) {
                (void)hq_buf_putc(s->out, '"');
                (void)hq_buf_append(s->out, b, n);
                (void)hq_buf_putc(s->out, '"');
            }
        } else {
            s->exact = 0;
            if (s->out) (void)hq_json_write_string(s->out, s->tmp.data ? s->tmp.data : "", s->tmp.len);
        }
        return 0;
    }
    case 't':
        return literal(s, "true", 4);
    case 'f':
        return literal(s, "false", 5);
    case 'n':
        return literal(s, "null", 4);
    default:
        if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) return number(s);
        return -1;
    }
}

/* A top-level field of an event: a string without escapes, null, or any
 * other value (checked, not kept). */
static int field(scan *s, evscan_field *f)
{
    if (f->kind != EVSCAN_ABSENT) return -1; /* repeated */
    if (at(s, '"')) {
        const unsigned char *b;
        size_t n;
        int esc;
        if (string(s, &b, &n, &esc, NULL) != 0 || esc) return -1;
        f->kind = EVSCAN_STRING;
        f->s = (const char *)b;
        f->len = n;
        return 0;
    }
    f->kind = at(s, 'n') ? EVSCAN_NULL : EVSCAN_OTHER;
    return value(s);
}

static int keyis(const unsigned char *k, size_t n, const char *name)
{
    return n == strlen(name) && memcmp(k, name, n) == 0;
}

/* "data": an object's canonical text is the span itself when exact, else
 * written to out by a second pass over the span. */
static int data(scan *s, evscan_event *e, int *seen, hq_buf *out)
{
    if ((*seen)++) return -1;
    if (!at(s, '{')) return value(s);
    const unsigned char *b = s->p;
    s->exact = 1;
    if (value(s) != 0) return -1;
    e->data_object = 1;
    if (s->exact) {
        e->data = (const char *)b;
        e->data_len = (size_t)(s->p - b);
        return 0;
    }
    const unsigned char *after = s->p;
    e->data_off = out->len;
    s->p = b;
    s->out = out;
    int rc = value(s);
    s->out = NULL;
    if (rc != 0 || s->p != after) return -1; /* cannot happen: it passed once */
    e->data_len = out->len - e->data_off;
    return 0;
}

/* One element of "events" (at its '{'). Keys other than the five an event
 * has are checked and skipped, repeated or not (the event ignores them). */
static int event(scan *s, evscan_event *e, hq_buf *out)
{
    int seen_data = 0;
    s->p++;
    ws(s);
    if (at(s, '}')) {
        s->p++;
        return 0;
    }
    for (;;) {
        const unsigned char *k;
        size_t kn;
        int esc;
        if (!at(s, '"') || string(s, &k, &kn, &esc, NULL) != 0 || esc) return -1;
        ws(s);
        if (!at(s, ':')) return -1;
        s->p++;
        ws(s);
        int rc;
        if (keyis(k, kn, "type")) rc = field(s, &e->type);
        else if (keyis(k, kn, "org_id")) rc = field(s, &e->org);
        else if (keyis(k, kn, "id")) rc = field(s, &e->id);
        else if (keyis(k, kn, "created_at")) rc = field(s, &e->created_at);
        else if (keyis(k, kn, "data")) rc = data(s, e, &seen_data, out);
        else rc = value(s);
        if (rc != 0) return -1;
        ws(s);
        if (at(s, ',')) {
            s->p++;
            ws(s);
            continue;
        }
        if (!at(s, '}')) return -1;
        s->p++;
        return 0;
    }
}

/* The "events" array (at its '['): 1..max objects into *evs. */
static int events(scan *s, int max, evscan_event **evs, int *n, hq_buf *out)
{
    int cap = 0;
    s->p++;
    ws(s);
    if (at(s, ']')) return -1; /* empty: the jansson path answers 422 */
    for (;;) {
        if (!at(s, '{') || *n == max) return -1;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            if (cap > max) cap = max;
            *evs = hq_realloc(*evs, (size_t)cap * sizeof **evs);
        }
        evscan_event *e = &(*evs)[(*n)++];
        memset(e, 0, sizeof *e);
        if (event(s, e, out) != 0) return -1;
        ws(s);
        if (at(s, ',')) {
            s->p++;
            ws(s);
            continue;
        }
        if (!at(s, ']')) return -1;
        s->p++;
        return 0;
    }
}

static void scan_init(scan *s, const char *body, size_t len)
{
    plain_init();
    memset(s, 0, sizeof *s);
    s->p = (const unsigned char *)body;
    s->end = s->p + len;
    hq_buf_init(&s->tmp, 0);
}

static void scan_free(scan *s)
{
    hq_free(s->keys);
    hq_buf_free(&s->tmp);
}

int producer_evscan_event(const char *body, size_t len, evscan_event *ev, hq_buf *out)
{
    scan s;
    scan_init(&s, body, len);
    memset(ev, 0, sizeof *ev);
    int rc = -1;
    ws(&s);
    if (at(&s, '{') && event(&s, ev, out) == 0) {
        ws(&s);
        if (s.p == s.end) rc = 0;
    }
    scan_free(&s);
    return rc;
}

int producer_evscan_batch(const char *body, size_t len, int max, evscan_event **evs_out, hq_buf *out)
{
    scan s;
    scan_init(&s, body, len);
    evscan_event *evs = NULL;
    int n = 0, found = 0, rc = -1;
    ws(&s);
    if (!at(&s, '{')) goto done;
    s.p++;
    ws(&s);
    for (;;) {
        const unsigned char *k;
        size_t kn;
        int esc;
        if (!at(&s, '"') || string(&s, &k, &kn, &esc, NULL) != 0 || esc) goto done;
        ws(&s);
        if (!at(&s, ':')) goto done;
        s.p++;
        ws(&s);
        if (keyis(k, kn, "events")) {
            if (found++ || !at(&s, '[') || events(&s, max, &evs, &n, out) != 0) goto done;
        } else if (value(&s) != 0) {
            goto done;
        }
        ws(&s);
        if (at(&s, ',')) {
            s.p++;
            ws(&s);
            continue;
        }
        if (!at(&s, '}')) goto done;
        s.p++;
        break;
    }
    ws(&s);
    if (s.p != s.end || !found) goto done;
    rc = n;
    *evs_out = evs;
    evs = NULL;
done:
    hq_free(evs);
    scan_free(&s);
    return rc;
}

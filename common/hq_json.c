/* hq_json: canonical JSON, i.e. the exact bytes JavaScript produces for
 * JSON.stringify(JSON.parse(text)). Receivers may verify signatures over a
 * re-serialized body, so hookq stores and sends this one form.
 *  - Parsing reads every number as a double (JSON_DECODE_INT_AS_REAL), like JS.
 *  - Objects keep insertion order (jansson 2.14 replaces a duplicate key's
 *    value in place: JS's "first position, last value"), except that keys
 *    which are array indices ("0", "17") come first in numeric order, as JS
 *    enumerates them.
 *  - Strings are escaped as JSON.stringify does; numbers are rendered with
 *    the ECMAScript Number::toString algorithm (shortest round-trip digits). */
#include "hq_fmacros.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include "hq_alloc.h"
#include "hq_json.h"

/* Parses text as hookq does (numbers as doubles, NULs allowed in strings,
 * any top-level value). NULL plus err on failure. New reference. */
json_t *hq_json_parse(const char *text, size_t len, json_error_t *err)
{
    return json_loadb(text, len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL | JSON_DECODE_ANY, err);
}

/* Shortest decimal digits that round-trip d (> 0, finite): digits without a
 * decimal point into dig (no trailing zeros), and the decimal exponent such
 * that d = 0.DIGITS * 10^point. */
static void shortest_digits(double d, char *dig, int *point)
{
    /* If p significant digits round-trip, so do p+1 (the correctly rounded
     * p+1-digit decimal is at least as close), so binary-search the
     * smallest p in 1..17; 17 always round-trips. */
    char tmp[40];
    int lo = 1, hi = 17;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        snprintf(tmp, sizeof tmp, "%.*e", mid - 1, d);
        if (strtod(tmp, NULL) == d) hi = mid;
        else lo = mid + 1;
    }
    snprintf(tmp, sizeof tmp, "%.*e", lo - 1, d);
    /* tmp is "D.DDDDe[+-]XX" or "De[+-]XX" */
    char *e = strchr(tmp, 'e');
    int exp10 = atoi(e + 1);
    int k = 0;
    for (char *q = tmp; q < e; q++)
        if (*q >= '0' && *q <= '9') dig[k++] = *q;
    while (k > 1 && dig[k - 1] == '0') k--;
    dig[k] = '\0';
    *point = exp10 + 1;
}

/* Renders d as ECMAScript Number.prototype.toString() does; out >= 32 bytes.
 * NaN and infinities (never produced by jansson) render as "null", as
 * JSON.stringify does. */
void hq_json_format_number(double d, char *out)
{
    if (isnan(d) || isinf(d)) { strcpy(out, "null"); return; }
    if (d == 0) { strcpy(out, "0"); return; }
    char *o = out;
    if (d < 0) { *o++ = '-'; d = -d; }
    if (d < 9007199254740992.0 && d == floor(d)) {
        /* Exact integer below 2^53: its digits are the shortest form. */
        snprintf(o, 24, "%.0f", d);
        return;
    }
    char dig[24];
    int n;
    shortest_digits(d, dig, &n);
    int k = (int)strlen(dig);
    if (k <= n && n <= 21) {
        memcpy(o, dig, (size_t)k);
        o += k;
        for (int i = k; i < n; i++) *o++ = '0';
        *o = '\0';
    } else if (0 < n && n <= 21) {
        memcpy(o, dig, (size_t)n);
        o += n;
        *o++ = '.';
        memcpy(o, dig + n, (size_t)(k - n));
        o += k - n;
        *o = '\0';
    } else if (-6 < n && n <= 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -n; i++) *o++ = '0';
        memcpy(o, dig, (size_t)k);
        o += k;
        *o = '\0';
    } else {
        *o++ = dig[0];
        if (k > 1) {
            *o++ = '.';
            memcpy(o, dig + 1, (size_t)(k - 1));
            o += k - 1;
        }
        int e = n - 1;
        sprintf(o, "e%c%d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    }
}

/* Appends s as a JSON.stringify string literal: \" \\ \b \f \n \r \t, other
 * bytes < 0x20 as \u00xx (lowercase), everything else raw. Runs of plain
 * bytes are copied in one append. */
int hq_json_write_string(hq_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (hq_buf_putc(out, '"')) return HQ_ETOOBIG;
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (c < 0x20) {
                u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0';
                u[4] = hex[c >> 4]; u[5] = hex[c & 15]; u[6] = '\0';
                esc = u;
            }
        }
        if (esc) {
            if (hq_buf_append(out, s + start, i - start)) return HQ_ETOOBIG;
            if (hq_buf_puts(out, esc)) return HQ_ETOOBIG;
            start = i + 1;
        }
    }
    if (hq_buf_append(out, s + start, len - start)) return HQ_ETOOBIG;
    return hq_buf_putc(out, '"');
}

/* 1 when key is a JS array index ("0" or [1-9][0-9]* up to 2^32-2), which
 * JS objects enumerate first, in ascending numeric order; *idx gets it. */
static int array_index(const char *key, size_t klen, uint32_t *idx)
{
    if (klen == 0 || klen > 10) return 0;
    if (key[0] == '0') {
        if (klen != 1) return 0;
        *idx = 0;
        return 1;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < klen; i++) {
        if (key[i] < '0' || key[i] > '9') return 0;
        v = v * 10 + (uint64_t)(key[i] - '0');
    }
    if (v > 4294967294ull) return 0;
    *idx = (uint32_t)v;
    return 1;
}

struct idx_member {
    uint32_t idx;
    const char *key;
    size_t klen;
    json_t *val;
};

static int idx_cmp(const void *a, const void *b)
{
    uint32_t x = ((const struct idx_member *)a)->idx, y = ((const struct idx_member *)b)->idx;
    return x < y ? -1 : x > y;
}

static int write_member(hq_buf *out, int *first, const char *key, size_t klen, const json_t *val)
{
    if (!*first && hq_buf_putc(out, ',')) return HQ_ETOOBIG;
    *first = 0;
    if (hq_json_write_string(out, key, klen)) return HQ_ETOOBIG;
    if (hq_buf_putc(out, ':')) return HQ_ETOOBIG;
    return hq_json_write(out, val);
}

/* Writes an object's members in JS property order: array-index keys first
 * in ascending numeric order, then the other keys in insertion order. */
static int write_object(hq_buf *out, const json_t *v)
{
    const char *key;
    json_t *val;
    size_t nidx = 0, klen;
    uint32_t idx;
    int first = 1, rc = 0;
    json_object_keylen_foreach((json_t *)v, key, klen, val) {
        if (array_index(key, klen, &idx)) nidx++;
    }
    if (hq_buf_putc(out, '{')) return HQ_ETOOBIG;
    if (nidx) {
        struct idx_member *m = hq_malloc(nidx * sizeof *m);
        size_t k = 0;
        json_object_keylen_foreach((json_t *)v, key, klen, val) {
            if (array_index(key, klen, &idx)) m[k++] = (struct idx_member){ idx, key, klen, val };
        }
        qsort(m, nidx, sizeof *m, idx_cmp);
        for (k = 0; k < nidx && !rc; k++) rc = write_member(out, &first, m[k].key, m[k].klen, m[k].val);
        hq_free(m);
        if (rc) return rc;
    }
    json_object_keylen_foreach((json_t *)v, key, klen, val) {
        if (nidx && array_index(key, klen, &idx)) continue;
        if (write_member(out, &first, key, klen, val)) return HQ_ETOOBIG;
    }
    return hq_buf_putc(out, '}');
}

/* Appends the canonical form of v. Integers (only present in values built by
 * code, never parsed) are rendered through a double, as JS would. */
int hq_json_write(hq_buf *out, const json_t *v)
{
    char num[40];
    if (!v) return hq_buf_puts(out, "null");
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return write_object(out, v);
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (hq_buf_putc(out, '[')) return HQ_ETOOBIG;
        for (size_t i = 0; i < n; i++) {
            if (i && hq_buf_putc(out, ',')) return HQ_ETOOBIG;
            if (hq_json_write(out, json_array_get(v, i))) return HQ_ETOOBIG;
        }
        return hq_buf_putc(out, ']');
    }
    case JSON_STRING:
        return hq_json_write_string(out, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        hq_json_format_number((double)json_integer_value(v), num);
        return hq_buf_puts(out, num);
    case JSON_REAL:
        hq_json_format_number(json_real_value(v), num);
        return hq_buf_puts(out, num);
    case JSON_TRUE:
        return hq_buf_puts(out, "true");
    case JSON_FALSE:
        return hq_buf_puts(out, "false");
    case JSON_NULL:
    default:
        return hq_buf_puts(out, "null");
    }
}

/* Canonical text of v (unbounded), caller frees with hq_free. */
char *hq_json_dumps(const json_t *v, size_t *len)
{
    hq_buf b;
    hq_buf_init(&b, 0);
    (void)hq_json_write(&b, v);
    return hq_buf_steal(&b, len);
}

const char *hq_json_str(const json_t *v)
{
    if (!json_is_string(v)) return NULL;
    const char *s = json_string_value(v);
    return strlen(s) == json_string_length(v) ? s : NULL;
}

size_t hq_utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80) n++;
    return n;
}

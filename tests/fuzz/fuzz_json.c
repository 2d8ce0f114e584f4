/* libFuzzer target: canonical JSON (common/hq_json.c). Any input that
 * hq_json_parse accepts must serialise with hq_json_write, and that output
 * must parse again and serialise to identical bytes (the canonical form is a
 * fixed point: it is what is signed and delivered, so it must be stable).
 * Also every string the parser returns goes through hq_json_write_string. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hq_alloc.h"
#include "hq_buf.h"
#include "hq_json.h"

static void check_strings(const json_t *v, int depth)
{
    if (depth > 4096) return;
    if (json_is_string(v)) {
        hq_buf b;
        hq_buf_init(&b, 0);
        if (hq_json_write_string(&b, json_string_value(v), json_string_length(v)) != 0) abort();
        json_error_t e;
        json_t *back = hq_json_parse(b.data, b.len, &e);
        if (!back || !json_is_string(back) || json_string_length(back) != json_string_length(v) ||
            memcmp(json_string_value(back), json_string_value(v), json_string_length(v)) != 0) {
            fprintf(stderr, "string literal does not round-trip\n");
            abort();
        }
        json_decref(back);
        hq_buf_free(&b);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) check_strings(x, depth + 1);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) check_strings(x, depth + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t err;
    json_t *v = hq_json_parse((const char *)data, size, &err);
    if (!v) {
        /* the error must be a terminated, bounded message */
        if (strnlen(err.text, sizeof err.text) >= sizeof err.text) abort();
        return 0;
    }
    hq_buf a;
    hq_buf_init(&a, 0);
    if (hq_json_write(&a, v) != 0) abort();
    json_t *w = hq_json_parse(a.data, a.len, &err);
    if (!w) {
        fprintf(stderr, "canonical output does not parse: %s: %.*s\n", err.text, (int)a.len, a.data);
        abort();
    }
    hq_buf b;
    hq_buf_init(&b, 0);
    if (hq_json_write(&b, w) != 0) abort();
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0) {
        fprintf(stderr, "canonical form is not stable:\n%.*s\n%.*s\n", (int)a.len, a.data, (int)b.len, b.data);
        abort();
    }
    size_t dl;
    char *d = hq_json_dumps(v, &dl);
    if (dl != a.len || memcmp(d, a.data, dl) != 0) abort();
    hq_free(d);
    if (size < 4096) check_strings(v, 0);
    hq_buf_free(&a);
    hq_buf_free(&b);
    json_decref(v);
    json_decref(w);
    return 0;
}

/* cli_output: turning API JSON into human output when no table is known for
 * a shape, or for the parts of a known shape a table doesn't cover. Values
 * are rendered one way everywhere (cli_format): strings as is, arrays of
 * scalars comma-joined, epoch-millisecond times as RFC 3339. Objects print
 * as aligned "key: value" lines, arrays of objects as a generic table, and
 * anything else as pretty JSON, so a route added to the API later is still
 * readable with this CLI. Also reads --data arguments (inline, @file, -). */
#include "hq_fmacros.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include "hq_alloc.h"
#include "hq_buf.h"
#include "hq_time.h"
#include "cli.h"

#define CLI_MAX_DATA_FILE (16L * 1024 * 1024)

json_t *cli_field(const json_t *obj, const char *keys)
{
    if (!json_is_object(obj) || !keys) return NULL;
    const char *p = keys;
    for (;;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        char k[64];
        if (n < sizeof k) {
            memcpy(k, p, n);
            k[n] = 0;
            json_t *v = json_object_get(obj, k);
            if (v && !json_is_null(v)) return v;
        }
        if (!bar) return NULL;
        p = bar + 1;
    }
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* 1 when key names a time and v looks like epoch milliseconds (2001..2286). */
static int is_time_ms(const char *key, const json_t *v)
{
    if (!key || !json_is_integer(v)) return 0;
    if (!ends_with(key, "_ms") && !ends_with(key, "_at") && !ends_with(key, "due") &&
        strcmp(key, "time") != 0 && strcmp(key, "ts") != 0)
        return 0;
    json_int_t x = json_integer_value(v);
    return x >= 1000000000000LL && x < 10000000000000LL;
}

static int is_scalar(const json_t *v)
{
    return !json_is_object(v) && !json_is_array(v);
}

void cli_format(hq_buf *out, const char *key, const json_t *v)
{
    if (!v || json_is_null(v)) {
        hq_buf_puts(out, "-");
    } else if (json_is_string(v)) {
        hq_buf_append(out, json_string_value(v), json_string_length(v));
    } else if (is_time_ms(key, v)) {
        char t[32];
        hq_rfc3339(json_integer_value(v), t);
        hq_buf_puts(out, t);
    } else if (json_is_integer(v)) {
        hq_buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v)) {
        hq_buf_printf(out, "%.6g", json_real_value(v));
    } else if (json_is_boolean(v)) {
        hq_buf_puts(out, json_is_true(v) ? "true" : "false");
    } else {
        int scalars = json_is_array(v);
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) if (!is_scalar(e)) scalars = 0;
        if (scalars) {
            if (json_array_size(v) == 0) hq_buf_puts(out, "-");
            json_array_foreach(v, i, e) {
                if (i) hq_buf_putc(out, ',');
                cli_format(out, NULL, e);
            }
        } else {
            char *s = json_dumps(v, JSON_COMPACT);
            hq_buf_puts(out, s ? s : "?");
            free(s);
        }
    }
}

char *cli_fmt(const char *key, const json_t *v)
{
    if (!v) return NULL;
    hq_buf b;
    hq_buf_init(&b, 0);
    cli_format(&b, key, v);
    return hq_buf_steal(&b, NULL);
}

/* 1 when key is one of the '|'-separated names in list. */
static int in_list(const char *list, const char *key)
{
    if (!list) return 0;
    size_t n = strlen(key);
    for (const char *p = list; *p;) {
        const char *bar = strchr(p, '|');
        size_t m = bar ? (size_t)(bar - p) : strlen(p);
        if (m == n && strncmp(p, key, n) == 0) return 1;
        if (!bar) break;
        p = bar + 1;
    }
    return 0;
}

void cli_puts_safe(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
}

void cli_print_detail(FILE *f, const json_t *obj, const char *skip)
{
    if (!json_is_object(obj)) {
        cli_print_json(f, obj);
        return;
    }
    int w = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        if (in_list(skip, k)) continue;
        int n = (int)strlen(k);
        if (n > w) w = n;
    }
    json_object_foreach((json_t *)obj, k, v) {
        if (in_list(skip, k)) continue;
        char *s = cli_fmt(k, v);
        fprintf(f, "%s:%*s ", k, w - (int)strlen(k), "");
        cli_puts_safe(f, s);
        fputc('\n', f);
        hq_free(s);
    }
}

void cli_print_generic_table(FILE *f, const json_t *arr)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        fprintf(f, "(none)\n");
        return;
    }
    /* columns: union of keys, first-seen order */
    const char *keys[32];
    int n = 0;
    size_t i;
    json_t *row;
    json_array_foreach(arr, i, row) {
        if (!json_is_object(row)) {
            cli_print_json(f, arr);
            return;
        }
        const char *k;
        json_t *v;
        json_object_foreach(row, k, v) {
            int seen = 0;
            for (int j = 0; j < n; j++) seen |= strcmp(keys[j], k) == 0;
            if (!seen && n < 32) keys[n++] = k;
        }
    }
    char *heads[32];
    for (int j = 0; j < n; j++) {
        heads[j] = hq_strdup(keys[j]);
        for (char *p = heads[j]; *p; p++) *p = (char)toupper((unsigned char)*p);
    }
    cli_table *t = cli_table_new(n, (const char *const *)heads);
    json_array_foreach(arr, i, row) {
        char *cells[32];
        for (int j = 0; j < n; j++) cells[j] = cli_fmt(keys[j], json_object_get(row, keys[j]));
        cli_table_row(t, (const char *const *)cells);
        for (int j = 0; j < n; j++) hq_free(cells[j]);
    }
    cli_table_print(t, f);
    for (int j = 0; j < n; j++) hq_free(heads[j]);
}

void cli_print_json(FILE *f, const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    fprintf(f, "%s\n", s ? s : "null");
    free(s);
}

void cli_print_raw(const cli_resp *r)
{
    if (!r->len) return;
    fwrite(r->body, 1, r->len, stdout);
    if (r->body[r->len - 1] != '\n') fputc('\n', stdout);
}

/* Reads a whole stream, capped. Returns hq_malloc'ed text or NULL. */
static char *slurp(FILE *in, size_t *len)
{
    hq_buf b;
    hq_buf_init(&b, CLI_MAX_DATA_FILE);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, in)) > 0) {
        if (hq_buf_append(&b, chunk, n) < 0) {
            hq_buf_free(&b);
            return NULL;
        }
    }
    if (ferror(in)) {
        hq_buf_free(&b);
        return NULL;
    }
    return hq_buf_steal(&b, len);
}

json_t *cli_json_str(const cli_ctx *c, const char *flag, const char *v)
{
    json_t *s = json_string(v);
    if (!s) cli_usage_error(c, "--%s: the value is not valid UTF-8", flag);
    return s;
}

json_t *cli_read_json_arg(const char *flag, const char *text, int want_object)
{
    char *owned = NULL;
    size_t len = 0;
    if (strcmp(text, "-") == 0) {
        owned = slurp(stdin, &len);
        if (!owned) {
            fprintf(stderr, "%s: --%s: cannot read stdin\n", CLI_NAME, flag);
            return NULL;
        }
    } else if (text[0] == '@') {
        FILE *in = fopen(text + 1, "rb");
        if (!in) {
            fprintf(stderr, "%s: --%s: cannot open '%s'\n", CLI_NAME, flag, text + 1);
            return NULL;
        }
        owned = slurp(in, &len);
        fclose(in);
        if (!owned) {
            fprintf(stderr, "%s: --%s: cannot read '%s' (or larger than %ld bytes)\n", CLI_NAME, flag,
                    text + 1, CLI_MAX_DATA_FILE);
            return NULL;
        }
    } else {
        len = strlen(text);
    }
    json_error_t err;
    json_t *v = json_loadb(owned ? owned : text, len, JSON_DECODE_ANY, &err);
    hq_free(owned);
    if (!v) {
        fprintf(stderr, "%s: --%s: invalid JSON: %s (line %d, column %d)\n", CLI_NAME, flag, err.text,
                err.line, err.column);
        return NULL;
    }
    if (want_object && !json_is_object(v)) {
        fprintf(stderr, "%s: --%s: must be a JSON object\n", CLI_NAME, flag);
        json_decref(v);
        return NULL;
    }
    return v;
}

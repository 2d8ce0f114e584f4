/* Canonical JSON: the bytes JavaScript's JSON.stringify(JSON.parse(x)) gives.
 * No spaces, object key order preserved, strings escaped exactly as
 * JSON.stringify does (\" \\ \b \f \n \r \t, other controls as \u00xx
 * lowercase, everything else raw UTF-8, '/' unescaped), numbers as JS
 * Number.prototype.toString renders a double (shortest round-trip; integers
 * without ".0"; exponent form "1e+21" / "1e-7" outside [1e-7, 1e21)).
 * Parse input with hq_json_parse so every number is a double, as in JS. */
#ifndef HQ_JSON_H
#define HQ_JSON_H
#include <jansson.h>
#include "hq_buf.h"

/* Parses text (len bytes, NUL bytes allowed in strings) with the flags hookq
 * uses (JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES is
 * NOT set: last duplicate wins, like JS). On error returns NULL and fills err
 * (message, line, column, position) like jansson. */
json_t *hq_json_parse(const char *text, size_t len, json_error_t *err);

/* Appends the canonical serialization of v to out. Returns 0 or HQ_ETOOBIG. */
int hq_json_write(hq_buf *out, const json_t *v);
/* Appends s (len bytes) as a canonical JSON string literal, quotes included. */
int hq_json_write_string(hq_buf *out, const char *s, size_t len);
/* Formats a double as JS does into out (>= 32 bytes). */
void hq_json_format_number(double d, char *out);
/* The value of a JSON string without embedded NUL bytes, or NULL (not a
 * string, or it holds a NUL). Borrowed from v. */
const char *hq_json_str(const json_t *v);
/* Number of UTF-8 characters (code points) in s. */
size_t hq_utf8_len(const char *s);
/* Convenience: canonical text of v, caller frees with hq_free. */
char *hq_json_dumps(const json_t *v, size_t *len);

#endif

/* hq_keys: builds Redis key names per docs/redis-keys.md. Every per-shard key
 * starts with the tag "<prefix>:{<shard>}:" (shard in decimal) so one
 * function call only touches one cluster slot. Outputs are truncated to n. */
#include "hq_fmacros.h"
#include <stdarg.h>
#include <stdio.h>
#include "hq_keys.h"

int hq_prefix_check(const char *prefix, char *err, size_t errlen)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)prefix; *p; p++, n++) {
        if (*p <= 0x20 || *p > 0x7e || *p == '{' || *p == '}') {
            snprintf(err, errlen, "printable ASCII without spaces, '{' or '}' only");
            return -1;
        }
    }
    if (n == 0 || n > HQ_PREFIX_MAX) {
        snprintf(err, errlen, "must be 1-%d characters", HQ_PREFIX_MAX);
        return -1;
    }
    return 0;
}

size_t hq_event_key(char *out, size_t n, const char *tag, const char *org, const char *id)
{
    size_t k = 0;
#define PUT(ch) do { if (k + 1 < n) out[k] = (ch); k++; } while (0)
    for (const char *s = tag; *s; s++) PUT(*s);
    PUT('e'); PUT('v'); PUT(':');
    for (const char *s = org; *s; s++) {
        if (*s == '%' || *s == ':') {
            PUT('%');
            PUT(*s == '%' ? '2' : '3');
            PUT(*s == '%' ? '5' : 'A');
        } else {
            PUT(*s);
        }
    }
    PUT(':');
    for (const char *s = id; *s; s++) PUT(*s);
#undef PUT
    if (n) out[k < n ? k : n - 1] = '\0';
    return k;
}

void hq_key_tag(char *out, size_t n, const char *prefix, int shard)
{
    snprintf(out, n, "%s:{%d}:", prefix, shard);
}

void hq_key(char *out, size_t n, const char *prefix, int shard, const char *fmt, ...)
{
    int t = snprintf(out, n, "%s:{%d}:", prefix, shard);
    if (t < 0 || (size_t)t >= n) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + t, n - (size_t)t, fmt, ap);
    va_end(ap);
}

void hq_key_global(char *out, size_t n, const char *prefix, const char *fmt, ...)
{
    int t = snprintf(out, n, "%s:", prefix);
    if (t < 0 || (size_t)t >= n) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + t, n - (size_t)t, fmt, ap);
    va_end(ap);
}

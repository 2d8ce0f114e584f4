/* hq_log: structured logging to stderr, one line per event, written with a
 * single write(2) so lines from concurrent processes never interleave.
 * JSON form: {"ts":"…mmmZ","level":"info","component":"worker","msg":"…",k:v…}
 * (plus "src":"file:line" at error level); text form:
 * "ts level component: msg key=value …". Callers check the level first
 * (the hq_log macro does), so disabled levels cost one comparison. */
#include "hq_fmacros.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include "hq_buf.h"
#include "hq_log.h"
#include "hq_time.h"

static struct {
    char component[64];
    int json;
    enum hq_log_level min;
} g_log = { "hookq", 0, HQ_LOG_INFO };

static const char *level_names[] = { "debug", "info", "warn", "error" };

/* Sets the component name, output form and minimum level. Call once at start. */
void hq_log_setup(const char *component, int json, enum hq_log_level min)
{
    snprintf(g_log.component, sizeof g_log.component, "%s", component ? component : "hookq");
    g_log.json = json;
    g_log.min = min;
}

int hq_log_enabled(enum hq_log_level lvl)
{
    return lvl >= g_log.min;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static int utf8_len(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) return (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80) return 0;
        if (c == 0xe0 && p[1] < 0xa0) return 0;
        if (c == 0xed && p[1] > 0x9f) return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80) return 0;
        if (c == 0xf0 && p[1] < 0x90) return 0;
        if (c == 0xf4 && p[1] > 0x8f) return 0;
        return 4;
    }
    return 0;
}

/* Appends s as a JSON string literal (JSON.stringify escaping). Bytes that
 * are not valid UTF-8 become U+FFFD so every line stays valid JSON. */
static void put_json_str(hq_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    hq_buf_putc(b, '"');
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char c = *p;
        switch (c) {
        case '"': hq_buf_puts(b, "\\\""); break;
        case '\\': hq_buf_puts(b, "\\\\"); break;
        case '\b': hq_buf_puts(b, "\\b"); break;
        case '\f': hq_buf_puts(b, "\\f"); break;
        case '\n': hq_buf_puts(b, "\\n"); break;
        case '\r': hq_buf_puts(b, "\\r"); break;
        case '\t': hq_buf_puts(b, "\\t"); break;
        default:
            if (c < 0x20) {
                char u[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 };
                hq_buf_puts(b, u);
            } else if (c >= 0x80) {
                int n = utf8_len(p);
                if (n == 0) {
                    hq_buf_puts(b, "\\ufffd");
                } else {
                    hq_buf_append(b, p, (size_t)n);
                    p += n;
                    continue;
                }
            } else {
                hq_buf_putc(b, (char)c);
            }
        }
        p++;
    }
    hq_buf_putc(b, '"');
}

/* Text form value: bare when it has no space, quote, '=' or control char;
 * otherwise quoted with the JSON escapes. */
static void put_text_val(hq_buf *b, const char *s)
{
    int plain = *s != '\0';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f) { plain = 0; break; }
    if (plain) hq_buf_puts(b, s);
    else put_json_str(b, s);
}

/* Writes one log line. The variadic part is a NULL-terminated list of
 * key, value strings (a NULL value is logged as ""); values are escaped. */
void hq_log_kv(enum hq_log_level lvl, const char *file, int line, const char *msg, ...)
{
    int saved_errno = errno;
    if (lvl < HQ_LOG_DEBUG || lvl > HQ_LOG_ERROR) lvl = HQ_LOG_ERROR;
    char ts[32];
    hq_rfc3339_ms(hq_now_ms(), ts);
    hq_buf b;
    hq_buf_init(&b, 0);
    const char *base = file ? strrchr(file, '/') : NULL;
    base = base ? base + 1 : file;
    va_list ap;
    va_start(ap, msg);
    if (g_log.json) {
        hq_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":", ts, level_names[lvl]);
        put_json_str(&b, g_log.component);
        hq_buf_puts(&b, ",\"msg\":");
        put_json_str(&b, msg ? msg : "");
        if (lvl == HQ_LOG_ERROR && base) {
            char src[300];
            snprintf(src, sizeof src, "%s:%d", base, line);
            hq_buf_puts(&b, ",\"src\":");
            put_json_str(&b, src);
        }
        const char *k;
        while ((k = va_arg(ap, const char *)) != NULL) {
            const char *v = va_arg(ap, const char *);
            hq_buf_putc(&b, ',');
            put_json_str(&b, k);
            hq_buf_putc(&b, ':');
            put_json_str(&b, v ? v : "");
        }
        hq_buf_puts(&b, "}\n");
    } else {
        hq_buf_printf(&b, "%s %s %s: %s", ts, level_names[lvl], g_log.component, msg ? msg : "");
        const char *k;
        while ((k = va_arg(ap, const char *)) != NULL) {
            const char *v = va_arg(ap, const char *);
            hq_buf_printf(&b, " %s=", k);
            put_text_val(&b, v ? v : "");
        }
        if (lvl == HQ_LOG_ERROR && base) hq_buf_printf(&b, " src=%s:%d", base, line);
        hq_buf_putc(&b, '\n');
    }
    va_end(ap);
    size_t off = 0;
    while (off < b.len) {
        ssize_t w = write(STDERR_FILENO, b.data + off, b.len - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            break;
        }
        off += (size_t)w;
    }
    hq_buf_free(&b);
    errno = saved_errno;
}

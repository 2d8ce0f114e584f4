/* hq_buf: a growable, always NUL-terminated byte buffer with an optional size
 * cap (curl's dynbuf "toobig" idea). A failed append leaves the buffer exactly
 * as it was, so a caller can report HQ_ETOOBIG and still use what it holds. */
#include "hq_fmacros.h"
#include <stdio.h>
#include <string.h>
#include "hq_alloc.h"
#include "hq_buf.h"

void hq_buf_init(hq_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void hq_buf_free(hq_buf *b)
{
    size_t max = b->max;
    hq_free(b->data);
    hq_buf_init(b, max);
}

void hq_buf_reset(hq_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

/* Makes room for `extra` more bytes plus the terminator. 0 or HQ_ETOOBIG
 * (cap exceeded or size_t overflow); nothing changes on failure. */
static int reserve(hq_buf *b, size_t extra)
{
    if (extra > (size_t)-1 - b->len - 1) return HQ_ETOOBIG;
    size_t need = b->len + extra;
    if (b->max && need > b->max) return HQ_ETOOBIG;
    if (need + 1 <= b->cap) return 0;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < need + 1) {
        if (ncap > (size_t)-1 / 2) { ncap = need + 1; break; }
        ncap *= 2;
    }
    b->data = hq_realloc(b->data, ncap);
    b->cap = ncap;
    return 0;
}

/* Appends n bytes of p (may contain NULs). 0 or HQ_ETOOBIG. */
int hq_buf_append(hq_buf *b, const void *p, size_t n)
{
    if (reserve(b, n) != 0) return HQ_ETOOBIG;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int hq_buf_puts(hq_buf *b, const char *s)
{
    return hq_buf_append(b, s, strlen(s));
}

int hq_buf_putc(hq_buf *b, char c)
{
    return hq_buf_append(b, &c, 1);
}

/* printf-style append; the result is all or nothing. */
int hq_buf_vprintf(hq_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap2);
    va_end(ap2);
    if (n < 0) return HQ_ETOOBIG;
    if ((size_t)n < sizeof small) return hq_buf_append(b, small, (size_t)n);
    if (reserve(b, (size_t)n) != 0) return HQ_ETOOBIG;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int hq_buf_printf(hq_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = hq_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

/* Hands the data to the caller (free with hq_free) and re-inits the buffer;
 * an empty buffer yields an allocated "". */
char *hq_buf_steal(hq_buf *b, size_t *len)
{
    char *d = b->data;
    size_t l = b->len;
    if (!d) {
        d = hq_malloc(1);
        d[0] = '\0';
        l = 0;
    }
    if (len) *len = l;
    hq_buf_init(b, b->max);
    return d;
}

char *hq_i64_dec(char *p, long long v)
{
    char t[24];
    int n = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        t[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *p++ = '-';
    while (n)
        *p++ = t[--n];
    return p;
}

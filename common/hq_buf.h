/* hq_buf: a growable byte buffer, always NUL-terminated, with an optional cap.
 * Appending past the cap fails with HQ_ETOOBIG and leaves the buffer unchanged. */
#ifndef HQ_BUF_H
#define HQ_BUF_H
#include <stddef.h>
#include <stdarg.h>

#define HQ_ETOOBIG (-7001)

typedef struct hq_buf {
    char *data;   /* NUL-terminated; NULL until the first append */
    size_t len;   /* bytes used, excluding the terminator */
    size_t cap;   /* bytes allocated */
    size_t max;   /* 0 = unbounded; else len never exceeds max */
} hq_buf;

void hq_buf_init(hq_buf *b, size_t max);
void hq_buf_free(hq_buf *b);       /* frees data and re-inits (keeps max) */
void hq_buf_reset(hq_buf *b);      /* len = 0, keeps the allocation */
int hq_buf_append(hq_buf *b, const void *p, size_t n);   /* 0 or HQ_ETOOBIG */
int hq_buf_puts(hq_buf *b, const char *s);
int hq_buf_putc(hq_buf *b, char c);
int hq_buf_printf(hq_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int hq_buf_vprintf(hq_buf *b, const char *fmt, va_list ap);
/* Takes ownership of the data out of the buffer (caller frees with hq_free);
 * returns "" (allocated) for an empty buffer. */
char *hq_buf_steal(hq_buf *b, size_t *len);

/* Writes v in decimal at p (room for 20 bytes) without a terminator and
 * returns the end: the hot paths' replacement for snprintf("%lld"). */
char *hq_i64_dec(char *p, long long v);

#endif

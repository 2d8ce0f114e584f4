/* hq_alloc: the single allocation policy of hookq. Every allocation goes
 * through these wrappers; on out-of-memory they print the requested size and
 * abort (like Redis zmalloc_default_oom), so callers never test for NULL. */
#include "hq_fmacros.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "hq_alloc.h"

/* Reports the failed size with a single write(2) (no stdio allocation) and
 * aborts. Never returns. */
static void oom(size_t n)
{
    char msg[96];
    int len = snprintf(msg, sizeof msg, "hookq: out of memory allocating %zu bytes\n", n);
    if (len > 0) {
        ssize_t w = write(STDERR_FILENO, msg, (size_t)len);
        (void)w;
    }
    abort();
}

/* malloc(n); n == 0 allocates one byte so the result is always unique. */
void *hq_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

/* Zeroed array of count*n bytes; overflow of the product counts as OOM. */
void *hq_calloc(size_t count, size_t n)
{
    if (count == 0 || n == 0) { count = 1; n = 1; }
    void *p = calloc(count, n);
    if (!p) oom(count * n);
    return p;
}

/* realloc; p may be NULL. n == 0 keeps a 1-byte allocation (never frees). */
void *hq_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

/* Copy of a NUL-terminated string; s must not be NULL. */
char *hq_strdup(const char *s)
{
    size_t n = strlen(s);
    char *d = hq_malloc(n + 1);
    memcpy(d, s, n + 1);
    return d;
}

/* Copy of at most n bytes of s (stops at NUL), always NUL-terminated. */
char *hq_strndup(const char *s, size_t n)
{
    size_t l = strnlen(s, n);
    char *d = hq_malloc(l + 1);
    memcpy(d, s, l);
    d[l] = '\0';
    return d;
}

void hq_free(void *p)
{
    free(p);
}

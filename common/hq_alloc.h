/* Allocation policy: every hookq allocation goes through these; they abort with
 * the size on out-of-memory (like Redis zmalloc), so callers never check NULL. */
#ifndef HQ_ALLOC_H
#define HQ_ALLOC_H
#include <stddef.h>

void *hq_malloc(size_t n);
void *hq_calloc(size_t count, size_t n);
void *hq_realloc(void *p, size_t n);
char *hq_strdup(const char *s);
char *hq_strndup(const char *s, size_t n);
void hq_free(void *p);

#endif

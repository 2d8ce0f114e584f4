/* strmap: a small chained hash map from C strings to pointers, used for the
 * endpoint cache (epid -> epentry) and the set of held stream ids (sid ->
 * delivery). Keys are copied (into their entry: one allocation each);
 * values are not owned. Grows by doubling at load factor 1. */
#include "hq_fmacros.h"
#include <string.h>
#include "hq_alloc.h"
#include "hq_id.h"
#include "worker.h"

void strmap_init(strmap *m)
{
    m->nb = 16;
    m->n = 0;
    m->b = hq_calloc(m->nb, sizeof *m->b);
}

void strmap_free(strmap *m)
{
    if (!m->b)
        return;
    for (size_t i = 0; i < m->nb; i++) {
        strmap_ent *e = m->b[i];
        while (e) {
            strmap_ent *nx = e->next;
            hq_free(e);
            e = nx;
        }
    }
    hq_free(m->b);
    m->b = NULL;
    m->n = m->nb = 0;
}

static size_t slot(const strmap *m, const char *key)
{
    return hq_fnv1a(key, strlen(key)) & (m->nb - 1);
}

void *strmap_get(const strmap *m, const char *key)
{
    for (strmap_ent *e = m->b[slot(m, key)]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e->val;
    return NULL;
}

static void grow(strmap *m)
{
    size_t onb = m->nb;
    strmap_ent **ob = m->b;
    m->nb = onb * 2;
    m->b = hq_calloc(m->nb, sizeof *m->b);
    for (size_t i = 0; i < onb; i++) {
        strmap_ent *e = ob[i];
        while (e) {
            strmap_ent *nx = e->next;
            size_t s = slot(m, e->key);
            e->next = m->b[s];
            m->b[s] = e;
            e = nx;
        }
    }
    hq_free(ob);
}

void strmap_put(strmap *m, const char *key, void *val)
{
    size_t s = slot(m, key);
    for (strmap_ent *e = m->b[s]; e; e = e->next)
        if (strcmp(e->key, key) == 0) {
            e->val = val;
            return;
        }
    size_t kl = strlen(key) + 1;
    strmap_ent *e = hq_malloc(sizeof *e + kl);
    memcpy(e->key, key, kl);
    e->val = val;
    e->next = m->b[s];
    m->b[s] = e;
    if (++m->n > m->nb)
        grow(m);
}

void *strmap_del(strmap *m, const char *key)
{
    strmap_ent **pp = &m->b[slot(m, key)];
    for (; *pp; pp = &(*pp)->next) {
        strmap_ent *e = *pp;
        if (strcmp(e->key, key) == 0) {
            void *v = e->val;
            *pp = e->next;
            hq_free(e);
            m->n--;
            return v;
        }
    }
    return NULL;
}

void strmap_each(strmap *m, void (*fn)(const char *key, void *val, void *arg), void *arg)
{
    for (size_t i = 0; i < m->nb; i++) {
        strmap_ent *e = m->b[i];
        while (e) {
            strmap_ent *nx = e->next; /* fn may delete e */
            fn(e->key, e->val, arg);
            e = nx;
        }
    }
}

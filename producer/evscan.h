/* The fast path of POST /v1/events and /v1/events/batch (evscan.c): reads a
 * body in one pass over its bytes, without building a jansson tree, for the
 * bodies it can answer exactly as the jansson path would; declines the
 * others. */
#ifndef HQ_EVSCAN_H
#define HQ_EVSCAN_H
#include <stddef.h>
#include "hq_buf.h"

/* What a top-level event field held. */
enum {
    EVSCAN_ABSENT = 0,   /* no such key */
    EVSCAN_NULL,         /* null */
    EVSCAN_STRING,       /* a string: s/len are its bytes (no escapes, no NUL) */
    EVSCAN_OTHER,        /* any other value */
};

typedef struct evscan_field {
    int kind;            /* EVSCAN_* */
    const char *s;       /* EVSCAN_STRING: into the body, not NUL-terminated */
    size_t len;
} evscan_field;

/* One element of "events" (always a JSON object). */
typedef struct evscan_event {
    evscan_field type, org, id, created_at;
    int data_object;     /* 1 when "data" is an object */
    const char *data;    /* data_object: its canonical text (hq_json_write's
                            bytes): a span of the body when the body already
                            holds exactly those bytes, else NULL and the text
                            is at data_off in the caller's buffer */
    size_t data_off;
    size_t data_len;
} evscan_event;

/* Scans body (len bytes) as a JSON object whose "events" member is an
 * array of 1..max JSON objects. Returns the number of events, with *evs an
 * array of them (caller frees with hq_free; spans point into body), and
 * canonical data texts that are not spans of the body appended to out (the
 * caller's buffer, used by offset since it may move). Returns -1 (nothing
 * to free; out may hold bytes) to decline: the body is not well-formed
 * JSON, or uses what this scanner does not handle exactly (escapes in a key
 * or in a string value of type/org_id/id/created_at, duplicate keys, keys
 * starting with a digit, objects of more than 256 keys, nesting deeper
 * than 64, a number that overflows, "events" missing or not 1..max
 * objects). The caller then takes the jansson path, which also produces
 * the error answers. */
int producer_evscan_batch(const char *body, size_t len, int max, evscan_event **evs, hq_buf *out);
/* The same for a body that is one event object (POST /v1/events): 0 with
 * *ev filled, or -1 to decline. */
int producer_evscan_event(const char *body, size_t len, evscan_event *ev, hq_buf *out);

#endif

/* The delivered body, per payload format (SPEC 4 and 4a). The bytes are a
 * pure function of the stored event, so they are identical across retries. */
#ifndef HQ_PAYLOAD_H
#define HQ_PAYLOAD_H
#include <stdint.h>
#include <stddef.h>
#include "hq_buf.h"
#include "hq_endpoint.h"

typedef struct hq_event_view {
    const char *id;
    const char *type;
    const char *org_id;
    const char *created_at;  /* as stored: "2026-04-12T15:32:11Z" (or with .mmm) */
    int64_t ts_ms;           /* created_at in ms */
    const char *data;        /* canonical JSON object text */
    size_t data_len;
} hq_event_view;

/* hookq:         {"id":…,"type":…,"created_at":…,"org_id":…,"data":…}
 * event_payload: {"event":type,"timestamp":"…mmmZ","payload":data}
 * event_data:    {"event":type,"timestamp":created_at,"data":data}
 * Strings are written canonically (hq_json_write_string). 0 or HQ_ETOOBIG. */
int hq_payload_build(enum hq_payload_format f, const hq_event_view *ev, hq_buf *out);

#endif

/* hq_payload: builds the delivered body for each payload format (SPEC 4 and
 * 4a) from a stored event. The result is a pure function of the event, so
 * retries and endpoints get identical bytes. `data` is stored canonical
 * already and is copied verbatim. */
#include "hq_fmacros.h"
#include <string.h>
#include "hq_json.h"
#include "hq_payload.h"
#include "hq_time.h"

/* Appends "<sep>"key":" then the canonical string value. */
static int put_field(hq_buf *out, const char *sep_key, const char *val)
{
    if (hq_buf_puts(out, sep_key)) return HQ_ETOOBIG;
    return hq_json_write_string(out, val ? val : "", val ? strlen(val) : 0);
}

static int put_data(hq_buf *out, const char *sep_key, const hq_event_view *ev)
{
    if (hq_buf_puts(out, sep_key)) return HQ_ETOOBIG;
    if (!ev->data || ev->data_len == 0) return hq_buf_puts(out, "{}");
    return hq_buf_append(out, ev->data, ev->data_len);
}

/* Appends the body for format f to out. On HQ_ETOOBIG, out is restored to
 * its previous length. Unknown formats build the hookq form. */
int hq_payload_build(enum hq_payload_format f, const hq_event_view *ev, hq_buf *out)
{
    size_t start = out->len;
    int rc;
    switch (f) {
    case HQ_FMT_EVENT_PAYLOAD: {
        char ts[32];
        hq_rfc3339_ms(ev->ts_ms, ts);
        rc = put_field(out, "{\"event\":", ev->type);
        if (!rc) rc = put_field(out, ",\"timestamp\":", ts);
        if (!rc) rc = put_data(out, ",\"payload\":", ev);
        break;
    }
    case HQ_FMT_EVENT_DATA:
        rc = put_field(out, "{\"event\":", ev->type);
        if (!rc) rc = put_field(out, ",\"timestamp\":", ev->created_at);
        if (!rc) rc = put_data(out, ",\"data\":", ev);
        break;
    case HQ_FMT_HOOKQ:
    default:
        rc = put_field(out, "{\"id\":", ev->id);
        if (!rc) rc = put_field(out, ",\"type\":", ev->type);
        if (!rc) rc = put_field(out, ",\"created_at\":", ev->created_at);
        if (!rc) rc = put_field(out, ",\"org_id\":", ev->org_id);
        if (!rc) rc = put_data(out, ",\"data\":", ev);
        break;
    }
    if (!rc) rc = hq_buf_putc(out, '}');
    if (rc) {
        out->len = start;
        if (out->data) out->data[start] = '\0';
        return HQ_ETOOBIG;
    }
    return 0;
}

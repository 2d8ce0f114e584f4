/* libFuzzer target: what the producer does with an untrusted request body
 * before touching Redis. The bytes are parsed as the producer parses bodies
 * (hq_json_parse) and then:
 *  - validated as an event by the producer's own producer_event_validate
 *    (producer/events.c, linked in): on success the fields it hands to
 *    hookq_publish must hold their documented invariants;
 *  - validated as an endpoint (hq_endpoint_from_api, create and PATCH over a
 *    base): on success the stored form must round-trip, in clear and sealed
 *    with a master key, and the API view must not carry the secret. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hq_alloc.h"
#include "hq_crypto.h"
#include "hq_endpoint.h"
#include "hq_json.h"
#include "hq_match.h"
#include "hq_time.h"
#include "producer.h"

static hq_keyring *g_kr;

static void check_endpoint(const hq_endpoint *e)
{
    hq_endpoint back;
    char err[300];
    for (int sealed = 0; sealed < 2; sealed++) {
        const hq_keyring *kr = sealed ? g_kr : NULL;
        char *doc = hq_endpoint_to_storage(e, kr);
        if (hq_endpoint_from_storage(doc, strlen(doc), kr, &back, err, sizeof err) != 0) {
            fprintf(stderr, "stored endpoint does not load back (%s): %s\n", err, doc);
            abort();
        }
        char *again = hq_endpoint_to_storage(&back, NULL);
        char *first = sealed ? hq_endpoint_to_storage(e, NULL) : hq_strdup(doc);
        if (strcmp(again, first) != 0) {
            fprintf(stderr, "stored endpoint does not round-trip:\n%s\n%s\n", first, again);
            abort();
        }
        char pat[300];
        snprintf(pat, sizeof pat, "\"secret\":\"%s", e->secret ? e->secret : "");
        if (sealed && e->secret && strstr(doc, pat)) {
            fprintf(stderr, "sealed document holds the secret in clear\n");
            abort();
        }
        hq_free(first);
        hq_free(again);
        hq_free(doc);
        hq_endpoint_free(&back);
    }
    json_t *v = hq_endpoint_to_api(e, 0);
    if (json_object_get(v, "secret")) abort();
    json_decref(v);
    char *sub = hq_endpoint_sub(e);
    hq_free(sub);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_kr) {
        char err[200];
        if (hq_keyring_parse("fz:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", &g_kr, err, sizeof err) != 0)
            abort();
    }
    json_error_t jerr;
    json_t *in = hq_json_parse((const char *)data, size, &jerr);
    if (!in) return 0;

    producer_event ev;
    char field[160], msg[300];
    if (producer_event_validate(in, &ev, field, sizeof field, msg, sizeof msg) == 0) {
        if (!hq_type_valid(ev.type) || !ev.org[0] || !ev.id[0] || !ev.data) abort();
        int64_t ms;
        int frac;
        if (hq_parse_rfc3339(ev.ca, &ms, &frac) != 0 || ms != ev.ts_ms)
            abort();
        json_error_t e2;
        json_t *d = hq_json_parse(ev.data, ev.data_len, &e2);
        if (!json_is_object(d)) abort();
        json_decref(d);
        producer_event_free(&ev);
    } else if (!field[0] || !msg[0]) {
        abort();   /* a 422 must name the field and say why */
    }

    static const hq_endpoint_defaults defs = { "hookq", "X-Webhook-Signature", "sha256=hex", 0 };
    hq_endpoint e;
    if (hq_endpoint_from_api(in, NULL, &defs, &e, field, sizeof field, msg, sizeof msg) == 0) {
        snprintf(e.id, sizeof e.id, "ep_0123456789abcdef01234abc");
        check_endpoint(&e);
        /* the same body as a PATCH over what it created */
        hq_endpoint p;
        if (hq_endpoint_from_api(in, &e, &defs, &p, field, sizeof field, msg, sizeof msg) == 0) {
            check_endpoint(&p);
            hq_endpoint_free(&p);
        }
        hq_endpoint_free(&e);
    } else if (!field[0] || !msg[0]) {
        abort();
    }
    json_decref(in);
    return 0;
}

/* Endpoints (subscriptions): validation of API input, the stored form in
 * Redis (a JSON document in the endpoint hash's "cfg" field, secrets
 * included: sealed when a master key is configured), and the API form
 * (never the secret, except once on create and rotate). Shared by the
 * producer (writes) and the worker (reads). */
#ifndef HQ_ENDPOINT_H
#define HQ_ENDPOINT_H
#include <stdint.h>
#include <jansson.h>
#include "hq_time.h"
#include "hq_id.h"
#include "hq_crypto.h"

enum hq_auth_type { HQ_AUTH_NONE = 0, HQ_AUTH_BASIC, HQ_AUTH_API_KEY, HQ_AUTH_BEARER };
enum hq_payload_format { HQ_FMT_HOOKQ = 0, HQ_FMT_EVENT_PAYLOAD, HQ_FMT_EVENT_DATA };
enum hq_sig_format { HQ_SIG_SHA256_HEX = 0, HQ_SIG_HEX, HQ_SIG_NONE };

typedef struct hq_header {
    char *name;
    char *value;
} hq_header;

/* Deployment-wide defaults for fields an endpoint may leave out. */
typedef struct hq_endpoint_defaults {
    const char *payload_format;    /* HOOKQ_PAYLOAD_FORMAT, "hookq" */
    const char *signature_header;  /* HOOKQ_SIGNATURE_HEADER, "X-Webhook-Signature" */
    const char *signature_format;  /* HOOKQ_SIGNATURE_FORMAT, "sha256=hex" */
    int require_https;             /* HOOKQ_REQUIRE_HTTPS */
} hq_endpoint_defaults;

typedef struct hq_endpoint {
    char id[HQ_ID_LEN];
    char *org_id;
    char *name;              /* may be NULL */
    char *description;       /* may be NULL */
    char *url;
    char **events;           /* nevents patterns, each hq_pattern_valid */
    int nevents;
    int is_active;
    enum hq_auth_type auth_type;
    char *auth_username;     /* basic */
    char *auth_password;     /* basic */
    char *auth_key;          /* api_key: X-API-KEY value; bearer: the token */
    hq_header *headers;      /* custom static headers */
    int nheaders;
    char *signature_header;
    enum hq_sig_format signature_format;
    enum hq_payload_format payload_format;
    int has_schedule;        /* else the deployment's HOOKQ_RETRY_SCHEDULE */
    hq_schedule schedule;
    int timeout_ms;          /* 0 = the deployment's HOOKQ_TIMEOUT */
    int rate_limit_per_sec;  /* 0 = none */
    char *secret;            /* current signing secret */
    char *old_secret;        /* previous secret during rotation, or NULL */
    int64_t old_secret_until_ms;
    int64_t created_ms;
    int64_t updated_ms;
    char *disabled_reason;   /* set when hookq disabled it (410, failing too long) */
    int64_t disabled_ms;
} hq_endpoint;

/* Validates API JSON into out. For create, base is NULL and every required
 * field must be present; for PATCH, base is the current endpoint and only the
 * given fields change. On error returns -1 and names the field (e.g. "url",
 * "events[2]", "auth.type") in field and a sentence in msg (-> 422). */
int hq_endpoint_from_api(const json_t *in, const hq_endpoint *base, const hq_endpoint_defaults *d,
                         hq_endpoint *out, char *field, size_t fieldlen, char *msg, size_t msglen);
/* The stored JSON (secrets included). With a keyring (HOOKQ_MASTER_KEY),
 * secret, old_secret, auth password and auth key are sealed with its current
 * key (hq_crypto.h; AAD = endpoint id + field name) and the document says
 * "sealed":true; with kr NULL they are stored in clear. Caller frees with
 * hq_free. */
char *hq_endpoint_to_storage(const hq_endpoint *e, const hq_keyring *kr);
/* Loads the stored JSON, opening sealed values with kr (may be NULL).
 * Returns 0; -1 if the document is corrupt (out is empty); or
 * HQ_EP_ESEALED if the document is sound but a sealed value cannot be
 * opened (key id not in kr, no kr, tampered): out then holds every other
 * field, with secret, old_secret, auth_password and auth_key NULL, and the
 * caller frees it. err (may be NULL) gets a sentence without secrets. */
#define HQ_EP_ESEALED (-2)
int hq_endpoint_from_storage(const char *json, size_t len, const hq_keyring *kr, hq_endpoint *out, char *err,
                             size_t errlen);
/* The API view: no secret unless include_secret. New reference. */
json_t *hq_endpoint_to_api(const hq_endpoint *e, int include_secret);
/* " pat1 pat2 " - the subscription string the Lua fan-out matches against. */
char *hq_endpoint_sub(const hq_endpoint *e);
/* Deep copy; frees. */
void hq_endpoint_copy(hq_endpoint *dst, const hq_endpoint *src);
void hq_endpoint_free(hq_endpoint *e);

const char *hq_payload_format_name(enum hq_payload_format f);
const char *hq_sig_format_name(enum hq_sig_format f);
const char *hq_auth_type_name(enum hq_auth_type t);
int hq_payload_format_parse(const char *s, enum hq_payload_format *f);
int hq_sig_format_parse(const char *s, enum hq_sig_format *f);

#endif

/* hq_endpoint: endpoints (subscriptions). Three forms of one endpoint:
 *  - API input, validated field by field into struct hq_endpoint (create, or
 *    PATCH over a base); errors name the field ("url", "events[2]",
 *    "auth.type", "headers.X-Foo") for a 422 answer;
 *  - the stored form: a JSON document kept in the endpoint hash's "cfg"
 *    field, secrets included, which the worker loads; to_storage and
 *    from_storage round-trip exactly. With a master keyring the secret,
 *    old secret, auth password and auth key are sealed (AES-256-GCM,
 *    hq_crypto.c) and bound to the endpoint id and field name;
 *  - the API view: never a password, key, token or secret (the secret only
 *    when asked, on create).
 * The live fields that the worker changes (active flag, disabled reason,
 * failure streak) live in the hash beside cfg; the producer merges them. */
#include "hq_fmacros.h"
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include "hq_alloc.h"
#include "hq_json.h"
#include "hq_crypto.h"
#include "hq_endpoint.h"
#include "hq_match.h"
#include "hq_sign.h"
#include "hq_time.h"

#define EP_ORG_MAX 128
#define EP_URL_MAX 2048
#define EP_EVENTS_MAX 256
#define EP_NAME_MAX 256
#define EP_DESC_MAX 1024
#define EP_HEADERS_MAX 50
#define EP_HEADER_NAME_MAX 128
#define EP_HEADER_VALUE_MAX 8192
#define EP_CRED_MAX 4096

static const char *payload_names[] = { "hookq", "event_payload", "event_data" };
static const char *sig_names[] = { "sha256=hex", "hex", "none" };
static const char *auth_names[] = { "none", "basic", "api_key", "bearer" };

const char *hq_payload_format_name(enum hq_payload_format f)
{
    return (unsigned)f < 3 ? payload_names[f] : "hookq";
}

const char *hq_sig_format_name(enum hq_sig_format f)
{
    return (unsigned)f < 3 ? sig_names[f] : "sha256=hex";
}

const char *hq_auth_type_name(enum hq_auth_type t)
{
    return (unsigned)t < 4 ? auth_names[t] : "none";
}

int hq_payload_format_parse(const char *s, enum hq_payload_format *f)
{
    for (int i = 0; s && i < 3; i++)
        if (strcmp(s, payload_names[i]) == 0) {
            *f = (enum hq_payload_format)i;
            return 0;
        }
    return -1;
}

int hq_sig_format_parse(const char *s, enum hq_sig_format *f)
{
    for (int i = 0; s && i < 3; i++)
        if (strcmp(s, sig_names[i]) == 0) {
            *f = (enum hq_sig_format)i;
            return 0;
        }
    return -1;
}

static int auth_type_parse(const char *s, enum hq_auth_type *t)
{
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, auth_names[i]) == 0) {
            *t = (enum hq_auth_type)i;
            return 0;
        }
    return -1;
}

static char *dup_or_null(const char *s)
{
    return s ? hq_strdup(s) : NULL;
}

void hq_endpoint_free(hq_endpoint *e)
{
    if (!e) return;
    hq_free(e->org_id);
    hq_free(e->name);
    hq_free(e->description);
    hq_free(e->url);
    for (int i = 0; i < e->nevents; i++) hq_free(e->events[i]);
    hq_free(e->events);
    hq_free(e->auth_username);
    hq_free(e->auth_password);
    hq_free(e->auth_key);
    for (int i = 0; i < e->nheaders; i++) {
        hq_free(e->headers[i].name);
        hq_free(e->headers[i].value);
    }
    hq_free(e->headers);
    hq_free(e->signature_header);
    hq_free(e->secret);
    hq_free(e->old_secret);
    hq_free(e->disabled_reason);
    memset(e, 0, sizeof *e);
}

void hq_endpoint_copy(hq_endpoint *dst, const hq_endpoint *src)
{
    *dst = *src;
    dst->org_id = dup_or_null(src->org_id);
    dst->name = dup_or_null(src->name);
    dst->description = dup_or_null(src->description);
    dst->url = dup_or_null(src->url);
    dst->events = src->nevents ? hq_calloc((size_t)src->nevents, sizeof(char *)) : NULL;
    for (int i = 0; i < src->nevents; i++) dst->events[i] = hq_strdup(src->events[i]);
    dst->auth_username = dup_or_null(src->auth_username);
    dst->auth_password = dup_or_null(src->auth_password);
    dst->auth_key = dup_or_null(src->auth_key);
    dst->headers = src->nheaders ? hq_calloc((size_t)src->nheaders, sizeof(hq_header)) : NULL;
    for (int i = 0; i < src->nheaders; i++) {
        dst->headers[i].name = hq_strdup(src->headers[i].name);
        dst->headers[i].value = hq_strdup(src->headers[i].value);
    }
    dst->signature_header = dup_or_null(src->signature_header);
    dst->secret = dup_or_null(src->secret);
    dst->old_secret = dup_or_null(src->old_secret);
    dst->disabled_reason = dup_or_null(src->disabled_reason);
}

char *hq_endpoint_sub(const hq_endpoint *e)
{
    size_t n = 2;
    for (int i = 0; i < e->nevents; i++) n += strlen(e->events[i]) + 1;
    char *s = hq_malloc(n + 1);
    size_t j = 0;
    s[j++] = ' ';
    for (int i = 0; i < e->nevents; i++) {
        size_t l = strlen(e->events[i]);
        memcpy(s + j, e->events[i], l);
        j += l;
        s[j++] = ' ';
    }
    if (e->nevents == 0) s[j++] = ' ';
    s[j] = '\0';
    return s;
}

/* ---- validation helpers ---- */

struct verr {
    char *field;
    size_t fieldlen;
    char *msg;
    size_t msglen;
};

static int fail(struct verr *v, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct verr *v, const char *field, const char *fmt, ...)
{
    if (v->field && v->fieldlen) snprintf(v->field, v->fieldlen, "%s", field);
    if (v->msg && v->msglen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(v->msg, v->msglen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1;
    return 0;
}

static int has_crlf(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

static int is_tchar(int c)
{
    return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int token_valid(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80 || !is_tchar((unsigned char)*s)) return 0;
    return 1;
}

/* Integral JSON number within [min, max]. */
static int jint(const json_t *v, long long min, long long max, long long *out)
{
    if (!json_is_number(v)) return -1;
    double d = json_number_value(v);
    if (d != d || d < (double)min || d > (double)max) return -1;
    long long x = (long long)d;
    if ((double)x != d) return -1;
    *out = x;
    return 0;
}

static int url_valid(const char *url, int require_https, struct verr *v)
{
    if (strlen(url) > EP_URL_MAX) return fail(v, "url", "url must be at most %d characters", EP_URL_MAX);
    if (!*url) return fail(v, "url", "url must not be empty");
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return fail(v, "url", "url must not contain spaces or control characters");
    const char *sep = strstr(url, "://");
    if (!sep || sep[3] == '/' || sep[3] == '\0') return fail(v, "url", "url must be an absolute http(s) URL with a host");
    CURLU *h = curl_url();
    if (!h) return fail(v, "url", "url cannot be parsed");
    int rc = 0;
    char *scheme = NULL, *host = NULL, *user = NULL, *pass = NULL;
    if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK) {
        rc = fail(v, "url", "url is not a valid absolute http(s) URL");
        goto out;
    }
    if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || !scheme ||
        (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        rc = fail(v, "url", "url scheme must be http or https");
        goto out;
    }
    if (require_https && strcasecmp(scheme, "https") != 0) {
        rc = fail(v, "url", "url must use https (HOOKQ_REQUIRE_HTTPS=1)");
        goto out;
    }
    if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host) {
        rc = fail(v, "url", "url must have a host");
        goto out;
    }
    if (curl_url_get(h, CURLUPART_USER, &user, 0) == CURLUE_OK ||
        curl_url_get(h, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK) {
        rc = fail(v, "url", "url must not contain credentials; use auth instead");
        goto out;
    }
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(pass);
    curl_url_cleanup(h);
    return rc;
}

/* Headers hookq sets itself (or that would break the request). */
static int header_reserved(const char *name, const hq_endpoint *e)
{
    static const char *fixed[] = { "content-type", "content-length", "host", "user-agent",
                                   "transfer-encoding", "connection", "expect", "te",
                                   "trailer", "upgrade", "keep-alive", "proxy-authorization", NULL };
    for (int i = 0; fixed[i]; i++)
        if (strcasecmp(name, fixed[i]) == 0) return 1;
    if (strncasecmp(name, "x-webhook-", 10) == 0 || strncasecmp(name, "webhook-", 8) == 0) return 1;
    if (e->signature_header && strcasecmp(name, e->signature_header) == 0) return 1;
    if ((e->auth_type == HQ_AUTH_BASIC || e->auth_type == HQ_AUTH_BEARER) &&
        strcasecmp(name, "authorization") == 0)
        return 1;
    if (e->auth_type == HQ_AUTH_API_KEY && strcasecmp(name, "x-api-key") == 0) return 1;
    return 0;
}

static void free_events(hq_endpoint *e)
{
    for (int i = 0; i < e->nevents; i++) hq_free(e->events[i]);
    hq_free(e->events);
    e->events = NULL;
    e->nevents = 0;
}

static void free_headers(hq_endpoint *e)
{
    for (int i = 0; i < e->nheaders; i++) {
        hq_free(e->headers[i].name);
        hq_free(e->headers[i].value);
    }
    hq_free(e->headers);
    e->headers = NULL;
    e->nheaders = 0;
}

static void clear_auth(hq_endpoint *e)
{
    hq_free(e->auth_username);
    hq_free(e->auth_password);
    hq_free(e->auth_key);
    e->auth_username = e->auth_password = e->auth_key = NULL;
    e->auth_type = HQ_AUTH_NONE;
}

static void set_str(char **dst, const char *s)
{
    hq_free(*dst);
    *dst = s ? hq_strdup(s) : NULL;
}

static int set_events(hq_endpoint *e, const json_t *v, struct verr *ve)
{
    if (json_is_null(v)) {
        free_events(e);
        e->events = hq_calloc(1, sizeof(char *));
        e->events[0] = hq_strdup("*");
        e->nevents = 1;
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0)
        return fail(ve, "events", "events must be a non-empty array of event types or patterns");
    if (json_array_size(v) > EP_EVENTS_MAX)
        return fail(ve, "events", "events must have at most %d entries", EP_EVENTS_MAX);
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it) {
        const char *s = hq_json_str(it);
        if (!s || !hq_pattern_valid(s)) {
            char f[32];
            snprintf(f, sizeof f, "events[%zu]", i);
            return fail(ve, f, "%s must be an event type (lead.created), a prefix pattern (lead.*) or *", f);
        }
    }
    free_events(e);
    e->nevents = (int)json_array_size(v);
    e->events = hq_calloc((size_t)e->nevents, sizeof(char *));
    json_array_foreach(v, i, it) e->events[i] = hq_strdup(json_string_value(it));
    return 0;
}

static int cred_valid(const char *s, size_t min)
{
    return s && strlen(s) >= min && strlen(s) <= EP_CRED_MAX && !has_ctl(s);
}

static int set_auth(hq_endpoint *e, const json_t *v, struct verr *ve)
{
    if (json_is_null(v)) {
        clear_auth(e);
        return 0;
    }
    if (!json_is_object(v)) return fail(ve, "auth", "auth must be an object with a type");
    const char *ts = hq_json_str(json_object_get(v, "type"));
    enum hq_auth_type t;
    if (!ts || auth_type_parse(ts, &t) != 0)
        return fail(ve, "auth.type", "auth.type must be one of none, basic, api_key, bearer");
    const char *user = NULL, *pass = NULL, *key = NULL;
    switch (t) {
    case HQ_AUTH_NONE:
        break;
    case HQ_AUTH_BASIC:
        user = hq_json_str(json_object_get(v, "username"));
        pass = hq_json_str(json_object_get(v, "password"));
        if (!cred_valid(user, 1) || strchr(user, ':'))
            return fail(ve, "auth.username", "auth.username is required for basic auth (no ':' or control characters)");
        if (!cred_valid(pass, 0))
            return fail(ve, "auth.password", "auth.password is required for basic auth (no control characters)");
        break;
    case HQ_AUTH_API_KEY: {
        const json_t *k = json_object_get(v, "key");
        const char *kf = "auth.key";
        if (!k) k = json_object_get(v, "api_key"), kf = "auth.api_key";
        if (!k) k = json_object_get(v, "value"), kf = "auth.value";
        if (!k) kf = "auth.key";
        key = hq_json_str(k);
        if (!cred_valid(key, 1))
            return fail(ve, kf, "%s is required for api_key auth (1-%d characters, no control characters)", kf, EP_CRED_MAX);
        break;
    }
    case HQ_AUTH_BEARER:
        key = hq_json_str(json_object_get(v, "token"));
        if (!cred_valid(key, 1))
            return fail(ve, "auth.token", "auth.token is required for bearer auth (1-%d characters, no control characters)", EP_CRED_MAX);
        break;
    }
    clear_auth(e);
    e->auth_type = t;
    e->auth_username = dup_or_null(user);
    e->auth_password = dup_or_null(pass);
    e->auth_key = dup_or_null(key);
    return 0;
}

static int set_headers(hq_endpoint *e, const json_t *v, struct verr *ve)
{
    if (json_is_null(v)) {
        free_headers(e);
        return 0;
    }
    if (!json_is_object(v)) return fail(ve, "headers", "headers must be an object of header name to string value");
    if (json_object_size(v) > EP_HEADERS_MAX)
        return fail(ve, "headers", "headers must have at most %d entries", EP_HEADERS_MAX);
    const char *k;
    json_t *it;
    json_object_foreach((json_t *)v, k, it) {
        char f[EP_HEADER_NAME_MAX + 16];
        snprintf(f, sizeof f, "headers.%s", k);
        if (strlen(k) > EP_HEADER_NAME_MAX || !token_valid(k))
            return fail(ve, "headers", "header name '%.64s' is not a valid HTTP header name", k);
        const char *s = hq_json_str(it);
        if (!s || strlen(s) > EP_HEADER_VALUE_MAX || has_crlf(s) || (has_ctl(s) && strchr(s, '\t') == NULL))
            return fail(ve, f, "%s must be a string without CR, LF or control characters (at most %d bytes)",
                        f, EP_HEADER_VALUE_MAX);
        const char *k2;
        json_t *it2;
        json_object_foreach((json_t *)v, k2, it2) {
            if (k2 == k) break;
            if (strcasecmp(k, k2) == 0) return fail(ve, f, "header %s is given twice", k);
        }
    }
    free_headers(e);
    e->nheaders = (int)json_object_size(v);
    e->headers = e->nheaders ? hq_calloc((size_t)e->nheaders, sizeof(hq_header)) : NULL;
    int i = 0;
    json_object_foreach((json_t *)v, k, it) {
        e->headers[i].name = hq_strdup(k);
        e->headers[i].value = hq_strdup(json_string_value(it));
        i++;
    }
    return 0;
}

/* Field-by-field application of in onto e. */
static int apply(hq_endpoint *e, const json_t *in, int creating, const hq_endpoint_defaults *d,
                 struct verr *ve)
{
    const json_t *v;
    const char *s;

    v = json_object_get(in, "org_id");
    if (creating) {
        s = hq_json_str(v);
        if (!s || !*s || hq_utf8_len(s) > EP_ORG_MAX || has_ctl(s))
            return fail(ve, "org_id", "org_id is required: a string of 1-%d characters", EP_ORG_MAX);
        set_str(&e->org_id, s);
    } else if (v) {
        s = hq_json_str(v);
        if (!s || strcmp(s, e->org_id) != 0) return fail(ve, "org_id", "org_id cannot be changed");
    }

    v = json_object_get(in, "url");
    if (v || creating) {
        s = hq_json_str(v);
        if (!s) return fail(ve, "url", "url is required: an http or https URL");
        if (url_valid(s, d ? d->require_https : 0, ve) != 0) return -1;
        set_str(&e->url, s);
    }

    if ((v = json_object_get(in, "name"))) {
        if (json_is_null(v)) set_str(&e->name, NULL);
        else if (!(s = hq_json_str(v)) || hq_utf8_len(s) > EP_NAME_MAX)
            return fail(ve, "name", "name must be a string of at most %d characters", EP_NAME_MAX);
        else set_str(&e->name, s);
    }
    if ((v = json_object_get(in, "description"))) {
        if (json_is_null(v)) set_str(&e->description, NULL);
        else if (!(s = hq_json_str(v)) || hq_utf8_len(s) > EP_DESC_MAX)
            return fail(ve, "description", "description must be a string of at most %d characters", EP_DESC_MAX);
        else set_str(&e->description, s);
    }
    if ((v = json_object_get(in, "events")) && set_events(e, v, ve) != 0) return -1;
    if ((v = json_object_get(in, "is_active"))) {
        if (!json_is_boolean(v)) return fail(ve, "is_active", "is_active must be true or false");
        e->is_active = json_is_true(v);
    }
    if ((v = json_object_get(in, "auth")) && set_auth(e, v, ve) != 0) return -1;
    if ((v = json_object_get(in, "signature_header"))) {
        if (json_is_null(v)) {
            set_str(&e->signature_header, d && d->signature_header ? d->signature_header : "X-Webhook-Signature");
        } else {
            s = hq_json_str(v);
            if (!s || strlen(s) > EP_HEADER_NAME_MAX || !token_valid(s))
                return fail(ve, "signature_header", "signature_header must be a valid HTTP header name");
            set_str(&e->signature_header, s);
        }
    }
    if ((v = json_object_get(in, "signature_format"))) {
        const char *def = d && d->signature_format ? d->signature_format : "sha256=hex";
        s = json_is_null(v) ? def : hq_json_str(v);
        if (!s || hq_sig_format_parse(s, &e->signature_format) != 0)
            return fail(ve, "signature_format", "signature_format must be one of sha256=hex, hex, none");
    }
    if ((v = json_object_get(in, "payload_format"))) {
        const char *def = d && d->payload_format ? d->payload_format : "hookq";
        s = json_is_null(v) ? def : hq_json_str(v);
        if (!s || hq_payload_format_parse(s, &e->payload_format) != 0)
            return fail(ve, "payload_format", "payload_format must be one of hookq, event_payload, event_data");
    }
    if ((v = json_object_get(in, "headers")) && set_headers(e, v, ve) != 0) return -1;
    if ((v = json_object_get(in, "secret"))) {
        if (!creating)
            return fail(ve, "secret", "secret cannot be changed here; use POST /v1/endpoints/{id}/rotate-secret");
        if (!json_is_null(v)) {
            s = hq_json_str(v);
            if (!s || !hq_secret_valid(s))
                return fail(ve, "secret", "secret must be 16-256 printable ASCII characters");
            set_str(&e->secret, s);
        }
    }
    if ((v = json_object_get(in, "retry_schedule"))) {
        if (json_is_null(v)) {
            e->has_schedule = 0;
            memset(&e->schedule, 0, sizeof e->schedule);
        } else {
            hq_schedule sc;
            s = hq_json_str(v);
            if (!s || hq_parse_schedule(s, &sc) != 0)
                return fail(ve, "retry_schedule",
                            "retry_schedule must be comma-separated durations such as \"1m,5m,30m,2h,24h\"");
            e->has_schedule = 1;
            e->schedule = sc;
        }
    }
    if ((v = json_object_get(in, "timeout_ms"))) {
        long long x;
        if (json_is_null(v)) e->timeout_ms = 0;
        else if (jint(v, 1000, 30000, &x) != 0)
            return fail(ve, "timeout_ms", "timeout_ms must be an integer from 1000 to 30000");
        else e->timeout_ms = (int)x;
    }
    if ((v = json_object_get(in, "rate_limit_per_sec"))) {
        long long x;
        if (json_is_null(v)) e->rate_limit_per_sec = 0;
        else if (jint(v, 0, 100000, &x) != 0)
            return fail(ve, "rate_limit_per_sec", "rate_limit_per_sec must be an integer from 0 to 100000");
        else e->rate_limit_per_sec = (int)x;
    }

    /* cross-field checks on the result */
    static const char *sig_reserved[] = { "content-type", "content-length", "host", "user-agent",
                                          "transfer-encoding", "connection", "x-webhook-id",
                                          "x-webhook-event", "x-webhook-timestamp", "x-webhook-attempt",
                                          "webhook-id", "webhook-timestamp", "webhook-signature", NULL };
    for (int i = 0; sig_reserved[i]; i++)
        if (strcasecmp(e->signature_header, sig_reserved[i]) == 0)
            return fail(ve, "signature_header", "signature_header cannot be %s", e->signature_header);
    if (((e->auth_type == HQ_AUTH_BASIC || e->auth_type == HQ_AUTH_BEARER) &&
         strcasecmp(e->signature_header, "authorization") == 0) ||
        (e->auth_type == HQ_AUTH_API_KEY && strcasecmp(e->signature_header, "x-api-key") == 0))
        return fail(ve, "signature_header", "signature_header collides with the auth header");
    for (int i = 0; i < e->nheaders; i++) {
        if (header_reserved(e->headers[i].name, e)) {
            char f[EP_HEADER_NAME_MAX + 16];
            snprintf(f, sizeof f, "headers.%s", e->headers[i].name);
            return fail(ve, f, "header %s is set by hookq and cannot be overridden", e->headers[i].name);
        }
    }
    return 0;
}

int hq_endpoint_from_api(const json_t *in, const hq_endpoint *base, const hq_endpoint_defaults *d,
                         hq_endpoint *out, char *field, size_t fieldlen, char *msg, size_t msglen)
{
    struct verr ve = { field, fieldlen, msg, msglen };
    if (field && fieldlen) field[0] = '\0';
    if (msg && msglen) msg[0] = '\0';
    hq_endpoint e;
    memset(&e, 0, sizeof e);
    if (!json_is_object(in)) {
        memset(out, 0, sizeof *out);
        return fail(&ve, "body", "the body must be a JSON object");
    }
    if (base) {
        hq_endpoint_copy(&e, base);
    } else {
        e.is_active = 1;
        e.signature_header = hq_strdup(d && d->signature_header ? d->signature_header : "X-Webhook-Signature");
        if (hq_sig_format_parse(d && d->signature_format ? d->signature_format : "sha256=hex",
                                &e.signature_format) != 0)
            e.signature_format = HQ_SIG_SHA256_HEX;
        if (hq_payload_format_parse(d && d->payload_format ? d->payload_format : "hookq",
                                    &e.payload_format) != 0)
            e.payload_format = HQ_FMT_HOOKQ;
        e.events = hq_calloc(1, sizeof(char *));
        e.events[0] = hq_strdup("*");
        e.nevents = 1;
    }
    if (apply(&e, in, base == NULL, d, &ve) != 0) {
        hq_endpoint_free(&e);
        memset(out, 0, sizeof *out);
        return -1;
    }
    if (!e.secret) {
        char sec[64];
        hq_secret_generate(sec);
        e.secret = hq_strdup(sec);
    }
    *out = e;
    return 0;
}

/* ---- stored form ---- */

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* A secret field's stored value: sealed (AAD = endpoint id + field) with kr,
 * else the clear string; null when s is NULL. */
static json_t *secret_out(const hq_endpoint *e, const hq_keyring *kr, const char *field, const char *s)
{
    if (!s) return json_null();
    if (!kr) return json_string(s);
    char *sealed = hq_crypto_seal(kr, s, strlen(s), e->id, field);
    json_t *v = json_string(sealed);
    hq_free(sealed);
    return v;
}

/* The fields the stored and the API form share, in the same order:
 * identity and subscription, then the delivery formats. */
static void put_identity(json_t *o, const hq_endpoint *e)
{
    json_object_set_new(o, "id", json_string(e->id));
    json_object_set_new(o, "org_id", str_or_null(e->org_id));
    json_object_set_new(o, "name", str_or_null(e->name));
    json_object_set_new(o, "description", str_or_null(e->description));
    json_object_set_new(o, "url", str_or_null(e->url));
    json_t *ev = json_array();
    for (int i = 0; i < e->nevents; i++) json_array_append_new(ev, json_string(e->events[i]));
    json_object_set_new(o, "events", ev);
    json_object_set_new(o, "is_active", json_boolean(e->is_active));
}

static void put_formats(json_t *o, const hq_endpoint *e)
{
    json_object_set_new(o, "signature_header", str_or_null(e->signature_header));
    json_object_set_new(o, "signature_format", json_string(hq_sig_format_name(e->signature_format)));
    json_object_set_new(o, "payload_format", json_string(hq_payload_format_name(e->payload_format)));
}

char *hq_endpoint_to_storage(const hq_endpoint *e, const hq_keyring *kr)
{
    json_t *o = json_object();
    json_object_set_new(o, "v", json_integer(1));
    if (kr) json_object_set_new(o, "sealed", json_true());
    put_identity(o, e);
    json_t *a = json_object();
    json_object_set_new(a, "type", json_string(hq_auth_type_name(e->auth_type)));
    if (e->auth_username) json_object_set_new(a, "username", json_string(e->auth_username));
    if (e->auth_password) json_object_set_new(a, "password", secret_out(e, kr, "auth.password", e->auth_password));
    if (e->auth_key) json_object_set_new(a, "key", secret_out(e, kr, "auth.key", e->auth_key));
    json_object_set_new(o, "auth", a);
    json_t *h = json_array();
    for (int i = 0; i < e->nheaders; i++)
        json_array_append_new(h, json_pack("[ss]", e->headers[i].name, e->headers[i].value));
    json_object_set_new(o, "headers", h);
    put_formats(o, e);
    if (e->has_schedule) {
        json_t *s = json_array();
        for (int i = 0; i < e->schedule.n; i++) json_array_append_new(s, json_integer(e->schedule.delay_ms[i]));
        json_object_set_new(o, "retry_schedule", s);
    } else {
        json_object_set_new(o, "retry_schedule", json_null());
    }
    json_object_set_new(o, "timeout_ms", json_integer(e->timeout_ms));
    json_object_set_new(o, "rate_limit_per_sec", json_integer(e->rate_limit_per_sec));
    json_object_set_new(o, "secret", secret_out(e, kr, "secret", e->secret));
    json_object_set_new(o, "old_secret", secret_out(e, kr, "old_secret", e->old_secret));
    json_object_set_new(o, "old_secret_until", json_integer(e->old_secret_until_ms));
    json_object_set_new(o, "created", json_integer(e->created_ms));
    json_object_set_new(o, "updated", json_integer(e->updated_ms));
    json_object_set_new(o, "disabled_reason", str_or_null(e->disabled_reason));
    json_object_set_new(o, "disabled_at", json_integer(e->disabled_ms));
    char *tmp = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char *out = hq_strdup(tmp ? tmp : "{}");
    free(tmp);
    return out;
}

/* Optional string field: absent or null -> NULL; else a copy. -1 if wrong type. */
static int load_str(const json_t *o, const char *k, char **dst)
{
    const json_t *v = json_object_get(o, k);
    *dst = NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) return -1;
    *dst = hq_strdup(json_string_value(v));
    return 0;
}

static long long load_int(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? json_integer_value(v) : 0;
}

/* State of one from_storage call's secret fields. */
struct seal_ctx {
    const hq_keyring *kr;
    int sealed;        /* the document says "sealed":true */
    const char *id;
    int failed;        /* a sealed value did not open */
    char *err;         /* the first failure's sentence (may be NULL) */
    size_t errlen;
};

/* Loads secret field k of o (stored name field) into *dst: a copy of the
 * clear string, or the opened sealed value. -1 if the field has the wrong
 * type or is not sealed in a sealed document; a sealed value that does not
 * open leaves *dst NULL and marks sc->failed. */
static int load_secret(const json_t *o, const char *k, const char *field, struct seal_ctx *sc, char **dst)
{
    *dst = NULL;
    const json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) return -1;
    const char *s = json_string_value(v);
    if (!sc->sealed) {
        *dst = hq_strdup(s);
        return 0;
    }
    if (!hq_crypto_is_sealed(s)) return -1;
    char why[200];
    if (hq_crypto_open(sc->kr, s, sc->id, field, dst, NULL, why, sizeof why) != 0) {
        if (!sc->failed && sc->err && sc->errlen)
            snprintf(sc->err, sc->errlen, "endpoint %s: %s cannot be decrypted: %s", sc->id, field, why);
        sc->failed = 1;
        *dst = NULL;
    }
    return 0;
}

int hq_endpoint_from_storage(const char *json, size_t len, const hq_keyring *kr, hq_endpoint *out, char *err,
                             size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen) snprintf(err, errlen, "endpoint config is corrupt");
    json_error_t jerr;
    json_t *o = json_loadb(json, len, 0, &jerr);
    if (!json_is_object(o)) {
        json_decref(o);
        return -1;
    }
    hq_endpoint e;
    memset(&e, 0, sizeof e);
    const char *id = json_string_value(json_object_get(o, "id"));
    if (!id || strlen(id) >= HQ_ID_LEN) goto bad;
    snprintf(e.id, sizeof e.id, "%s", id);
    struct seal_ctx sc = { kr, json_is_true(json_object_get(o, "sealed")), e.id, 0, err, errlen };
    if (load_str(o, "org_id", &e.org_id) || !e.org_id) goto bad;
    if (load_str(o, "name", &e.name) || load_str(o, "description", &e.description)) goto bad;
    if (load_str(o, "url", &e.url) || !e.url) goto bad;
    json_t *ev = json_object_get(o, "events");
    if (!json_is_array(ev)) goto bad;
    e.nevents = (int)json_array_size(ev);
    e.events = e.nevents ? hq_calloc((size_t)e.nevents, sizeof(char *)) : NULL;
    for (int i = 0; i < e.nevents; i++) {
        const char *s = json_string_value(json_array_get(ev, (size_t)i));
        e.events[i] = hq_strdup(s ? s : "");
        if (!s) goto bad;
    }
    json_t *act = json_object_get(o, "is_active");
    e.is_active = act ? json_is_true(act) : 1;
    json_t *a = json_object_get(o, "auth");
    if (a) {
        if (!json_is_object(a) || auth_type_parse(json_string_value(json_object_get(a, "type")), &e.auth_type) != 0)
            goto bad;
        if (load_str(a, "username", &e.auth_username) ||
            load_secret(a, "password", "auth.password", &sc, &e.auth_password) ||
            load_secret(a, "key", "auth.key", &sc, &e.auth_key))
            goto bad;
    }
    json_t *h = json_object_get(o, "headers");
    if (h && json_is_array(h)) {
        e.nheaders = (int)json_array_size(h);
        e.headers = e.nheaders ? hq_calloc((size_t)e.nheaders, sizeof(hq_header)) : NULL;
        for (int i = 0; i < e.nheaders; i++) {
            json_t *pr = json_array_get(h, (size_t)i);
            const char *n = json_string_value(json_array_get(pr, 0));
            const char *val = json_string_value(json_array_get(pr, 1));
            e.headers[i].name = hq_strdup(n ? n : "");
            e.headers[i].value = hq_strdup(val ? val : "");
            if (!n || !val) goto bad;
        }
    }
    if (load_str(o, "signature_header", &e.signature_header)) goto bad;
    if (!e.signature_header) e.signature_header = hq_strdup("X-Webhook-Signature");
    const char *sf = json_string_value(json_object_get(o, "signature_format"));
    if (sf && hq_sig_format_parse(sf, &e.signature_format) != 0) goto bad;
    const char *pf = json_string_value(json_object_get(o, "payload_format"));
    if (pf && hq_payload_format_parse(pf, &e.payload_format) != 0) goto bad;
    json_t *rs = json_object_get(o, "retry_schedule");
    if (json_is_array(rs)) {
        size_t n = json_array_size(rs);
        if (n == 0 || n > HQ_SCHEDULE_MAX) goto bad;
        e.has_schedule = 1;
        e.schedule.n = (int)n;
        for (size_t i = 0; i < n; i++) {
            json_t *x = json_array_get(rs, i);
            if (!json_is_integer(x) || json_integer_value(x) <= 0) goto bad;
            e.schedule.delay_ms[i] = json_integer_value(x);
        }
    }
    e.timeout_ms = (int)load_int(o, "timeout_ms");
    e.rate_limit_per_sec = (int)load_int(o, "rate_limit_per_sec");
    if (load_secret(o, "secret", "secret", &sc, &e.secret) || (!e.secret && !sc.failed)) goto bad;
    if (load_secret(o, "old_secret", "old_secret", &sc, &e.old_secret)) goto bad;
    e.old_secret_until_ms = load_int(o, "old_secret_until");
    e.created_ms = load_int(o, "created");
    e.updated_ms = load_int(o, "updated");
    if (load_str(o, "disabled_reason", &e.disabled_reason)) goto bad;
    e.disabled_ms = load_int(o, "disabled_at");
    json_decref(o);
    if (sc.failed) {
        /* no half-opened set of credentials: all four go together */
        char **sec[] = { &e.secret, &e.old_secret, &e.auth_password, &e.auth_key };
        for (size_t i = 0; i < sizeof sec / sizeof sec[0]; i++) {
            if (*sec[i]) OPENSSL_cleanse(*sec[i], strlen(*sec[i]));
            hq_free(*sec[i]);
            *sec[i] = NULL;
        }
        *out = e;
        return HQ_EP_ESEALED;
    }
    if (err && errlen) err[0] = '\0';
    *out = e;
    return 0;
bad:
    json_decref(o);
    hq_endpoint_free(&e);
    return -1;
}

/* ---- API view ---- */

static json_t *time_or_null(int64_t ms)
{
    if (ms <= 0) return json_null();
    char buf[40];
    hq_rfc3339(ms, buf);
    return json_string(buf);
}

json_t *hq_endpoint_to_api(const hq_endpoint *e, int include_secret)
{
    json_t *o = json_object();
    put_identity(o, e);
    json_t *a = json_object();
    json_object_set_new(a, "type", json_string(hq_auth_type_name(e->auth_type)));
    if (e->auth_type == HQ_AUTH_BASIC && e->auth_username)
        json_object_set_new(a, "username", json_string(e->auth_username));
    json_object_set_new(o, "auth", a);
    json_t *h = json_object();
    for (int i = 0; i < e->nheaders; i++)
        json_object_set_new(h, e->headers[i].name, json_string(e->headers[i].value));
    json_object_set_new(o, "headers", h);
    put_formats(o, e);
    if (e->has_schedule) {
        char buf[HQ_SCHEDULE_MAX * 16];
        hq_format_schedule(&e->schedule, buf, sizeof buf);
        json_object_set_new(o, "retry_schedule", json_string(buf));
    } else {
        json_object_set_new(o, "retry_schedule", json_null());
    }
    json_object_set_new(o, "timeout_ms", e->timeout_ms ? json_integer(e->timeout_ms) : json_null());
    json_object_set_new(o, "rate_limit_per_sec",
                        e->rate_limit_per_sec ? json_integer(e->rate_limit_per_sec) : json_null());
    json_object_set_new(o, "created_at", time_or_null(e->created_ms));
    json_object_set_new(o, "updated_at", time_or_null(e->updated_ms));
    json_object_set_new(o, "disabled_reason", e->is_active ? json_null() : str_or_null(e->disabled_reason));
    json_object_set_new(o, "disabled_at",
                        e->is_active || !e->disabled_reason ? json_null() : time_or_null(e->disabled_ms));
    if (include_secret) json_object_set_new(o, "secret", str_or_null(e->secret));
    return o;
}

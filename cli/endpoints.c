/* cli_endpoints: "hookq endpoints create|list|get|update|delete|rotate|test"
 * over /v1/endpoints (SPEC 5). create and update share one flag table that
 * maps one flag to one field of the endpoint JSON (--events a,b -> "events":
 * ["a","b"], --header N:V -> "headers":{N:V}, --auth-* -> "auth":{...});
 * --data gives a raw body, and flags given with it override its fields.
 * Numbers are checked here (a typo is a usage error, exit 2); everything
 * else is validated by the API (422 naming the field, exit 1). */
#include "hq_fmacros.h"
#include <stdio.h>
#include <string.h>
#include "hq_alloc.h"
#include "hq_buf.h"
#include "hq_time.h"
#include "cli.h"

const cli_flag cli_endpoint_body_flags[] = {
    { "org", "ORG", 0, "org_id, the tenant (required to create)" },
    { "url", "URL", 0, "where to POST deliveries, http(s)://... (required to create)" },
    { "name", "NAME", 0, "display name" },
    { "events", "LIST", 0, "comma-separated event types: exact, prefix.* or * (default: the API's)" },
    { "auth-type", "TYPE", 0, "none, basic, api_key or bearer" },
    { "auth-username", "USER", 0, "basic auth user name" },
    { "auth-password", "PASS", 0, "basic auth password" },
    { "auth-key", "KEY", 0, "api_key auth: the X-API-KEY value" },
    { "auth-token", "TOKEN", 0, "bearer auth: the token" },
    { "header", "NAME:VALUE", 1, "a static header sent with every delivery" },
    { "signature-header", "NAME", 0, "header carrying the signature (default X-Webhook-Signature)" },
    { "signature-format", "FMT", 0, "sha256=hex, hex or none" },
    { "payload-format", "FMT", 0, "hookq, event_payload or event_data" },
    { "secret", "SECRET", 0, "signing secret to use (default: generated whsec_...)" },
    { "retry-schedule", "LIST", 0, "delays between attempts, e.g. 1m,5m,30m,2h,24h" },
    { "timeout-ms", "MS", 0, "per-attempt timeout in ms (1000-30000)" },
    { "rate-limit", "N", 0, "at most N deliveries per second (rate_limit_per_sec)" },
    { "description", "TEXT", 0, "free text" },
    { "active", NULL, 0, "enable (is_active true)" },
    { "inactive", NULL, 0, "disable (is_active false)" },
    { "data", "JSON", 0, "raw request body: a JSON object, @file or - for stdin" },
    { NULL, NULL, 0, NULL },
};

/* Sets key to the string flag's value when it was given; -1 after a usage
 * error (not UTF-8). */
static int put_str(const cli_ctx *c, json_t *body, const cli_args *a, const char *flag, const char *key)
{
    const char *v = cli_arg(a, flag);
    if (!v) return 0;
    json_t *s = cli_json_str(c, flag, v);
    if (!s) return -1;
    json_object_set_new(body, key, s);
    return 0;
}

/* Sets key to the integer flag's value when given; -1 on a bad number. */
static int put_int(const cli_ctx *c, json_t *body, const cli_args *a, const char *flag, const char *key)
{
    const char *v = cli_arg(a, flag);
    if (!v) return 0;
    long long n;
    if (hq_parse_ll(v, &n) < 0 || n < 0) {
        cli_usage_error(c, "--%s: invalid number '%s'", flag, v);
        return -1;
    }
    json_object_set_new(body, key, json_integer((json_int_t)n));
    return 0;
}

/* "a,b , c" -> ["a","b","c"]; "" -> []; empty items are a usage error. */
static json_t *split_list(const cli_ctx *c, const char *flag, const char *s)
{
    json_t *arr = json_array();
    if (!*s) return arr;
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n && (*p == ' ' || *p == '\t')) p++, n--;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
        if (n == 0) {
            json_decref(arr);
            cli_usage_error(c, "--%s: empty item in '%s'", flag, s);
            return NULL;
        }
        json_t *item = json_stringn(p, n);
        if (!item) {
            json_decref(arr);
            cli_usage_error(c, "--%s: the value is not valid UTF-8", flag);
            return NULL;
        }
        json_array_append_new(arr, item);
        if (!comma) break;
        p = comma + 1;
    }
    return arr;
}

/* Builds the auth object from --auth-*; 0 (nothing given), 1 (set), -1. */
static int put_auth(const cli_ctx *c, json_t *body, const cli_args *a)
{
    const char *type = cli_arg(a, "auth-type");
    const char *user = cli_arg(a, "auth-username"), *pass = cli_arg(a, "auth-password");
    const char *key = cli_arg(a, "auth-key"), *tok = cli_arg(a, "auth-token");
    if (!type && !user && !pass && !key && !tok) return 0;
    if (!type) {
        int kinds = (user || pass) + (key != NULL) + (tok != NULL);
        if (kinds > 1) {
            cli_usage_error(c, "--auth-username/--auth-password, --auth-key and --auth-token exclude each other");
            return -1;
        }
        type = user || pass ? "basic" : key ? "api_key" : "bearer";
    }
    char t[32];
    snprintf(t, sizeof t, "%s", type);
    for (char *q = t; *q; q++)
        if (*q == '-') *q = '_';  /* accept api-key */
    json_t *auth = json_object();
    static const char *const flags[] = { "auth-type", "auth-username", "auth-password", "auth-key", "auth-token" };
    static const char *const keys[] = { "type", "username", "password", "key", "token" };
    const char *vals[] = { t, user, pass, key, tok };
    for (int i = 0; i < 5; i++) {
        if (!vals[i]) continue;
        json_t *s = cli_json_str(c, flags[i], vals[i]);
        if (!s) {
            json_decref(auth);
            return -1;
        }
        json_object_set_new(auth, keys[i], s);
    }
    json_object_set_new(body, "auth", auth);
    return 1;
}

/* The request body for create (org_in_body) or update from flags and
 * --data. NULL after a usage error was printed. */
static json_t *endpoint_body(const cli_ctx *c, const cli_args *a, int org_in_body)
{
    json_t *body;
    const char *data = cli_arg(a, "data");
    if (data) {
        body = cli_read_json_arg("data", data, 1);
        if (!body) return NULL;
    } else {
        body = json_object();
    }
    if ((org_in_body && put_str(c, body, a, "org", "org_id") < 0) || put_str(c, body, a, "url", "url") < 0 ||
        put_str(c, body, a, "name", "name") < 0 ||
        put_str(c, body, a, "signature-header", "signature_header") < 0 ||
        put_str(c, body, a, "signature-format", "signature_format") < 0 ||
        put_str(c, body, a, "payload-format", "payload_format") < 0 ||
        put_str(c, body, a, "secret", "secret") < 0 ||
        put_str(c, body, a, "retry-schedule", "retry_schedule") < 0 ||
        put_str(c, body, a, "description", "description") < 0 ||
        put_int(c, body, a, "timeout-ms", "timeout_ms") < 0 ||
        put_int(c, body, a, "rate-limit", "rate_limit_per_sec") < 0 || put_auth(c, body, a) < 0)
        goto fail;
    const char *ev = cli_arg(a, "events");
    if (ev) {
        json_t *arr = split_list(c, "events", ev);
        if (!arr) goto fail;
        json_object_set_new(body, "events", arr);
    }
    int nh;
    char **hs = cli_arg_all(a, "header", &nh);
    if (nh) {
        json_t *h = json_object();
        for (int i = 0; i < nh; i++) {
            const char *colon = strchr(hs[i], ':');
            if (!colon || colon == hs[i]) {
                json_decref(h);
                cli_usage_error(c, "--header: expected Name:Value, got '%s'", hs[i]);
                goto fail;
            }
            char *name = hq_strndup(hs[i], (size_t)(colon - hs[i]));
            const char *v = colon + 1;
            while (*v == ' ' || *v == '\t') v++;
            json_t *hv = cli_json_str(c, "header", v);
            if (!hv || json_object_set_new(h, name, hv) < 0) {  /* a name that is not UTF-8 fails here */
                if (hv) cli_usage_error(c, "--header: the name is not valid UTF-8");
                hq_free(name);
                json_decref(h);
                goto fail;
            }
            hq_free(name);
        }
        json_object_set_new(body, "headers", h);
    }
    if (cli_has(a, "active") && cli_has(a, "inactive")) {
        cli_usage_error(c, "--active and --inactive exclude each other");
        goto fail;
    }
    if (cli_has(a, "active")) json_object_set_new(body, "is_active", json_true());
    if (cli_has(a, "inactive")) json_object_set_new(body, "is_active", json_false());
    return body;
fail:
    json_decref(body);
    return NULL;
}

/* "/v1/endpoints/<id><suffix>[?org_id=]" into p. */
static void ep_path(hq_buf *p, const char *id, const char *suffix, const cli_args *a)
{
    hq_buf_init(p, 0);
    hq_buf_puts(p, "/v1/endpoints/");
    cli_url_escape(p, id);
    hq_buf_puts(p, suffix);
    cli_query(p, "org_id", cli_arg(a, "org"));
}

/* The positional endpoint id, or a usage error. */
static const char *need_id(const cli_ctx *c, const cli_args *a)
{
    if (a->npos < 1 || !a->pos[0][0]) {
        cli_usage_error(c, "missing endpoint ID");
        return NULL;
    }
    return a->pos[0];
}

/* The state column: "disabled" when hookq disabled it, else active/inactive. */
static const char *ep_state(const json_t *ep)
{
    const char *st = json_string_value(cli_field(ep, "state|status"));
    if (st) return st;
    if (cli_field(ep, "disabled_reason|disabled_at")) return "disabled";
    json_t *act = cli_field(ep, "is_active|active");
    if (json_is_boolean(act)) return json_is_true(act) ? "active" : "inactive";
    return NULL;
}

/* Prints one endpoint (a detail view) plus a reminder when it has a secret. */
static void print_endpoint(const json_t *ep)
{
    if (!json_is_object(ep)) {
        cli_print_json(stdout, ep);
        return;
    }
    cli_print_detail(stdout, ep, NULL);
    if (json_object_get(ep, "secret"))
        printf("\nThe secret is shown only now: store it where the receiver verifies signatures.\n");
}

int cli_endpoints_create(cli_ctx *c, cli_args *a)
{
    if (a->npos) return cli_usage_error(c, "unexpected argument '%s'", a->pos[0]);
    json_t *body = endpoint_body(c, a, 1);
    if (!body) return CLI_EXIT_USAGE;
    if (!json_object_get(body, "org_id") || !json_object_get(body, "url")) {
        json_decref(body);
        return cli_usage_error(c, "--org and --url are required (or give them in --data)");
    }
    cli_resp r;
    int rc = cli_call(c, "POST", "/v1/endpoints", body, &r);
    json_decref(body);
    if (rc == CLI_EXIT_OK) {
        if (c->json) cli_print_raw(&r);
        else print_endpoint(r.json);
    }
    cli_resp_free(&r);
    return rc;
}

int cli_endpoints_list(cli_ctx *c, cli_args *a)
{
    if (a->npos) return cli_usage_error(c, "unexpected argument '%s'", a->pos[0]);
    if (!cli_arg(a, "org")) return cli_usage_error(c, "--org is required");
    hq_buf p;
    hq_buf_init(&p, 0);
    hq_buf_puts(&p, "/v1/endpoints");
    cli_query(&p, "org_id", cli_arg(a, "org"));
    cli_resp r;
    int rc = cli_call_path(c, "GET", &p, NULL, &r);
    if (rc != CLI_EXIT_OK) goto out;
    json_t *list = cli_list_of(c, &r);
    if (!list) goto out;
    static const char *const heads[] = { "ID", "NAME", "URL", "EVENTS", "STATE" };
    cli_table *t = cli_table_new(5, heads);
    size_t i;
    json_t *ep;
    json_array_foreach(list, i, ep) {
        char *cells[5] = {
            cli_fmt("id", cli_field(ep, "id")),
            cli_fmt("name", cli_field(ep, "name")),
            cli_fmt("url", cli_field(ep, "url")),
            cli_fmt("events", cli_field(ep, "events")),
            NULL,
        };
        const char *st = ep_state(ep);
        cells[4] = st ? hq_strdup(st) : NULL;
        cli_table_row(t, (const char *const *)cells);
        for (int k = 0; k < 5; k++) hq_free(cells[k]);
    }
    if (cli_table_rows(t) == 0) {
        cli_table_print(t, stdout);
        printf("(no endpoints)\n");
    } else {
        cli_table_print(t, stdout);
    }
    const char *next = json_string_value(json_object_get(r.json, "next_cursor"));
    if (next) printf("\nmore: --cursor %s\n", next);
out:
    cli_resp_free(&r);
    return rc;
}

int cli_endpoints_get(cli_ctx *c, cli_args *a)
{
    const char *id = need_id(c, a);
    if (!id) return CLI_EXIT_USAGE;
    hq_buf p;
    ep_path(&p, id, "", a);
    cli_resp r;
    int rc = cli_call_path(c, "GET", &p, NULL, &r);
    if (rc == CLI_EXIT_OK) {
        if (c->json) cli_print_raw(&r);
        else print_endpoint(r.json);
    }
    cli_resp_free(&r);
    return rc;
}

int cli_endpoints_update(cli_ctx *c, cli_args *a)
{
    const char *id = need_id(c, a);
    if (!id) return CLI_EXIT_USAGE;
    json_t *body = endpoint_body(c, a, 0);
    if (!body) return CLI_EXIT_USAGE;
    if (json_object_size(body) == 0) {
        json_decref(body);
        return cli_usage_error(c, "nothing to update: give at least one field flag or --data");
    }
    hq_buf p;
    ep_path(&p, id, "", a);
    cli_resp r;
    int rc = cli_call_path(c, "PATCH", &p, body, &r);
    json_decref(body);
    if (rc == CLI_EXIT_OK) {
        if (c->json) cli_print_raw(&r);
        else if (r.json) print_endpoint(r.json);
        else printf("updated %s\n", id);
    }
    cli_resp_free(&r);
    return rc;
}

int cli_endpoints_delete(cli_ctx *c, cli_args *a)
{
    const char *id = need_id(c, a);
    if (!id) return CLI_EXIT_USAGE;
    hq_buf p;
    ep_path(&p, id, "", a);
    cli_resp r;
    int rc = cli_call_path(c, "DELETE", &p, NULL, &r);
    if (rc == CLI_EXIT_OK) {
        if (c->json) cli_print_raw(&r);
        else printf("deleted %s\n", id);
    }
    cli_resp_free(&r);
    return rc;
}

int cli_endpoints_rotate(cli_ctx *c, cli_args *a)
{
    const char *id = need_id(c, a);
    if (!id) return CLI_EXIT_USAGE;
    json_t *body = json_object();
    if (put_str(c, body, a, "secret", "secret") < 0) {
        json_decref(body);
        return CLI_EXIT_USAGE;
    }
    hq_buf p;
    ep_path(&p, id, "/rotate-secret", a);
    cli_resp r;
    int rc = cli_call_path(c, "POST", &p, json_object_size(body) ? body : NULL, &r);
    json_decref(body);
    if (rc == CLI_EXIT_OK) {
        if (c->json) cli_print_raw(&r);
        else print_endpoint(r.json);
    }
    cli_resp_free(&r);
    return rc;
}

int cli_endpoints_test(cli_ctx *c, cli_args *a)
{
    const char *id = need_id(c, a);
    if (!id) return CLI_EXIT_USAGE;
    const char *type = cli_arg(a, "type");
    if (!type) return cli_usage_error(c, "--type is required");
    json_t *ts = cli_json_str(c, "type", type);
    if (!ts) return CLI_EXIT_USAGE;
    json_t *body = json_object();
    json_object_set_new(body, "type", ts);
    hq_buf p;
    ep_path(&p, id, "/test", a);
    cli_resp r;
    int rc = cli_call_path(c, "POST", &p, body, &r);
    json_decref(body);
    if (rc == CLI_EXIT_OK) {
        if (c->json) cli_print_raw(&r);
        else if (r.json) cli_print_detail(stdout, r.json, NULL);
        else printf("test event sent to %s\n", id);
    }
    cli_resp_free(&r);
    return rc;
}

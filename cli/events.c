/* cli_events: "hookq send" (POST /v1/events, SPEC 3) and "hookq events get"
 * (GET /v1/events/{id}, SPEC 6). events get prints the event's fields, then
 * one row per delivery (its endpoint, state, attempts made, last HTTP
 * status, next due time) and then every attempt. The delivery fields are
 * looked up under the names the API is expected to use and a few aliases,
 * so a renamed field shows as "-" rather than breaking the command. */
#include "hq_fmacros.h"
#include <stdio.h>
#include <string.h>
#include "hq_alloc.h"
#include "hq_buf.h"
#include "cli.h"

int cli_send(cli_ctx *c, cli_args *a)
{
    if (a->npos) return cli_usage_error(c, "unexpected argument '%s'", a->pos[0]);
    const char *org = cli_arg(a, "org"), *type = cli_arg(a, "type"), *data = cli_arg(a, "data");
    if (!org || !type || !data) return cli_usage_error(c, "--org, --type and --data are required");
    json_t *body = json_object();
    static const char *const flags[] = { "type", "org", "id", "created-at" };
    static const char *const keys[] = { "type", "org_id", "id", "created_at" };
    const char *vals[] = { type, org, cli_arg(a, "id"), cli_arg(a, "created-at") };
    for (int i = 0; i < 4; i++) {
        json_t *s = vals[i] ? cli_json_str(c, flags[i], vals[i]) : NULL;
        if (vals[i] && !s) {
            json_decref(body);
            return CLI_EXIT_USAGE;
        }
        if (s) json_object_set_new(body, keys[i], s);
    }
    json_t *d = cli_read_json_arg("data", data, 1);
    if (!d) {
        json_decref(body);
        return CLI_EXIT_USAGE;
    }
    json_object_set_new(body, "data", d);
    cli_resp r;
    int rc = cli_call(c, "POST", "/v1/events", body, &r);
    json_decref(body);
    if (rc == CLI_EXIT_OK) {
        if (c->json) cli_print_raw(&r);
        else cli_print_detail(stdout, r.json, NULL);
    }
    cli_resp_free(&r);
    return rc;
}

/* Adds one delivery's row (endpoint_key: the key it was listed under when
 * deliveries is an object keyed by endpoint, else NULL). */
static void delivery_row(cli_table *t, const json_t *d, const char *endpoint_key)
{
    json_t *atts = cli_field(d, "attempts");
    json_t *last = json_is_array(atts) && json_array_size(atts)
                       ? json_array_get(atts, json_array_size(atts) - 1) : NULL;
    char *cells[6] = {
        cli_fmt("id", cli_field(d, "id|delivery_id")),
        cli_fmt("endpoint_id", cli_field(d, "endpoint_id|endpoint")),
        cli_fmt("state", cli_field(d, "state|status")),
        NULL,
        cli_fmt("code", cli_field(d, "last_status|code|status_code")),
        cli_fmt("next_due", cli_field(d, "next_due|next_attempt_at|due")),
    };
    if (!cells[1] && endpoint_key) cells[1] = hq_strdup(endpoint_key);
    if (json_is_array(atts)) {
        hq_buf b;
        hq_buf_init(&b, 0);
        hq_buf_printf(&b, "%zu", json_array_size(atts));
        cells[3] = hq_buf_steal(&b, NULL);
    } else {
        cells[3] = cli_fmt("attempts", cli_field(d, "attempts|attempt_count|n"));
    }
    if (!cells[4] && last) {
        json_t *st = cli_field(last, "http_status|status_code|code|status");
        if (json_is_integer(st)) cells[4] = cli_fmt("code", st);
    }
    cli_table_row(t, (const char *const *)cells);
    for (int i = 0; i < 6; i++) hq_free(cells[i]);
}

/* Prints the deliveries table and the attempts table of an event. */
static void print_deliveries(const json_t *dl)
{
    static const char *const heads[] = { "DELIVERY", "ENDPOINT", "STATE", "ATTEMPTS", "LAST", "NEXT DUE" };
    cli_table *t = cli_table_new(6, heads);
    cli_table *at = cli_attempts_table_new();
    if (json_is_array(dl)) {
        size_t i;
        json_t *d;
        json_array_foreach(dl, i, d) {
            delivery_row(t, d, NULL);
            const char *did = json_string_value(cli_field(d, "id|delivery_id"));
            json_t *atts = cli_field(d, "attempts");
            size_t j;
            json_t *x;
            if (json_is_array(atts)) json_array_foreach(atts, j, x) cli_attempts_add(at, x, did);
        }
    } else {
        const char *k;
        json_t *d;
        json_object_foreach((json_t *)dl, k, d) {
            delivery_row(t, d, k);
            const char *did = json_string_value(cli_field(d, "id|delivery_id"));
            json_t *atts = cli_field(d, "attempts");
            size_t j;
            json_t *x;
            if (json_is_array(atts)) json_array_foreach(atts, j, x) cli_attempts_add(at, x, did);
        }
    }
    printf("\nDeliveries:\n");
    if (cli_table_rows(t)) cli_table_print(t, stdout);
    else {
        cli_table_print(t, stdout);
        printf("(none: no endpoint of the org was subscribed)\n");
    }
    if (cli_table_rows(at)) {
        printf("\nAttempts:\n");
        cli_table_print(at, stdout);
    } else {
        cli_table_free(at);
    }
}

int cli_events_get(cli_ctx *c, cli_args *a)
{
    if (a->npos < 1 || !a->pos[0][0]) return cli_usage_error(c, "missing event ID");
    hq_buf p;
    hq_buf_init(&p, 0);
    hq_buf_puts(&p, "/v1/events/");
    cli_url_escape(&p, a->pos[0]);
    cli_query(&p, "org_id", cli_arg(a, "org"));
    cli_resp r;
    int rc = cli_call_path(c, "GET", &p, NULL, &r);
    if (rc != CLI_EXIT_OK) goto out;
    if (c->json) {
        cli_print_raw(&r);
        goto out;
    }
    if (!json_is_object(r.json)) {
        cli_print_json(stdout, r.json);
        goto out;
    }
    /* the event may be the top level or under "event" */
    json_t *ev = json_is_object(json_object_get(r.json, "event")) ? json_object_get(r.json, "event") : r.json;
    cli_print_detail(stdout, ev, "deliveries|event");
    json_t *dl = json_object_get(r.json, "deliveries");
    if (!dl) dl = json_object_get(ev, "deliveries");
    if (json_is_array(dl) || json_is_object(dl)) print_deliveries(dl);
out:
    cli_resp_free(&r);
    return rc;
}

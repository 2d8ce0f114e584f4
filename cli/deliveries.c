/* cli_deliveries: an endpoint's attempt log ("hookq deliveries list", GET
 * /v1/endpoints/{id}/deliveries), re-sending one delivery ("hookq resend",
 * POST /v1/deliveries/{id}/resend) and re-enqueueing an endpoint's dead
 * deliveries ("hookq recover", POST /v1/endpoints/{id}/recover). Also owns
 * the attempts table that events get reuses. */
#include "hq_fmacros.h"
#include <stdio.h>
#include <string.h>
#include "hq_alloc.h"
#include "hq_buf.h"
#include "hq_time.h"
#include "cli.h"

#define ERROR_CELL_MAX 80  /* longer error texts are cut in tables (--json has them whole) */

cli_table *cli_attempts_table_new(void)
{
    static const char *const heads[] = { "TIME", "DELIVERY", "#", "RESULT", "HTTP", "LATENCY", "ERROR" };
    return cli_table_new(7, heads);
}

void cli_attempts_add(cli_table *t, const json_t *at, const char *delivery_id)
{
    /* "status" may be the outcome (a string) or the HTTP status (a number) */
    json_t *result = cli_field(at, "result|outcome|state|s");
    json_t *http = cli_field(at, "http_status|status_code|code|c");
    json_t *status = cli_field(at, "status");
    if (json_is_string(status) && !result) result = status;
    if (json_is_integer(status) && !http) http = status;

    char *cells[7] = {
        cli_fmt("time", cli_field(at, "time|at|ts|t|started_at|created_at")),
        cli_fmt("id", cli_field(at, "delivery_id|delivery|d")),
        cli_fmt("attempt", cli_field(at, "attempt|n|number")),
        cli_fmt("result", result),
        cli_fmt("http", http),
        NULL,
        cli_fmt("error", cli_field(at, "error|err|reason")),
    };
    if (!cells[1] && delivery_id) cells[1] = hq_strdup(delivery_id);
    json_t *lat = cli_field(at, "latency_ms|duration_ms");
    if (json_is_number(lat)) {
        hq_buf b;
        hq_buf_init(&b, 0);
        hq_buf_printf(&b, "%.0fms", json_number_value(lat));
        cells[5] = hq_buf_steal(&b, NULL);
    } else {
        cells[5] = cli_fmt("latency", cli_field(at, "latency"));
    }
    if (cells[6] && strlen(cells[6]) > ERROR_CELL_MAX) {
        size_t n = ERROR_CELL_MAX - 3;
        while (n > 0 && ((unsigned char)cells[6][n] & 0xC0) == 0x80) n--;  /* keep UTF-8 whole */
        strcpy(cells[6] + n, "...");
    }
    cli_table_row(t, (const char *const *)cells);
    for (int i = 0; i < 7; i++) hq_free(cells[i]);
}

int cli_deliveries_list(cli_ctx *c, cli_args *a)
{
    const char *ep = cli_arg(a, "endpoint");
    if (ep && a->npos) return cli_usage_error(c, "give the endpoint either as ID or with --endpoint");
    if (!ep && a->npos) ep = a->pos[0];
    if (!ep || !*ep) return cli_usage_error(c, "missing endpoint ID");
    const char *st = cli_arg(a, "status"), *limit = cli_arg(a, "limit");
    if (st && strcmp(st, "failed") != 0 && strcmp(st, "dead") != 0 && strcmp(st, "delivered") != 0 &&
        strcmp(st, "all") != 0)
        return cli_usage_error(c, "--status: expected failed, dead, delivered or all, got '%s'", st);
    long long n;
    if (limit && (hq_parse_ll(limit, &n) < 0 || n < 1))
        return cli_usage_error(c, "--limit: invalid number '%s'", limit);

    hq_buf p;
    hq_buf_init(&p, 0);
    hq_buf_puts(&p, "/v1/endpoints/");
    cli_url_escape(&p, ep);
    hq_buf_puts(&p, "/deliveries");
    cli_query(&p, "status", st);
    cli_query(&p, "limit", limit);
    cli_query(&p, "cursor", cli_arg(a, "cursor"));
    cli_query(&p, "org_id", cli_arg(a, "org"));
    cli_resp r;
    int rc = cli_call_path(c, "GET", &p, NULL, &r);
    if (rc != CLI_EXIT_OK) goto out;
    json_t *list = cli_list_of(c, &r);
    if (!list) goto out;
    cli_table *t = cli_attempts_table_new();
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x) cli_attempts_add(t, x, NULL);
    int rows = cli_table_rows(t);
    cli_table_print(t, stdout);
    if (!rows) printf("(no attempts)\n");
    const char *next = json_string_value(json_object_get(r.json, "next_cursor"));
    if (next && *next) printf("\nmore: --cursor %s\n", next);
out:
    cli_resp_free(&r);
    return rc;
}

int cli_resend(cli_ctx *c, cli_args *a)
{
    if (a->npos < 1 || !a->pos[0][0]) return cli_usage_error(c, "missing delivery ID");
    hq_buf p;
    hq_buf_init(&p, 0);
    hq_buf_puts(&p, "/v1/deliveries/");
    cli_url_escape(&p, a->pos[0]);
    hq_buf_puts(&p, "/resend");
    cli_resp r;
    int rc = cli_call_path(c, "POST", &p, NULL, &r);
    if (rc == CLI_EXIT_OK) {
        if (c->json) cli_print_raw(&r);
        else if (json_is_object(r.json) && json_object_size(r.json)) cli_print_detail(stdout, r.json, NULL);
        else printf("re-enqueued %s\n", a->pos[0]);
    }
    cli_resp_free(&r);
    return rc;
}

/* --since: RFC 3339 as given, or a duration ago ("24h") made absolute. */
static int since_arg(const char *s, char *out, size_t outlen)
{
    int64_t ms;
    int frac;
    if (hq_parse_rfc3339(s, &ms, &frac) == 0) {
        snprintf(out, outlen, "%s", s);
        return 0;
    }
    if (hq_parse_duration(s, &ms) == 0 && ms >= 0) {
        char t[32];
        hq_rfc3339(hq_now_ms() - ms, t);
        snprintf(out, outlen, "%s", t);
        return 0;
    }
    return -1;
}

int cli_recover(cli_ctx *c, cli_args *a)
{
    if (a->npos < 1 || !a->pos[0][0]) return cli_usage_error(c, "missing endpoint ID");
    const char *since = cli_arg(a, "since");
    if (!since) return cli_usage_error(c, "--since is required");
    char when[64];
    if (since_arg(since, when, sizeof when) < 0)
        return cli_usage_error(c, "--since: expected an RFC 3339 time or a duration such as 24h, got '%s'",
                               since);
    json_t *body = json_object();
    json_object_set_new(body, "since", json_string(when));
    hq_buf p;
    hq_buf_init(&p, 0);
    hq_buf_puts(&p, "/v1/endpoints/");
    cli_url_escape(&p, a->pos[0]);
    hq_buf_puts(&p, "/recover");
    cli_query(&p, "org_id", cli_arg(a, "org"));
    cli_resp r;
    int rc = cli_call_path(c, "POST", &p, body, &r);
    json_decref(body);
    if (rc == CLI_EXIT_OK) {
        if (c->json) cli_print_raw(&r);
        else if (json_is_integer(json_object_get(r.json, "recovered")))
            printf("recovered %" JSON_INTEGER_FORMAT " dead deliveries of %s since %s\n",
                   json_integer_value(json_object_get(r.json, "recovered")), a->pos[0], when);
        else if (r.json) cli_print_detail(stdout, r.json, NULL);
    }
    cli_resp_free(&r);
    return rc;
}

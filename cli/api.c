/* cli_api: one HTTP request to the producer with the libcurl easy API, and
 * the mapping of its outcome to the CLI's exit codes: 2xx -> 0; an error
 * status -> 1 with "hookq: <status> <code>: <message>" on stderr (the
 * message taken from the API's {"error":{...}} body, or the raw body when it
 * is not one); no answer at all (connect refused, DNS, TLS, timeout) -> 3.
 * The token is sent as a bearer header and never printed. */
#include "hq_fmacros.h"
#include <stdio.h>
#include <string.h>
#include <curl/curl.h>
#include "hq_alloc.h"
#include "hq_buf.h"
#include "cli.h"

#ifndef HOOKQ_VERSION
#define HOOKQ_VERSION "0.0.0"
#endif

#define CLI_MAX_RESPONSE (64L * 1024 * 1024)  /* an answer larger than this is refused */
#define CLI_CONNECT_TIMEOUT_MS 5000L
#define CLI_TIMEOUT_MS 60000L

static volatile int *abort_flag;

void cli_api_set_abort_flag(volatile int *flag)
{
    abort_flag = flag;
}

struct sink {
    hq_buf buf;
    int toobig;   /* set when the answer passed CLI_MAX_RESPONSE */
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    if (hq_buf_append(&s->buf, p, size * n) < 0) {
        s->toobig = 1;
        return 0;  /* curl fails the transfer with CURLE_WRITE_ERROR */
    }
    return size * n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    return abort_flag && *abort_flag ? 1 : 0;
}

void cli_url_escape(hq_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            hq_buf_putc(b, (char)*p);
        } else {
            hq_buf_putc(b, '%');
            hq_buf_putc(b, hex[*p >> 4]);
            hq_buf_putc(b, hex[*p & 15]);
        }
    }
}

void cli_query(hq_buf *b, const char *k, const char *v)
{
    if (!v) return;
    hq_buf_putc(b, b->data && strchr(b->data, '?') ? '&' : '?');
    cli_url_escape(b, k);
    hq_buf_putc(b, '=');
    cli_url_escape(b, v);
}

void cli_resp_free(cli_resp *r)
{
    hq_free(r->body);
    if (r->json) json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* Prints the error answer in r as "hookq: <status> <code>: <message>". */
static void report_error(const cli_ctx *c, const cli_resp *r)
{
    json_t *e = r->json ? json_object_get(r->json, "error") : NULL;
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *field = json_string_value(json_object_get(e, "field"));
    if (code || msg) {
        fprintf(stderr, "%s: %ld %s: %s", CLI_NAME, r->status, code ? code : "error", msg ? msg : "");
        if (field && (!msg || !strstr(msg, field))) fprintf(stderr, " (field: %s)", field);
        fputc('\n', stderr);
        return;
    }
    /* Not the API's error shape (a proxy, an old server): show the start of the body. */
    size_t n = r->len;
    const char *nl = r->body ? strpbrk(r->body, "\r\n") : NULL;
    if (nl && (size_t)(nl - r->body) < n) n = (size_t)(nl - r->body);
    if (n > 200) n = 200;
    fprintf(stderr, "%s: %ld http_error: %.*s\n", CLI_NAME, r->status, (int)n,
            n ? r->body : "(empty answer)");
}

int cli_call(const cli_ctx *c, const char *method, const char *path, const json_t *body,
             cli_resp *resp)
{
    memset(resp, 0, sizeof *resp);
    CURL *h = curl_easy_init();
    if (!h) {
        fprintf(stderr, "%s: cannot initialise libcurl\n", CLI_NAME);
        return CLI_EXIT_UNREACHABLE;
    }
    hq_buf url;
    struct sink out = { .toobig = 0 };
    hq_buf_init(&url, 0);
    hq_buf_init(&out.buf, CLI_MAX_RESPONSE);
    hq_buf_printf(&url, "%s%s", c->api, path);

    hq_buf auth;
    hq_buf_init(&auth, 0);
    hq_buf_printf(&auth, "Authorization: Bearer %s", c->token);
    struct curl_slist *hdrs = NULL;
    hdrs = curl_slist_append(hdrs, auth.data);
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    char *payload = NULL;
    if (body) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        payload = json_dumps(body, JSON_COMPACT);
    }
    char errbuf[CURL_ERROR_SIZE] = "";

    curl_easy_setopt(h, CURLOPT_URL, url.data);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "hookq-cli/" HOOKQ_VERSION);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CLI_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, CLI_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (payload) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
    } else if (strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    }

    int rc;
    CURLcode cc = curl_easy_perform(h);
    if (cc == CURLE_ABORTED_BY_CALLBACK) {
        rc = CLI_EXIT_UNREACHABLE;  /* the caller checks its abort flag first */
    } else if (out.toobig) {
        fprintf(stderr, "%s: the API's answer is larger than %ld bytes\n", CLI_NAME, CLI_MAX_RESPONSE);
        rc = CLI_EXIT_UNREACHABLE;
    } else if (cc != CURLE_OK) {
        fprintf(stderr, "%s: cannot reach the API at %s: %s\n", CLI_NAME, c->api,
                errbuf[0] ? errbuf : curl_easy_strerror(cc));
        rc = CLI_EXIT_UNREACHABLE;
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
        resp->body = hq_buf_steal(&out.buf, &resp->len);
        if (resp->len) resp->json = json_loadb(resp->body, resp->len, 0, NULL);
        if (resp->status >= 200 && resp->status < 300) {
            rc = CLI_EXIT_OK;
        } else {
            report_error(c, resp);
            if (c->json && resp->len) cli_print_raw(resp);
            rc = CLI_EXIT_API;
        }
    }

    /* wipe the copy of the token before freeing it */
    if (auth.data) memset(auth.data, 0, auth.len);
    hq_buf_free(&auth);
    hq_buf_free(&url);
    hq_buf_free(&out.buf);
    free(payload);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc;
}

int cli_call_path(const cli_ctx *c, const char *method, hq_buf *path, const json_t *body,
                  cli_resp *resp)
{
    int rc = cli_call(c, method, path->data, body, resp);
    hq_buf_free(path);
    return rc;
}

json_t *cli_list_of(const cli_ctx *c, const cli_resp *r)
{
    if (c->json) {
        cli_print_raw(r);
        return NULL;
    }
    json_t *list = json_is_array(r->json) ? r->json : json_object_get(r->json, "data");
    if (!json_is_array(list)) {
        cli_print_json(stdout, r->json);
        return NULL;
    }
    return list;
}

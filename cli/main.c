/* hookq: the admin CLI over the producer's HTTP API. This file holds the
 * command table (one row per command: words, synopsis, help, flags, handler),
 * the global options (--api-url / HOOKQ_API_URL, --api-token /
 * HOOKQ_API_TOKEN, with the short forms --api and --token; --json, --help),
 * help generated from the table, and dispatch. Global
 * options may appear before or after the command words; every word is
 * parsed strictly against the command's flag table plus the global one.
 * Exit codes: 0 ok, 1 the API answered an error, 2 usage or configuration
 * error, 3 the API could not be reached. */
#include "hq_fmacros.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "hq_alloc.h"
#include "cli.h"

#ifndef HOOKQ_VERSION
#define HOOKQ_VERSION "0.0.0"
#endif

#define DEFAULT_API "http://127.0.0.1:8080"

/* --api-url and --api-token match HOOKQ_API_URL and HOOKQ_API_TOKEN the way
 * every hookq binary names its flags (SPEC 2); --api and --token are their
 * short forms. */
static const cli_flag global_flags[] = {
    { "api-url", "URL", 0, "API base URL (env HOOKQ_API_URL, default " DEFAULT_API ")" },
    { "api-token", "TOKEN", 0, "API bearer token (env HOOKQ_API_TOKEN, required)" },
    { "api", "URL", 0, "short for --api-url" },
    { "token", "TOKEN", 0, "short for --api-token" },
    { "json", NULL, 0, "print the API's JSON answer as is" },
    { "help", NULL, 0, "show help for the command" },
    { NULL, NULL, 0, NULL },
};

static const cli_flag org_scope_flags[] = {
    { "org", "ORG", 0, "only if the endpoint belongs to this org (sent as ?org_id=)" },
    { NULL, NULL, 0, NULL },
};
static const cli_flag list_flags[] = {
    { "org", "ORG", 0, "the org whose endpoints to list (required)" },
    { NULL, NULL, 0, NULL },
};
static const cli_flag rotate_flags[] = {
    { "secret", "SECRET", 0, "use this secret (16-256 printable ASCII) instead of a generated one" },
    { "org", "ORG", 0, "only if the endpoint belongs to this org" },
    { NULL, NULL, 0, NULL },
};
static const cli_flag test_flags[] = {
    { "type", "TYPE", 0, "event type of the synthetic event (required)" },
    { "org", "ORG", 0, "only if the endpoint belongs to this org" },
    { NULL, NULL, 0, NULL },
};
static const cli_flag send_flags[] = {
    { "org", "ORG", 0, "the tenant (org_id, required)" },
    { "type", "TYPE", 0, "event type, e.g. lead.created (required)" },
    { "data", "JSON", 0, "event data: a JSON object, @file or - for stdin (required)" },
    { "id", "ID", 0, "client event id (ingest is idempotent on org + id)" },
    { "created-at", "TIME", 0, "created_at, RFC 3339 UTC (default now)" },
    { NULL, NULL, 0, NULL },
};
static const cli_flag events_get_flags[] = {
    { "org", "ORG", 0, "the org that published the event (when ids repeat across orgs)" },
    { NULL, NULL, 0, NULL },
};
static const cli_flag deliveries_flags[] = {
    { "endpoint", "ID", 0, "the endpoint (or give it as the argument)" },
    { "status", "STATUS", 0, "failed, dead, delivered or all (default: the API's)" },
    { "limit", "N", 0, "at most N attempts" },
    { "cursor", "CURSOR", 0, "continue from a previous page's next_cursor" },
    { "org", "ORG", 0, "only if the endpoint belongs to this org" },
    { NULL, NULL, 0, NULL },
};
static const cli_flag resend_flags[] = {
    { NULL, NULL, 0, NULL },
};
static const cli_flag recover_flags[] = {
    { "since", "TIME", 0, "RFC 3339 time, or a duration ago such as 24h (required)" },
    { "org", "ORG", 0, "only if the endpoint belongs to this org" },
    { NULL, NULL, 0, NULL },
};
static const cli_flag stats_flags[] = {
    { "watch", NULL, 0, "redraw a live view until Ctrl-C" },
    { "interval", "SECONDS", 0, "refresh period for --watch (default 1; 0.5 or 500ms work too)" },
    { NULL, NULL, 0, NULL },
};

struct cmd {
    const char *group;      /* "endpoints", "events", "deliveries" or NULL */
    const char *name;
    const char *synopsis;   /* after "hookq <words>" */
    const char *summary;
    const char *details;    /* extra help paragraph, may be NULL */
    const cli_flag *flags;
    int max_pos;
    cli_run_fn run;
};

static const struct cmd commands[] = {
    { "endpoints", "create", "--org ORG --url URL [flags] | --data JSON",
      "create an endpoint; prints it with its secret (shown only this once)",
      "--data gives the raw request body; flags given with it override its fields.\n"
      "--auth-type is inferred from --auth-username/--auth-password (basic),\n"
      "--auth-key (api_key) or --auth-token (bearer) when not given.",
      cli_endpoint_body_flags, 0, cli_endpoints_create },
    { "endpoints", "list", "--org ORG", "list endpoints (ID, NAME, URL, EVENTS, STATE)", NULL,
      list_flags, 0, cli_endpoints_list },
    { "endpoints", "get", "ID [--org ORG]", "show one endpoint", NULL, org_scope_flags, 1,
      cli_endpoints_get },
    { "endpoints", "update", "ID [flags] | ID --data JSON",
      "change the given fields of an endpoint (PATCH)",
      "Only the fields given change; --events and --header replace the whole list.\n"
      "--org here only checks the endpoint's org, it does not move it.",
      cli_endpoint_body_flags, 1, cli_endpoints_update },
    { "endpoints", "delete", "ID [--org ORG]", "delete an endpoint", NULL, org_scope_flags, 1,
      cli_endpoints_delete },
    { "endpoints", "rotate", "ID [--secret SECRET]",
      "rotate the signing secret; prints the new one (the old one keeps signing for a while)", NULL,
      rotate_flags, 1, cli_endpoints_rotate },
    { "endpoints", "test", "ID --type TYPE", "deliver a synthetic event of TYPE to this endpoint only",
      NULL, test_flags, 1, cli_endpoints_test },
    { NULL, "send", "--org ORG --type TYPE --data JSON [--id ID] [--created-at TIME]",
      "publish an event; prints its id and how many deliveries it fanned out to", NULL, send_flags, 0,
      cli_send },
    { "events", "get", "ID [--org ORG]", "show an event and, per endpoint, its delivery state and attempts",
      NULL, events_get_flags, 1, cli_events_get },
    { "deliveries", "list", "ENDPOINT_ID [--status S] [--limit N] [--cursor C]",
      "an endpoint's recent attempts, newest first", NULL, deliveries_flags, 1, cli_deliveries_list },
    { NULL, "resend", "DELIVERY_ID", "re-enqueue one delivery (dead or not)", NULL, resend_flags, 1,
      cli_resend },
    { NULL, "recover", "ENDPOINT_ID --since TIME", "re-enqueue every dead delivery of an endpoint since TIME",
      NULL, recover_flags, 1, cli_recover },
    { NULL, "stats", "[--watch [--interval SECONDS]]",
      "queue state per shard, live workers, totals; --watch for a live view",
      "--watch redraws every --interval seconds (clearing the screen only when stdout\n"
      "is a terminal) and adds throughput computed from the change of the totals.\n"
      "Ctrl-C exits 0. With --json, one compact JSON answer per line per refresh.",
      stats_flags, 0, cli_stats },
};
#define NCOMMANDS ((int)(sizeof commands / sizeof commands[0]))

static const char *exit_codes_help =
    "Exit codes:\n"
    "  0  success\n"
    "  1  the API answered with an error (printed as \"hookq: <status> <code>: <message>\")\n"
    "  2  usage or configuration error (bad flag, missing argument, no token)\n"
    "  3  the API could not be reached (connection refused, DNS, TLS, timeout)\n";

static void words(const struct cmd *c, char *out, size_t n)
{
    if (c->group) snprintf(out, n, "%s %s", c->group, c->name);
    else snprintf(out, n, "%s", c->name);
}

static void top_help(FILE *f)
{
    fprintf(f, "usage: %s <command> [flags]\n\n"
               "Admin CLI for hookq, over the producer's HTTP API (version %s).\n\nCommands:\n",
            CLI_NAME, HOOKQ_VERSION);
    for (int i = 0; i < NCOMMANDS; i++) {
        char w[64];
        words(&commands[i], w, sizeof w);
        fprintf(f, "  %-18s %s\n", w, commands[i].summary);
    }
    fprintf(f, "\nGlobal flags (before or after the command):\n");
    cli_flags_help(f, global_flags);
    fprintf(f, "\nEnvironment (each with its flag):\n"
               "  HOOKQ_API_URL    --api-url    API base URL (default %s)\n"
               "  HOOKQ_API_TOKEN  --api-token  API bearer token (required)\n\n%s\n"
               "Run '%s <command> --help' for a command's flags.\n",
            DEFAULT_API, exit_codes_help, CLI_NAME);
}

static void group_help(FILE *f, const char *group)
{
    fprintf(f, "usage: %s %s <command> [flags]\n\nCommands:\n", CLI_NAME, group);
    for (int i = 0; i < NCOMMANDS; i++)
        if (commands[i].group && strcmp(commands[i].group, group) == 0)
            fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun '%s %s <command> --help' for a command's flags.\n", CLI_NAME, group);
}

static void cmd_help(FILE *f, const struct cmd *c)
{
    char w[64];
    words(c, w, sizeof w);
    fprintf(f, "usage: %s %s %s\n\n%c%s.\n", CLI_NAME, w, c->synopsis,
            c->summary[0] >= 'a' && c->summary[0] <= 'z' ? c->summary[0] - 32 : c->summary[0],
            c->summary + 1);
    if (c->details) fprintf(f, "\n%s\n", c->details);
    if (c->flags && c->flags[0].name) {
        fprintf(f, "\nFlags:\n");
        cli_flags_help(f, c->flags);
    }
    fprintf(f, "\nGlobal flags:\n");
    cli_flags_help(f, global_flags);
    fprintf(f, "\n%s", exit_codes_help);
}

/* One line on stderr: "hookq: <msg> (see 'hookq <command> --help')". */
int cli_usage_error(const cli_ctx *c, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", CLI_NAME);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (c && c->cmdname) fprintf(stderr, " (see '%s %s --help')\n", CLI_NAME, c->cmdname);
    else fprintf(stderr, " (see '%s --help')\n", CLI_NAME);
    return CLI_EXIT_USAGE;
}

/* A bad HOOKQ_API_URL / HOOKQ_API_TOKEN: one line naming the variable and
 * the value (SPEC 2), exit 2. */
static int config_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int config_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", CLI_NAME);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_EXIT_USAGE;
}

static int is_group(const char *w)
{
    for (int i = 0; i < NCOMMANDS; i++)
        if (commands[i].group && strcmp(commands[i].group, w) == 0) return 1;
    return 0;
}

static const struct cmd *find_cmd(const char *group, const char *name)
{
    for (int i = 0; i < NCOMMANDS; i++) {
        const struct cmd *c = &commands[i];
        if (!name || strcmp(c->name, name) != 0) continue;
        if ((group == NULL) != (c->group == NULL)) continue;
        if (group && strcmp(group, c->group) != 0) continue;
        return c;
    }
    return NULL;
}

/* 1 when the global flag w ("--api", not "--api=x") takes the next word. */
static int global_takes_value(const char *w)
{
    return strcmp(w, "--api") == 0 || strcmp(w, "--token") == 0 || strcmp(w, "--api-url") == 0 ||
           strcmp(w, "--api-token") == 0;
}

/* Finds the command words in argv: skips global flags (and their values)
 * before them. Sets *first to the index of the first command word or argc. */
static void find_words(int argc, char **argv, int *first)
{
    int i = 1;
    while (i < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0) {
        if (global_takes_value(argv[i])) i++;
        i++;
    }
    *first = i < argc && strcmp(argv[i], "--") != 0 ? i : argc;
}

static int any_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
    }
    return 0;
}

/* Why url is not a usable API base URL (http or https, a host, a valid
 * port, no query or fragment: paths are appended to it), or NULL. */
static const char *bad_api_url(const char *url)
{
    CURLU *u = curl_url();
    if (!u) return "out of memory";
    const char *why = NULL;
    char *scheme = NULL, *host = NULL, *query = NULL, *frag = NULL;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc != CURLUE_OK) why = curl_url_strerror(uc);
    else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
             (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
        why = "the scheme must be http or https";
    else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) why = "no host";
    else if (strpbrk(url, "?#") || curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
             curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK)   /* curl drops an empty '#' */
        why = "no query or fragment allowed";
    curl_free(scheme);
    curl_free(host);
    curl_free(query);
    curl_free(frag);
    curl_url_cleanup(u);
    return why;
}

/* The value of a global flag given under its long or short name (NULL when
 * neither); both at once are a flag given twice. */
static int alias_arg(const cli_ctx *c, const cli_args *a, const char *name, const char *alias, const char **v)
{
    if (cli_has(a, name) && cli_has(a, alias))
        return cli_usage_error(c, "--%s given more than once (as --%s)", name, alias);
    *v = cli_arg(a, name) ? cli_arg(a, name) : cli_arg(a, alias);
    return CLI_EXIT_OK;
}

/* Resolves --api-url/--api-token/--json against the environment into c. */
static int setup_ctx(cli_ctx *c, const cli_args *a)
{
    const char *api, *tok;
    if (alias_arg(c, a, "api-url", "api", &api) != CLI_EXIT_OK ||
        alias_arg(c, a, "api-token", "token", &tok) != CLI_EXIT_OK)
        return CLI_EXIT_USAGE;
    if (!api) api = getenv("HOOKQ_API_URL");
    if (!api || !*api) api = DEFAULT_API;
    const char *why = bad_api_url(api);
    if (why)
        return config_error("HOOKQ_API_URL (--api-url): invalid URL '%s': %s (use http://host:port)", api, why);
    c->api = hq_strdup(api);
    size_t n = strlen(c->api);
    while (n > 0 && c->api[n - 1] == '/') c->api[--n] = 0;

    if (!tok) tok = getenv("HOOKQ_API_TOKEN");
    if (!tok || !*tok) return config_error("HOOKQ_API_TOKEN (--api-token) is required");
    if (strpbrk(tok, "\r\n")) return config_error("HOOKQ_API_TOKEN (--api-token): invalid token");
    c->token = hq_strdup(tok);
    c->json = cli_has(a, "json") > 0;
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    int first;
    find_words(argc, argv, &first);
    if (first >= argc) {
        for (int i = 1; i < argc; i++)
            if (strcmp(argv[i], "--version") == 0) {
                printf("%s %s\n", CLI_NAME, HOOKQ_VERSION);
                return CLI_EXIT_OK;
            }
        if (any_help(argc, argv)) {
            top_help(stdout);
            return CLI_EXIT_OK;
        }
        /* only flags: name a bad one rather than just "missing command" */
        cli_args ga;
        char gerr[256];
        int bad = cli_args_parse(&ga, NULL, global_flags, argc - 1, argv + 1, 0, gerr, sizeof gerr);
        cli_args_free(&ga);
        return cli_usage_error(NULL, "%s", bad < 0 ? gerr : "missing command");
    }

    const char *group = NULL, *name = argv[first];
    int w0 = first, w1 = -1;  /* indexes of the command words in argv */
    if (strcmp(name, "help") == 0) {
        /* "hookq help [group] [command]" */
        const char *g = first + 1 < argc ? argv[first + 1] : NULL;
        const char *n = first + 2 < argc ? argv[first + 2] : NULL;
        const struct cmd *c = NULL;
        if (!g) {
            top_help(stdout);
            return CLI_EXIT_OK;
        }
        if (is_group(g) && !n) {
            group_help(stdout, g);
            return CLI_EXIT_OK;
        }
        c = is_group(g) ? find_cmd(g, n) : find_cmd(NULL, g);
        if (!c) return cli_usage_error(NULL, "unknown command '%s%s%s'", g, n ? " " : "", n ? n : "");
        cmd_help(stdout, c);
        return CLI_EXIT_OK;
    }
    if (is_group(name)) {
        /* the subcommand is the next word that is not a global flag (or its value) */
        group = name;
        int sub = first + 1;
        while (sub < argc && argv[sub][0] == '-' && strcmp(argv[sub], "--") != 0) {
            if (global_takes_value(argv[sub])) sub++;
            sub++;
        }
        if (sub >= argc || strcmp(argv[sub], "--") == 0) {
            if (any_help(argc, argv)) {
                group_help(stdout, group);
                return CLI_EXIT_OK;
            }
            fprintf(stderr, "%s: '%s' needs a command (see '%s %s --help')\n", CLI_NAME, group, CLI_NAME, group);
            return CLI_EXIT_USAGE;
        }
        name = argv[sub];
        w1 = sub;
        if (!find_cmd(group, name)) {
            fprintf(stderr, "%s: unknown command '%s %s' (see '%s %s --help')\n", CLI_NAME, group, name, CLI_NAME,
                    group);
            return CLI_EXIT_USAGE;
        }
    }
    const struct cmd *cmd = find_cmd(group, name);
    if (!cmd) {
        fprintf(stderr, "%s: unknown command '%s' (see '%s --help')\n", CLI_NAME, name, CLI_NAME);
        return CLI_EXIT_USAGE;
    }

    char cmdname[64];
    words(cmd, cmdname, sizeof cmdname);
    cli_ctx ctx = { .cmdname = cmdname };

    /* everything but the command words, in order */
    char **rest = hq_calloc((size_t)argc + 1, sizeof(char *));
    int nrest = 0;
    for (int i = 1; i < argc; i++)
        if (i != w0 && i != w1) rest[nrest++] = argv[i];

    cli_args a;
    char err[256];
    int rc;
    if (cli_args_parse(&a, cmd->flags, global_flags, nrest, rest, cmd->max_pos, err, sizeof err) < 0) {
        rc = cli_usage_error(&ctx, "%s", err);
        goto out;
    }
    if (cli_has(&a, "help")) {
        cmd_help(stdout, cmd);
        rc = CLI_EXIT_OK;
        goto out;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = setup_ctx(&ctx, &a);
    if (rc == CLI_EXIT_OK) rc = cmd->run(&ctx, &a);
    curl_global_cleanup();

out:
    cli_args_free(&a);
    hq_free(rest);
    if (ctx.token) memset(ctx.token, 0, strlen(ctx.token));
    hq_free(ctx.token);
    hq_free(ctx.api);
    return rc;
}

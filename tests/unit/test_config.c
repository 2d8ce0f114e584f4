/* Unit tests for hq_config: precedence flag > env > default, strict parsing,
 * error messages, --help/--version text, sizes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "hq_alloc.h"
#include "hq_config.h"

static struct {
    char *redis;
    long long conc;
    int json;
    int64_t timeout;
    long long maxbody;
    hq_schedule sched;
    char *fmt;
    char *token;
} c;

static hq_opt opts[] = {
    { "HQT_REDIS", "redis", HQ_OPT_STR, "unix:///tmp/r.sock", 0, 0, 0, NULL, "Redis URL", &c.redis },
    { "HQT_CONC", "concurrency", HQ_OPT_INT, "64", 0, 1, 10000, NULL, "Max in-flight", &c.conc },
    { "HQT_JSON", "json", HQ_OPT_BOOL, "false", 0, 0, 0, NULL, "JSON logs", &c.json },
    { "HQT_TIMEOUT", "timeout", HQ_OPT_DURATION, "10s", 0, 1000, 30000, NULL, "Attempt timeout", &c.timeout },
    { "HQT_MAX_BODY", "max-body", HQ_OPT_SIZE, "256KiB", 0, 1024, 16 << 20, NULL, "Max body", &c.maxbody },
    { "HQT_SCHED", "retry-schedule", HQ_OPT_SCHEDULE, "1m,5m,30m,2h,6h", 0, 0, 0, NULL, "Retries", &c.sched },
    { "HQT_FMT", "log-format", HQ_OPT_ENUM, "text", 0, 0, 0, "json|text", "Log format", &c.fmt },
    { "HQT_TOKEN", "token", HQ_OPT_STR, NULL, 1, 0, 0, NULL, "API bearer token", &c.token },
    { NULL, NULL, 0, NULL, 0, 0, 0, NULL, NULL, NULL },
};

static const char *envs[] = { "HQT_REDIS", "HQT_CONC", "HQT_JSON", "HQT_TIMEOUT", "HQT_MAX_BODY",
                              "HQT_SCHED", "HQT_FMT", "HQT_TOKEN" };

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) unsetenv(envs[i]);
    memset(&c, 0, sizeof c);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hq_config_free(opts);
    return 0;
}

static int run(char *err, int n, ...)
{
    char *argv[16];
    va_list ap;
    va_start(ap, n);
    argv[0] = "prog";
    for (int i = 0; i < n; i++) argv[i + 1] = va_arg(ap, char *);
    va_end(ap);
    hq_config_free(opts);
    return hq_config_parse(opts, n + 1, argv, "prog", "Test program.", NULL, err, 256);
}

static void test_defaults(void **state)
{
    (void)state;
    char err[256];
    setenv("HQT_TOKEN", "tok", 1);
    assert_int_equal(run(err, 0), 0);
    assert_string_equal(c.redis, "unix:///tmp/r.sock");
    assert_int_equal(c.conc, 64);
    assert_int_equal(c.json, 0);
    assert_int_equal(c.timeout, 10000);
    assert_int_equal(c.maxbody, 256 * 1024);
    assert_int_equal(c.sched.n, 5);
    assert_string_equal(c.fmt, "text");
    assert_string_equal(c.token, "tok");
}

static void test_precedence(void **state)
{
    (void)state;
    char err[256];
    setenv("HQT_TOKEN", "tok", 1);
    setenv("HQT_CONC", "10", 1);
    setenv("HQT_TIMEOUT", "5s", 1);
    setenv("HQT_FMT", "", 1); /* empty = unset */
    assert_int_equal(run(err, 4, "--concurrency=20", "--timeout", "2s", "--json"), 0);
    assert_int_equal(c.conc, 20);
    assert_int_equal(c.timeout, 2000);
    assert_int_equal(c.json, 1);
    assert_string_equal(c.fmt, "text");
    assert_int_equal(run(err, 0), 0);
    assert_int_equal(c.conc, 10);
    assert_int_equal(c.timeout, 5000);
    assert_int_equal(run(err, 2, "--json=off", "--log-format=json"), 0);
    assert_int_equal(c.json, 0);
    assert_string_equal(c.fmt, "json");
}

static void test_errors(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(run(err, 0), -1);
    assert_string_equal(err, "HQT_TOKEN is required: API bearer token");
    setenv("HQT_TOKEN", "tok", 1);
    setenv("HQT_TIMEOUT", "abc", 1);
    assert_int_equal(run(err, 0), -1);
    assert_string_equal(err, "HQT_TIMEOUT: invalid value 'abc': expected a duration such as 500ms, 10s, 1m, 2h, 7d");
    unsetenv("HQT_TIMEOUT");
    assert_int_equal(run(err, 1, "--timeout=31s"), -1);
    assert_string_equal(err, "HQT_TIMEOUT (--timeout): invalid value '31s': must be between 1s and 30s");
    assert_int_equal(run(err, 1, "--concurrency=0"), -1);
    assert_string_equal(err, "HQT_CONC (--concurrency): invalid value '0': must be between 1 and 10000");
    assert_int_equal(run(err, 1, "--concurrency=1x"), -1);
    assert_non_null(strstr(err, "expected an integer"));
    assert_int_equal(run(err, 1, "--log-format=xml"), -1);
    assert_string_equal(err, "HQT_FMT (--log-format): invalid value 'xml': must be one of json|text");
    assert_int_equal(run(err, 1, "--json=maybe"), -1);
    assert_non_null(strstr(err, "HQT_JSON (--json): invalid value 'maybe'"));
    assert_int_equal(run(err, 1, "--retry-schedule=1m,,2m"), -1);
    assert_non_null(strstr(err, "HQT_SCHED (--retry-schedule): invalid value '1m,,2m'"));
    assert_int_equal(run(err, 1, "--max-body=1TB"), -1);
    assert_non_null(strstr(err, "HQT_MAX_BODY (--max-body): invalid value '1TB'"));
    assert_int_equal(run(err, 1, "--nope=1"), -1);
    assert_string_equal(err, "unknown option '--nope' (see --help)");
    assert_int_equal(run(err, 1, "--timeout"), -1);
    assert_string_equal(err, "option '--timeout' requires a value");
    assert_int_equal(run(err, 1, "positional"), -1);
    assert_string_equal(err, "unexpected argument 'positional'");
}

static void test_rest(void **state)
{
    (void)state;
    char err[256];
    setenv("HQT_TOKEN", "tok", 1);
    char *argv[] = { "prog", "--concurrency", "5", "send", "--x", NULL };
    int rest = -1;
    assert_int_equal(hq_config_parse(opts, 5, argv, "prog", "s", &rest, err, sizeof err), 0);
    assert_int_equal(rest, 3);
    assert_int_equal(c.conc, 5);
    hq_config_free(opts);
    char *argv2[] = { "prog", NULL };
    assert_int_equal(hq_config_parse(opts, 1, argv2, "prog", "s", &rest, err, sizeof err), 0);
    assert_int_equal(rest, 1);
}

/* Runs the parser with stdout captured into buf. */
static int capture(char **argv, int argc, char *buf, size_t n)
{
    char err[256];
    fflush(stdout);
    FILE *tmp = tmpfile();
    int saved = dup(1);
    dup2(fileno(tmp), 1);
    int rc = hq_config_parse(opts, argc, argv, "prog", "Test program.", NULL, err, sizeof err);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    rewind(tmp);
    size_t got = fread(buf, 1, n - 1, tmp);
    buf[got] = '\0';
    fclose(tmp);
    return rc;
}

static void test_help_version(void **state)
{
    (void)state;
    char out[4096];
    char *a1[] = { "prog", "--help", NULL };
    assert_int_equal(capture(a1, 2, out, sizeof out), 1);
    assert_memory_equal(out, "Usage: prog [options]\nTest program.\n\n", 37);
    assert_non_null(strstr(out, "--timeout=VALUE"));
    assert_non_null(strstr(out, "HQT_TIMEOUT"));
    assert_non_null(strstr(out, "(default: 10s)  Attempt timeout\n"));
    assert_non_null(strstr(out, "(required)  API bearer token\n"));
    char *a2[] = { "prog", "--version", NULL };
    assert_int_equal(capture(a2, 2, out, sizeof out), 1);
    assert_string_equal(out, "prog hookq/" HOOKQ_VERSION "\n");
}

static void test_sizes(void **state)
{
    (void)state;
    static const struct { const char *s; long long v; } good[] = {
        { "4096", 4096 }, { "10B", 10 }, { "1KB", 1024 }, { "256KiB", 262144 }, { "1MB", 1048576 },
        { "1MiB", 1048576 }, { "2GiB", 2147483648LL }, { "3GB", 3221225472LL }, { "0", 0 },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        long long v = -1;
        if (hq_parse_size(good[i].s, &v) != 0) fail_msg("rejected %s", good[i].s);
        assert_int_equal(v, good[i].v);
    }
    static const char *bad[] = { "", "-1", "1.5MB", " 1", "1 KB", "KB", "1TB", "1XB", "99999999999999999999",
                                 "9223372036854775807KB" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long long v;
        if (hq_parse_size(bad[i], &v) == 0) fail_msg("accepted '%s'", bad[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_help_version, setup, teardown),
        cmocka_unit_test(test_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

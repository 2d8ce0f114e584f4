"""Configuration (SPEC 2): a bad value gets one line naming the variable and
exit code 2; --help lists every variable with its default."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import Redis, run, run_binary  # noqa: E402

R = Redis()


start = run_binary


GOOD = {"HOOKQ_REDIS_URL": R.url, "HOOKQ_API_TOKEN": "t", "HOOKQ_LISTEN": "127.0.0.1:0"}


def expect_exit2(binary, var, value, extra=None):
    env = dict(GOOD)
    env.update(extra or {})
    env[var] = value
    code, out, err = start(binary, env)
    assert code == 2, (binary, var, value, code, err)
    lines = [l for l in err.strip().splitlines() if l.strip()]
    assert len(lines) == 1, (var, err)
    assert var in lines[0], (var, lines[0])
    assert value in lines[0], (var, value, lines[0])   # SPEC 2: naming the variable and the value


def test_bad_values_exit_2_naming_the_variable():
    for b in ("hookq-producer", "hookq-worker"):
        expect_exit2(b, "HOOKQ_REDIS_URL", "ftp://127.0.0.1:6379")
        expect_exit2(b, "HOOKQ_REDIS_URL", "unix:///nonexistent/dir/redis.sock")
        expect_exit2(b, "HOOKQ_LOG_FORMAT", "xml")
        expect_exit2(b, "HOOKQ_SHARDS", "zero")
    expect_exit2("hookq-worker", "HOOKQ_TIMEOUT", "abc")
    expect_exit2("hookq-worker", "HOOKQ_TIMEOUT", "-5s")
    expect_exit2("hookq-worker", "HOOKQ_RETRY_SCHEDULE", "1m,,5m")
    expect_exit2("hookq-worker", "HOOKQ_CONCURRENCY", "lots")
    expect_exit2("hookq-producer", "HOOKQ_MAX_BODY", "big")
    expect_exit2("hookq-producer", "HOOKQ_PAYLOAD_FORMAT", "xml")
    expect_exit2("hookq-worker", "HOOKQ_CA_FILE", "/nonexistent/ca.pem")
    # a claim idle under 31 s is warned about, but only after every exit-2 check: still one line
    expect_exit2("hookq-worker", "HOOKQ_CA_FILE", "/nonexistent/ca.pem",
                 extra={"HOOKQ_CLAIM_IDLE": "20s", "HOOKQ_TIMEOUT": "5s"})
    for b in ("hookq-producer", "hookq-worker"):
        # SPEC 2's table: a bad value is exit 2 for either binary, also where only the workers use it
        expect_exit2(b, "HOOKQ_TIMEOUT", "abc")
        expect_exit2(b, "HOOKQ_CONCURRENCY", "lots")
        expect_exit2(b, "HOOKQ_ENDPOINT_CONCURRENCY", "0")
        expect_exit2(b, "HOOKQ_ALLOW_PRIVATE_NETWORKS", "maybe")
        expect_exit2(b, "HOOKQ_RETRY_SCHEDULE", "1m,,5m")
        expect_exit2(b, "HOOKQ_PREFIX", "app{x}")      # would put every shard in one cluster slot
        expect_exit2(b, "HOOKQ_PREFIX", "my app")
        expect_exit2(b, "HOOKQ_PREFIX", "p" * 65)      # keys would be cut at HQ_KEY_MAX


def test_bad_redis_url_never_shows_its_password():
    """SPEC 8: secrets never appear in logs, also in the exit-2 line for an
    unparsable URL (a password holding '/', '?' or '#')."""
    for b in ("hookq-producer", "hookq-worker"):
        for pw in ("se/cret", "se?cret", "se#cret"):
            env = dict(GOOD, HOOKQ_REDIS_URL="redis://:%s@127.0.0.1:1/0" % pw)
            code, out, err = start(b, env)
            assert code == 2 and "HOOKQ_REDIS_URL" in err, (b, pw, code, err)
            assert "cret" not in err, (b, pw, err)


def test_missing_token_exits_2():
    env = dict(GOOD)
    del env["HOOKQ_API_TOKEN"]
    code, out, err = start("hookq-producer", env)
    assert code == 2 and "HOOKQ_API_TOKEN" in err, (code, err)


def test_help_lists_variables_with_defaults():
    for b, must in (("hookq-producer", ["HOOKQ_REDIS_URL", "HOOKQ_API_TOKEN", "HOOKQ_LISTEN", "HOOKQ_MAX_BODY"]),
                    ("hookq-worker", ["HOOKQ_CONCURRENCY", "HOOKQ_ENDPOINT_CONCURRENCY", "HOOKQ_RETRY_SCHEDULE",
                                      "HOOKQ_TIMEOUT", "HOOKQ_ALLOW_PRIVATE_NETWORKS", "1m,5m,30m,2h,6h"])):
        code, out, err = start(b, {}, ["--help"])
        assert code == 0, (b, code, err)
        for m in must:
            assert m in out, (b, m, out)


def test_flag_overrides_env():
    env = dict(GOOD)
    env["HOOKQ_TIMEOUT"] = "abc"
    code, out, err = start("hookq-worker", env, ["--timeout=zzz"])
    assert code == 2 and "zzz" in err, err


if __name__ == "__main__":
    run([test_bad_values_exit_2_naming_the_variable, test_bad_redis_url_never_shows_its_password,
         test_missing_token_exits_2,
         test_help_lists_variables_with_defaults, test_flag_overrides_env])

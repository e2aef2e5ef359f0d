#!/usr/bin/env python3
"""Configuration of `oxide serve` and `oxide agent`: --config FILE (TOML), OXIDE_* environment
variables for every flag, precedence flag > environment > file > default, --print-config
(effective configuration as TOML, secrets left out, round-trips through --config), and one
clear error line with a usage exit status for an unknown key or a bad value.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib

EXIT_USAGE = 2


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OXIDE_")}
    env.update(extra)
    return env


def oxide(binary, args, env=None, expect=0):
    r = subprocess.run([binary, *args], capture_output=True, text=True, env=env or clean_env(),
                       timeout=60)
    assert r.returncode == expect, "%s -> %d (want %d)\nstdout: %s\nstderr: %s" % (
        args, r.returncode, expect, r.stdout, r.stderr)
    return r


def printed(binary, cmd, args, env=None):
    r = oxide(binary, [cmd, *args, "--print-config"], env=env)
    assert r.stderr == "", r.stderr
    return r.stdout, tomllib.loads(r.stdout)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oxide", required=True)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="oxide-config-")
    try:
        serve(args.oxide, tmp)
        agent(args.oxide, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("config OK")


def serve(binary, tmp):
    _, defaults = printed(binary, "serve", [])
    assert defaults["port"] == 8080 and defaults["host"] == "0.0.0.0", defaults
    assert defaults["currency"] == "USD" and defaults["price-per-gb"] == 0, defaults

    conf = write(os.path.join(tmp, "serve.toml"),
                 'port = 1111\nthreads = 3\ncurrency = "EUR"\nhost = "127.0.0.2"\n'
                 'price-per-gb = 0.05\n')
    env = clean_env(OXIDE_PORT="2222", OXIDE_THREADS="4",
                    # a flag nobody special-cased: the variable exists for every option
                    OXIDE_MAX_CONNECTIONS_PER_ADDRESS="17")
    _, eff = printed(binary, "serve", ["--config", conf, "--port", "3333"], env=env)
    assert eff["port"] == 3333, eff            # flag over environment and file
    assert eff["threads"] == 4, eff            # environment over file
    assert eff["currency"] == "EUR", eff       # file over default
    assert eff["host"] == "127.0.0.2", eff
    assert eff["price-per-gb"] == 0.05, eff
    assert eff["max-connections-per-address"] == 17, eff
    assert eff["data-dir"] == "./oxide-data", eff  # default
    assert "config" not in eff and "print-config" not in eff, eff

    # Round trip: the printed configuration fed back gives the same effective configuration.
    text, _ = printed(binary, "serve", ["--config", conf, "--port", "3333"], env=env)
    again = write(os.path.join(tmp, "again.toml"), text)
    text2, eff2 = printed(binary, "serve", ["--config", again])
    assert text2 == text and eff2 == eff, (text, text2)

    # An unknown key: one line naming it, usage exit status, nothing started.
    bad = write(os.path.join(tmp, "bad.toml"), 'port = 1111\nprot = 2222\n')
    r = oxide(binary, ["serve", "--config", bad], expect=EXIT_USAGE)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown key 'prot'" in lines[0] and bad in lines[0], r.stderr
    assert r.stdout == "", r.stdout
    # A bad value from the file or the environment is refused like a bad flag.
    bad_value = write(os.path.join(tmp, "bad_value.toml"), 'threads = 0\n')
    oxide(binary, ["serve", "--config", bad_value, "--print-config"], expect=EXIT_USAGE)
    oxide(binary, ["serve", "--print-config"], env=clean_env(OXIDE_PORT="http"),
          expect=EXIT_USAGE)
    r = oxide(binary, ["serve", "--config", os.path.join(tmp, "missing.toml")],
              expect=EXIT_USAGE)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    # --database may hold a PostgreSQL password: never printed (issue #12).
    text, _ = printed(binary, "serve", [],
                      env=clean_env(OXIDE_DATABASE="postgresql://oxide:hunter2@db/oxide"))
    assert "hunter2" not in text and "# database: set, not printed (a secret)" in text, text
    # --help names the variables.
    r = oxide(binary, ["serve", "--help"])
    assert "OXIDE_MAX_UPLOAD_MB" in r.stdout and "--print-config" in r.stdout, r.stdout


def agent(binary, tmp):
    token = "oxenr_s3cr3t-value-that-must-not-leak"
    conf = write(os.path.join(tmp, "agent.toml"),
                 'control-plane = "http://127.0.0.1:9"\ndevice-id = "from-file"\n'
                 'poll-interval = 7\nenrollment-token = "%s"\n' % token)
    env = clean_env(OXIDE_DEVICE_ID="from-env", OXIDE_HEALTH_TIMEOUT="12")
    text, eff = printed(binary, "agent", ["--config", conf, "--poll-interval", "9"], env=env)
    assert token not in text and "enrollment-token" not in eff, text
    assert "# enrollment-token: set, not printed" in text, text
    assert eff["device-id"] == "from-env" and eff["poll-interval"] == 9, eff
    assert eff["health-timeout"] == 12 and eff["control-plane"] == "http://127.0.0.1:9", eff
    # The secret from the environment is not printed either.
    text, _ = printed(binary, "agent", ["--config", conf],
                      env=clean_env(OXIDE_ENROLLMENT_TOKEN=token + "2"))
    assert token not in text, text
    # Round trip: the same, except that the secret now comes from nowhere (it must be given
    # apart, as the printed comment says).
    again = write(os.path.join(tmp, "agent-again.toml"), text)
    text2, _ = printed(binary, "agent", ["--config", again])
    assert text2 == text.replace(": set, not printed (a secret)", ": not set (a secret)"), (
        text, text2)
    r = oxide(binary, ["agent", "--config", write(os.path.join(tmp, "agent-bad.toml"),
                                                  'device-idd = "x"\n')], expect=EXIT_USAGE)
    assert len(r.stderr.strip().splitlines()) == 1 and "device-idd" in r.stderr, r.stderr


if __name__ == "__main__":
    main()

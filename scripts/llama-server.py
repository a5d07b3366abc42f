#!/usr/bin/env python3
"""Starts a real llama.cpp server (llama-server's C++ code, from the pinned
`xllamacpp` wheel) on loopback, serving the tiny word-cycle model of
scripts/tiny_gguf.py, for the tests and benchmarks of the client's
OpenAI-compatible backend (POST /v1/chat/completions with SSE streaming,
GET /v1/models, GET /health). No compiler and no model download: a
virtualenv of pinned wheels from PyPI (xllamacpp, gguf, numpy and gguf's
dependencies), made once and cached, and a half-megabyte model generated
in a fraction of a second, cached too.

    scripts/llama-server.py --setup-only     prepares the virtualenv and the
                                             model, then exits (CI runs it
                                             first, so the one-time setup is
                                             timed apart from the tests)
    scripts/llama-server.py [OPTIONS]        serves until stopped

Options: --port N (default 0: the OS picks a free one), --host ADDR
(default 127.0.0.1), --alias NAME (the model's name in requests and in
/v1/models, default "tiny"), --parallel N (slots answering at once, default
1; each slot gets the model's full 1024-token context), --threads N (CPU
threads for the model, default 1: the tiny model needs no more, and on a
busy 2-core machine two threads wait on each other: measured here with one
core loaded, 1 thread gave 3,400-3,700 tokens/s and 0.8 ms prompts, 2
threads 1,900-2,800 tokens/s and 2-5 ms), --api-key KEY (then requests
need "Authorization: Bearer KEY"), --model FILE (serve another GGUF
instead of the tiny one), --verbose (llama.cpp's warnings and info log,
several lines a request, on stderr; by default only errors).

Once the server answers, it prints exactly one line on stdout:

    listening 127.0.0.1:PORT

and nothing else ever goes to stdout (llama.cpp's log goes to stderr). It
then stays in the foreground until SIGTERM, SIGINT or SIGHUP, or, when its
standard input is a pipe, until that pipe reaches end-of-file: a test that
spawns it with a piped stdin leaves no server behind even when it is killed
(the kernel closes the pipe). Exit status 0 after a stop, 1 if the setup
or the server failed (the reason on stderr), 2 for a usage error. A test
may let stderr through or discard it; if it pipes stderr, it must read it
(a full pipe would stall the server). Stdin that is not a pipe (a terminal,
/dev/null) is ignored. Parent-death signals (PR_SET_PDEATHSIG) are not
used on purpose: Linux sends them when the spawning *thread* ends, and a
Rust test thread that starts a shared server ends long before the tests
that use it.

The cache lives in $OPC_LLAMACPP_CACHE, or else
${XDG_CACHE_HOME:-$HOME/.cache}/ollama-proxy-client/llamacpp: one
virtualenv per set of pinned versions and Python (venv-<key>), one model
file per version of tiny_gguf.py (tiny-<key>.gguf). Concurrent first
starts wait for each other on a lock file there; a setup cut short is
redone. The network is needed only while the virtualenv is made (pip, from
PyPI); a started server never leaves loopback. Runs with any Python 3.9+
(it re-executes itself with the virtualenv's Python).
"""
import argparse
import fcntl
import hashlib
import os
import platform
import select
import shutil
import signal
import subprocess
import sys

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
TINY_GGUF = os.path.join(SCRIPTS, "tiny_gguf.py")

# Every package in the virtualenv, with its exact version, installed with
# --no-deps and binary wheels only, so nothing floats and nothing compiles.
# xllamacpp: the newest release (CPU wheel, abi3, manylinux x86_64); it has
# no dependencies. gguf and numpy write the model (numpy 2.4.6 is the
# newest that pip offers for Python 3.11). The rest are gguf's declared
# dependencies (PyYAML, tqdm, requests) and requests' own, at the versions
# pip resolved when these pins were made.
REQUIREMENTS = [
    "xllamacpp==2026.10.11549",
    "gguf==0.19.0",
    "numpy==2.4.6",
    "PyYAML==6.0.4",
    "tqdm==4.70.1",
    "requests==2.34.2",
    "certifi==2026.10.19.post1",
    "charset-normalizer==3.5.3",
    "idna==3.21",
    "urllib3==2.8.0",
]

# The line a test waits for; nothing else is written to stdout.
READY_LINE = "listening {host}:{port}"


def cache_dir():
    explicit = os.environ.get("OPC_LLAMACPP_CACHE")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ollama-proxy-client", "llamacpp")


def short_hash(*parts):
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def venv_dir(cache):
    """Keyed by the pins and by the Python that makes it (a virtualenv
    points at its base interpreter)."""
    base = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    return os.path.join(cache, "venv-" + short_hash(platform.python_version(), base, *REQUIREMENTS))


def model_path(cache):
    with open(TINY_GGUF, "rb") as script:
        return os.path.join(cache, "tiny-" + short_hash(script.read(), *REQUIREMENTS) + ".gguf")


def note(message):
    print(f"llama-server: {message}", file=sys.stderr, flush=True)


def make_venv(venv):
    """Creates the virtualenv and installs the pins; the marker file written
    last says it is complete (a half-made one is removed and made again)."""
    marker = os.path.join(venv, "complete")
    if os.path.exists(marker):
        return
    note(f"creating {venv} (once for these versions)")
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, stdout=sys.stderr)
    pip = [os.path.join(venv, "bin", "python"), "-m", "pip", "install", "--quiet", "--no-input"]
    pip += ["--disable-pip-version-check", "--no-deps", "--only-binary=:all:"]
    subprocess.run(pip + REQUIREMENTS, check=True, stdout=sys.stderr)
    with open(marker, "w") as done:
        done.write("\n".join(REQUIREMENTS) + "\n")


def make_model(venv, model):
    if os.path.exists(model):
        return
    note(f"generating {model}")
    python = os.path.join(venv, "bin", "python")
    subprocess.run([python, TINY_GGUF, model], check=True, stdout=sys.stderr)


def set_up():
    """Makes the virtualenv and the model if missing; returns their paths.
    One process at a time (parallel tests may all start servers at once)."""
    cache = cache_dir()
    os.makedirs(cache, exist_ok=True)
    venv, model = venv_dir(cache), model_path(cache)
    with open(os.path.join(cache, "setup.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        make_venv(venv)
        make_model(venv, model)
    return venv, model


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="llama-server.py",
        description="A real llama.cpp server on loopback with the tiny test model (see the top of this file).",
    )
    parser.add_argument("--setup-only", action="store_true", help="prepare the virtualenv and the model, then exit")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: the OS picks one (default)")
    parser.add_argument("--alias", default="tiny", help="the model's name (default: tiny)")
    parser.add_argument("--parallel", type=int, default=1, help="slots answering at once (default: 1)")
    parser.add_argument("--threads", type=int, default=1, help="model threads (default: 1)")
    parser.add_argument("--api-key", help="require Authorization: Bearer KEY")
    parser.add_argument("--model", help="serve this GGUF instead of the tiny model")
    parser.add_argument("--verbose", action="store_true", help="llama.cpp's warnings and info log on stderr")
    args = parser.parse_args(argv)
    if args.parallel < 1:
        parser.error("--parallel must be at least 1")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be 0..65535")
    return args


def stdin_is_pipe():
    import stat

    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def server_params(xllamacpp, args, model):
    params = xllamacpp.CommonParams()
    params.model.path = model
    params.model_alias = {args.alias}
    params.hostnames = [args.host]
    params.port = args.port
    params.n_parallel = args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    # llama.cpp's levels: 1 error, 2 warning, 3 info, 4 debug. Not 2 by
    # default: it warns twice for every repeated prompt ("n_past was set"),
    # which would fill a stderr pipe that nobody reads.
    params.verbosity = 3 if args.verbose else 1
    params.use_jinja = True
    if args.api_key:
        params.api_keys = [args.api_key]
    return params


def wait_for_stop():
    """Blocks until a stop signal arrives or a piped stdin ends. Signals
    reach a self-pipe (set_wakeup_fd), which select() watches beside stdin:
    llama.cpp's threads may be the ones the kernel delivers a signal to."""
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    # Python's handlers replace the ones llama.cpp installed at start.
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, lambda *_: None)
    watched = [wake_read] + ([0] if stdin_is_pipe() else [])
    while True:
        ready, _, _ = select.select(watched, [], [])
        if wake_read in ready:
            return
        if 0 in ready and not os.read(0, 65536):
            return


def serve(args, model):
    """Runs inside the virtualenv: starts the server, announces it, waits."""
    import xllamacpp

    # Keep stdout for the one ready line: whatever the C++ side might print
    # goes to stderr instead.
    ready_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    try:
        server = xllamacpp.Server(server_params(xllamacpp, args, model))
    except RuntimeError as error:
        note(f"the server did not start: {error}")
        return 1
    port = server.listening_address.rsplit(":", 1)[1].strip("/")
    ready_out.write(READY_LINE.format(host=args.host, port=port) + "\n")
    ready_out.close()
    wait_for_stop()
    # Leave at once: the kernel closes every socket and frees the memory.
    # llama.cpp's own shutdown (deleting `server`) holds the GIL while it
    # waits for open streams, up to 30 s with a client still reading.
    os._exit(0)


def main(argv):
    args = parse_args(argv)
    if args.model and args.setup_only:
        note("--model and --setup-only do not go together")
        return 2
    try:
        venv, tiny = set_up()
    except (OSError, subprocess.CalledProcessError) as error:
        note(f"setup failed: {error}")
        return 1
    if args.setup_only:
        note(f"ready: {venv} and {tiny}")
        return 0
    if os.path.realpath(sys.prefix) != os.path.realpath(venv):
        python = os.path.join(venv, "bin", "python")
        os.execv(python, [python, os.path.abspath(__file__)] + argv)
    return serve(args, os.path.abspath(args.model) if args.model else tiny)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

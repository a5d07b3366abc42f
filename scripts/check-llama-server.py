#!/usr/bin/env python3
"""Checks scripts/llama-server.py end to end, with the standard library
only: starts the real server with a piped stdin, asks it for the same
12-token answer streamed (SSE) and not streamed, and checks the words of
the tiny model (scripts/tiny_gguf.py), the chunk sequence (role, content
deltas, finish_reason "length", usage with llama.cpp's timings, [DONE]),
/v1/models and /health; then closes stdin and checks that the server
exits by itself. Prints one line per check; exit status 0 when all pass.

    python3 scripts/check-llama-server.py

Run scripts/llama-server.py --setup-only first when the one-time setup
(a virtualenv from PyPI, about 10 s) should be timed apart. Every wait is
bounded; only 127.0.0.1 is contacted.
"""
import json
import os
import subprocess
import sys
import time
import urllib.request

SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "llama-server.py")
# tiny_gguf.WORD_CYCLE, decoded ("▁" is a space), for 12 tokens.
EXPECTED = " the quick brown fox jumps over lazy dogs. the quick brown"
MAX_TOKENS = 12
TIMEOUT_SECONDS = 30
results = []


def check(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""))
    results.append(bool(ok))


def request(base, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=TIMEOUT_SECONDS) as response:
        return response.headers.get("Content-Type", ""), response.read().decode()


def chat(stream):
    return {
        "model": "tiny",
        "messages": [{"role": "user", "content": "Hello"}],
        "stream": stream,
        "max_tokens": MAX_TOKENS,
        "temperature": 0,
        **({"stream_options": {"include_usage": True}} if stream else {}),
    }


def check_stream(base):
    content_type, body = request(base, "/v1/chat/completions", chat(True))
    check("stream: text/event-stream", content_type.startswith("text/event-stream"), content_type)
    events = [line[len("data: "):] for line in body.split("\n") if line.startswith("data: ")]
    check("stream: ends with [DONE]", events[-1:] == ["[DONE]"], events[-1:])
    chunks = [json.loads(event) for event in events[:-1]]
    first = chunks[0]["choices"][0]["delta"]
    check("stream: a role chunk first", first.get("role") == "assistant" and not first.get("content"), first)
    deltas = [c["choices"][0]["delta"].get("content") or "" for c in chunks[1:] if c["choices"]]
    check("stream: one delta a token", len([d for d in deltas if d]) == MAX_TOKENS, deltas)
    check("stream: the word cycle", "".join(deltas) == EXPECTED, "".join(deltas))
    reasons = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    check("stream: finish_reason length, last", reasons[-1] == "length" and not any(reasons[:-1]), reasons)
    usage = chunks[-1]
    check("stream: a usage chunk with no choices", usage["choices"] == [] and usage.get("usage"), usage)
    counts = usage.get("usage") or {}
    check("stream: completion_tokens", counts.get("completion_tokens") == MAX_TOKENS, counts)
    check("stream: timings", "predicted_per_second" in usage.get("timings", {}), usage.get("timings"))
    return "".join(deltas)


def main():
    server = subprocess.Popen([sys.executable, SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        started = time.monotonic()
        line = server.stdout.readline().decode().strip()
        check("ready line", line.startswith("listening 127.0.0.1:"), line)
        print(f"     ({line}, {time.monotonic() - started:.2f} s after start)")
        base = "http://" + line.split()[1]
        streamed = check_stream(base)
        _, body = request(base, "/v1/chat/completions", chat(False))
        content = json.loads(body)["choices"][0]["message"]["content"]
        check("non-stream: the same text as the deltas", content == streamed, content)
        _, body = request(base, "/v1/models")
        check("/v1/models: the alias", [m["id"] for m in json.loads(body)["data"]] == ["tiny"], body)
        _, body = request(base, "/health")
        check("/health: ok", json.loads(body) == {"status": "ok"}, body)
    finally:
        server.stdin.close()
        try:
            status = server.wait(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            server.kill()
            status = "still running"
    check("exits when stdin closes", status == 0, status)
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

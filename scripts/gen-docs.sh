#!/usr/bin/env bash
# Writes the documents rendered from the code: the configuration reference
# (docs/config-reference.md, docs/ru/config-reference.md), from the
# settings table in src/config/keys.rs, and the man pages
# (docs/man/ollama-proxy-client.1, docs/man/ru/ollama-proxy-client.1), from
# the --help page and the same table (see src/reference/).
#
# Run it after changing a key, the help or the catalogue's text::docs, and
# commit what it writes: `cargo test` fails while a committed document
# differs from what the code renders.
#
# Usage: scripts/gen-docs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
UPDATE_DOCS=1 cargo test --quiet --bin ollama-proxy-client \
    reference::the_committed_documents_are_what_the_code_renders >/dev/null
git status --short -- docs

//! The test rig shared by the integration tests: a hub emulator (WebSocket,
//! optionally TLS with a CA made at test time), an Ollama emulator
//! (HTTP/NDJSON, optionally over TLS too) and an OpenAI-compatible one (SSE), both
//! on the HTTP/1.1 server plumbing of `http`, the one launcher of the client binary
//! (shared with the examples), a runner for the real client binary, and a
//! stand-in `nvidia-smi` for the GPU guard (`gpu`). Each test binary uses only
//! part of it.
#![allow(dead_code)]

pub mod answers;
pub mod client;
pub mod dead;
pub mod faultproxy;
pub mod gpu;
pub mod http;
pub mod hub;
pub mod launch;
pub mod metrics;
pub mod ollama;
pub mod openai;
pub mod rig;
pub mod tls;

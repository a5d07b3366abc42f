//! The usual end-to-end setup: an Ollama emulator, a hub emulator and the
//! client between them, connected, on the test config plus a few settings.

use std::path::Path;

use serde_json::Value;

use super::answers::WAIT;
use super::client::{test_config, with, Client, TOKEN};
use super::hub::Hub;
use super::ollama::Ollama;

pub struct Rig {
    pub hub: Hub,
    pub ollama: Ollama,
    pub client: Client,
}

impl Rig {
    /// The client on the test config, once the hub has its connection.
    pub fn start() -> Rig {
        Rig::with(&[])
    }

    /// The same, with these settings in the config.
    pub fn with(settings: &[(&str, Value)]) -> Rig {
        let ollama = Ollama::start();
        let hub = Hub::start(TOKEN);
        let mut config = test_config(ollama.port());
        for (key, value) in settings {
            config = with(config, key, value.clone());
        }
        let client = Client::start(&config, &["--server", &hub.url()]);
        assert!(
            hub.wait_connected(1, WAIT),
            "client did not connect:\n{}",
            client.output()
        );
        Rig {
            hub,
            ollama,
            client,
        }
    }

    /// The client's home, where its config, ledger and socket are.
    pub fn home(&self) -> &Path {
        self.client.home.path()
    }
}

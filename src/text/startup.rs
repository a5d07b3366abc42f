//! The catalogue's texts for starting up: the first-run questions, the
//! token, `--reset-config`, saving settings, test mode, stopping; see
//! `text` for how entries work.

use super::catalogue;

catalogue! {
    cannot_start_thread(name, error) {
        en: "cannot start the {name} thread: {error}",
        ru: "не удалось запустить поток {name}: {error}",
    }
}

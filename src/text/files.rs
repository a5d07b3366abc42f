//! The catalogue's texts about the files the client keeps beside its
//! config file: something other than a file in one's place (`state_file`),
//! and a saved pause that cannot be used (`pause`); see `text` for how
//! entries work.

use super::catalogue;

catalogue! {
    /// `kind` is one of the `kind_*` texts below.
    not_a_regular_file(kind) {
        en: "it is {kind}, not a regular file: move it aside",
        ru: "это {kind}, а не обычный файл: уберите его",
    }
    kind_fifo() {
        en: "a named pipe (FIFO)",
        ru: "именованный канал (FIFO)",
    }
    kind_socket() {
        en: "a socket",
        ru: "сокет",
    }
    kind_device() {
        en: "a device",
        ru: "устройство",
    }
    kind_directory() {
        en: "a directory",
        ru: "каталог",
    }
    kind_other() {
        en: "something else",
        ru: "что-то другое",
    }

    // ------------------------------------------------ paused.json

    /// `error` is the system's words or `not_a_regular_file`.
    /// A state file or the config file (at `--reset-config`) cannot be read.
    cannot_read(path, error) {
        en: "cannot read {path}: {error}",
        ru: "не удалось прочитать {path}: {error}",
    }
    pause_too_large(path) {
        en: "cannot read {path}: over 4 KiB",
        ru: "не удалось прочитать {path}: больше 4 КиБ",
    }
    pause_not_ours(path) {
        en: "{path} is not a pause this client wrote",
        ru: "{path} — это не пауза, записанная этим клиентом",
    }
}

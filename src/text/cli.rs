//! The catalogue's texts for the command line; see `text` for how entries
//! work.

use super::catalogue;

catalogue! {
    // -------------------------------------------- the hub URL (--server)

    hub_url_not_websocket() {
        en: "--server needs a URL starting with wss:// (or ws:// for loopback)",
        ru: "--server: нужен URL, начинающийся с wss:// (или ws:// для loopback)",
    }
    hub_url_user_info() {
        en: "hub URL must not contain user information",
        ru: "URL хаба не должен содержать имя пользователя (часть до @)",
    }
    /// `problem` is one of the `address_` texts.
    hub_url_address(problem) {
        en: "hub URL has {problem}",
        ru: "URL хаба: {problem}",
    }
    hub_url_no_host() {
        en: "hub URL has no host",
        ru: "в URL хаба нет хоста",
    }
    hub_url_bad_port(port) {
        en: "hub URL has a bad port: {port}",
        ru: "в URL хаба неверный порт: {port}",
    }
    hub_url_plain_ws(host) {
        en: "plain ws:// is allowed only to a loopback host (127.0.0.0/8, ::1, localhost), \
             not {host}; use wss://",
        ru: "незашифрованный ws:// разрешён только для адресов loopback (127.0.0.0/8, ::1, \
             localhost), а не для {host}; используйте wss://",
    }

    // ------------------------- a host and port that cannot be split

    address_unclosed_bracket() {
        en: "an unclosed [ in its host",
        ru: "незакрытая [ в имени хоста",
    }
    address_after_bracket() {
        en: "something other than :port after the ] of its host",
        ru: "после ] в имени хоста допустим только :порт",
    }
    address_stray_bracket() {
        en: "a [ or ] inside its host",
        ru: "[ или ] внутри имени хоста",
    }
    address_too_many_colons() {
        en: "more than one : in its host (an IPv6 address goes in brackets: [::1]:port)",
        ru: "больше одного : в имени хоста (адрес IPv6 пишется в скобках: [::1]:порт)",
    }

    // ---------------------- where a setting came from (--show-config)

    source_flag(flag) {
        en: "command line {flag}",
        ru: "командная строка, {flag}",
    }
    source_env(var) {
        en: "environment {var}",
        ru: "переменная окружения {var}",
    }
    source_file() {
        en: "config file",
        ru: "файл настроек",
    }
    source_prompt() {
        en: "first-run answer",
        ru: "ответ при первом запуске",
    }
    source_default() {
        en: "default",
        ru: "по умолчанию",
    }
}

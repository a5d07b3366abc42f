//! The catalogue's texts for the metrics endpoint (`metrics_listen`,
//! `metrics_public`): why it cannot listen where the owner asked; see
//! `text` for how entries work. The endpoint's HTTP bodies and log lines
//! are English and not here.

use super::catalogue;

catalogue! {
    /// `problem` is one of the `address_*` texts ("... has an unclosed [ in
    /// its host").
    metrics_listen_address(listen, problem) {
        en: "metrics_listen {listen} has {problem}",
        ru: "адрес metrics_listen {listen}: {problem}",
    }
    metrics_listen_no_port(listen) {
        en: "metrics_listen {listen} has no port (write host:port, such as 127.0.0.1:9464)",
        ru: "в metrics_listen {listen} нет порта (пишется хост:порт, например 127.0.0.1:9464)",
    }
    metrics_listen_bad_port(listen, port) {
        en: "metrics_listen {listen} has a bad port: {port}",
        ru: "в metrics_listen {listen} неверный порт: {port}",
    }
    metrics_listen_not_ip(listen, host) {
        en: "metrics_listen {listen}: the host {host} is neither an IP address nor localhost",
        ru: "metrics_listen {listen}: хост {host} не является ни IP-адресом, ни localhost",
    }
    metrics_listen_not_loopback(listen) {
        en: "metrics_listen {listen} is not a loopback address (127.0.0.0/8, ::1, localhost), \
             so anyone who can reach this machine could read the metrics; set metrics_public \
             to true to allow it",
        ru: "metrics_listen {listen} не является адресом loopback (127.0.0.0/8, ::1, \
             localhost), и метрики сможет прочитать любой, кому доступна эта машина; чтобы \
             разрешить это, задайте metrics_public = true",
    }
    metrics_cannot_listen(listen, error) {
        en: "cannot listen on {listen} for the metrics: {error}",
        ru: "не удалось открыть порт {listen} для метрик: {error}",
    }
}

//! The catalogue's texts for `--stats`: its usage errors,
//! the table an owner reads and the warnings about the ledger's unreadable
//! lines; see `text` for how entries work.

use super::catalogue;

catalogue! {
    // ------------------------------------------------------ usage errors

    /// `flag` (`--since`, `--json`) given without `--stats`.
    usage_needs_stats(flag) {
        en: "{flag} can only be used with --stats",
        ru: "{flag} можно использовать только вместе с --stats",
    }
    /// A `--since` value that is neither a span nor a date (it is not a
    /// secret, so it is repeated).
    usage_bad_since(value) {
        en: "--since needs a span such as 1h, 24h or 7d, or a date such as 2026-11-30 \
             or 2026-11-30T22:40:00Z, not '{value}'",
        ru: "--since: нужен промежуток (например, 1h, 24h, 7d) или дата (например, \
             2026-11-30 или 2026-11-30T22:40:00Z), а не '{value}'",
    }

    // ------------------------------------------------------ the table

    stats_label_period() {
        en: "Period",
        ru: "Период",
    }
    /// A label in `--stats` and `--status`.
    label_requests() {
        en: "Requests",
        ru: "Запросы",
    }
    stats_label_errors() {
        en: "Errors",
        ru: "Ошибки",
    }
    stats_label_busy() {
        en: "Busy answers",
        ru: "Ответы «занято»",
    }
    stats_label_tokens() {
        en: "Tokens",
        ru: "Токены",
    }
    stats_label_speed() {
        en: "Tokens/s",
        ru: "Токенов/с",
    }
    stats_label_first_piece() {
        en: "First piece",
        ru: "Первая часть",
    }
    stats_label_hub() {
        en: "Hub connected",
        ru: "Связь с хабом",
    }
    stats_label_reconnects() {
        en: "Reconnects",
        ru: "Переподключения",
    }
    stats_period(since, until) {
        en: "{since} to {until}",
        ru: "с {since} по {until}",
    }
    /// The period of an empty ledger.
    stats_period_empty(until) {
        en: "nothing recorded up to {until}",
        ru: "до {until} ничего не записано",
    }
    stats_requests(n, answered) {
        en: "{n} {n|request|requests}, {answered} answered",
        ru: "{n} {n|запрос|запроса|запросов}, с ответом: {answered}",
    }
    /// `kinds` is the list of error kinds with their counts.
    stats_errors(n, kinds) {
        en: "{n} ({kinds})",
        ru: "{n} ({kinds})",
    }
    stats_busy(n) {
        en: "{n} {n|answer|answers}",
        ru: "{n} {n|ответ|ответа|ответов}",
    }
    stats_tokens(generated, read) {
        en: "{generated} generated, {read} read",
        ru: "сгенерировано {generated}, прочитано {read}",
    }
    stats_speed(speed) {
        en: "{speed} (median)",
        ru: "{speed} (медиана)",
    }
    stats_first_piece(p50, p95) {
        en: "after {p50} ms (median), {p95} ms (p95)",
        ru: "через {p50} мс (медиана), {p95} мс (p95)",
    }
    stats_hub(percent) {
        en: "{percent}% of the time",
        ru: "{percent}% времени",
    }
    /// A count of zero, or a list with nothing in it.
    /// No count at all (in `--stats`), no model installed (in `--check`).
    none() {
        en: "none",
        ru: "нет",
    }
    /// A median or a share that nothing in the period gives.
    stats_no_data() {
        en: "no data",
        ru: "нет данных",
    }

    // ------------------------------------------------------ warnings

    /// Lines of a ledger file that are not whole ledger lines: torn by a
    /// crash, too long, not JSON, or without `ts` and `event`.
    stats_skipped_lines(n, path) {
        en: "warning: skipped {n} unreadable {n|line|lines} in {path}",
        ru: "предупреждение: в {path} {n|пропущена|пропущены|пропущено} {n} \
             {n|нечитаемая строка|нечитаемые строки|нечитаемых строк}",
    }
    stats_unreadable_file(path, error) {
        en: "warning: cannot read {path}: {error}",
        ru: "предупреждение: не удалось прочитать {path}: {error}",
    }
}

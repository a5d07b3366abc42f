//! The catalogue's texts for the generated documents: the configuration
//! reference (`docs/config-reference.md`) and the man pages
//! (`docs/man/`), which `reference` renders from the settings table and
//! the `--help` page; see `text` for how entries work.
//!
//! Compiled into the tests only: the binary never prints these, the
//! documents are written by `scripts/gen-docs.sh` (a test run). Texts in
//! the help page's shape (rows of a term, two spaces or more, then its
//! meaning; longer meanings go on indented lines below) are parsed as the
//! help page is.

use super::catalogue;

catalogue! {
    // ------------------------------------------ the configuration reference

    reference_title() {
        en: "Configuration reference",
        ru: "Справочник настроек",
    }
    /// The links under the title: the front page, the configuration page,
    /// the twin in the other language.
    reference_links() {
        en: "[README](../README.md) · [Configuration](configuration.md) · [Русский](ru/config-reference.md)",
        ru: "[README](../../README.ru.md) · [Настройки](configuration.md) · [English](../config-reference.md)",
    }
    reference_intro(config) {
        en: "Every key of the config file ({config}), in the order `--show-config` shows \
them. The \"must be\" column is what the client says when a value is wrong: \
such a value stops it with status 78 and a message naming the file, the line and the key. \
Times are in seconds, and fractions are allowed. Keys this client does not know are \
kept when it saves the file.

This page is generated from the settings table (`src/config/keys.rs`) by \
`scripts/gen-docs.sh`; a test fails when it falls behind.",
        ru: "Все ключи файла настроек ({config}) в том порядке, в котором их показывает \
`--show-config`. Столбец «должно быть» — то, что клиент говорит о неверном значении: \
такое значение останавливает его с кодом 78 и сообщением, в котором названы файл, строка \
и ключ. Время — в секундах, дробные значения допустимы. Ключи, которых этот клиент не \
знает, сохраняются, когда он записывает файл.

Эта страница создаётся из таблицы настроек (`src/config/keys.rs`) командой \
`scripts/gen-docs.sh`; тест падает, если она отстала.",
    }
    reference_columns() {
        en: "| key | default | must be | meaning |",
        ru: "| ключ | по умолчанию | должно быть | что задаёт |",
    }

    // ------------------------------------------------------ the man pages

    /// NAME's line after the program's name.
    man_summary() {
        en: "sell the local Ollama on the marketplace hub",
        ru: "продавать локальную Ollama на хабе маркетплейса",
    }
    /// The manual's name in the page's header.
    man_manual() {
        en: "User Commands",
        ru: "Пользовательские команды",
    }
    /// The page's sections, one a line: NAME, SYNOPSIS, DESCRIPTION,
    /// OPTIONS, CONFIGURATION, FILES, ENVIRONMENT, EXIT STATUS, EXAMPLES,
    /// SEE ALSO.
    man_sections() {
        en: "NAME
SYNOPSIS
DESCRIPTION
OPTIONS
CONFIGURATION
FILES
ENVIRONMENT
EXIT STATUS
EXAMPLES
SEE ALSO",
        ru: "ИМЯ
ОБЗОР
ОПИСАНИЕ
ПАРАМЕТРЫ
НАСТРОЙКИ
ФАЙЛЫ
ОКРУЖЕНИЕ
КОДЫ ВЫХОДА
ПРИМЕРЫ
СМОТРИТЕ ТАКЖЕ",
    }
    /// DESCRIPTION's paragraphs after the help's own lines, one a line.
    man_description() {
        en: "Run without options, it serves until stopped. The first run at a terminal asks for the hub token (not echoed), Ollama's address and the model, and saves them to the config file; a run without a terminal needs them in the config file or the environment.
Answers stream back tagged with the buyer's messageId. When the hub is unreachable the client reconnects with a growing delay; when Ollama cannot answer it stops taking buyers until Ollama answers again. Every answer is written to the ledger, which --stats reads.
Several copies can serve several GPUs: each needs its own config file (--config).",
        ru: "Без параметров клиент обслуживает покупателей до остановки. При первом запуске в терминале он спрашивает токен хаба (не показывая его), адрес Ollama и модель и сохраняет их в файл настроек; без терминала они должны быть в файле настроек или в окружении.
Ответы передаются обратно с messageId покупателя. Если хаб недоступен, клиент переподключается с растущей паузой; если Ollama не отвечает, он перестаёт брать покупателей, пока она снова не ответит. Каждый ответ записывается в журнал ответов, который читает --stats.
Несколько копий могут обслуживать несколько GPU: каждой нужен свой файл настроек (--config).",
    }
    /// CONFIGURATION's opening paragraph.
    man_configuration(config) {
        en: "The config file is {config} (another one with --config). It is JSON; a value that is wrong stops the client with status 78 and a message naming the file, the line and the key. Times are in seconds, fractions allowed. The keys:",
        ru: "Файл настроек — {config} (другой можно указать через --config). Это JSON; неверное значение останавливает клиент с кодом 78 и сообщением, в котором названы файл, строка и ключ. Время — в секундах, дробные значения допустимы. Ключи:",
    }
    /// Under each key's meaning.
    man_key_default(default, takes) {
        en: "Default: {default}. Must be {takes}.",
        ru: "По умолчанию: {default}. Должно быть {takes}.",
    }
    /// FILES' rows after the help's config and log.
    man_files() {
        en: "    ledger   ~/.config/ollama_proxy/ledger.jsonl
             (every answer and hub connection; --stats reads it)
    /etc/ollama-proxy-client.env
             The packaged service's token and environment (mode 0600)
    /var/lib/ollama-proxy/.config/ollama_proxy/
             The packaged service's config, log and ledger",
        ru: "    учёт     ~/.config/ollama_proxy/ledger.jsonl
             (каждый ответ и подключение к хабу; его читает --stats)
    /etc/ollama-proxy-client.env
             Токен и окружение службы из пакета (права 0600)
    /var/lib/ollama-proxy/.config/ollama_proxy/
             Настройки, журнал и учёт службы из пакета",
    }
    /// EXAMPLES: a line saying what, then the commands, indented.
    man_examples() {
        en: "The first run: asks for the token, Ollama's address and the model, then serves:
    ollama-proxy-client
Check the config, Ollama, the model and the hub:
    ollama-proxy-client --check
Is the running client serving? Pause it for two hours, then take buyers again:
    ollama-proxy-client --status
    ollama-proxy-client --pause 2h
    ollama-proxy-client --resume
What the box served in the last 24 hours, as JSON:
    ollama-proxy-client --stats --since 24h --json
The packaged service, started now and at every boot:
    sudo systemctl enable --now ollama-proxy-client",
        ru: "Первый запуск: спрашивает токен, адрес Ollama и модель, затем обслуживает:
    ollama-proxy-client
Проверить настройки, Ollama, модель и хаб:
    ollama-proxy-client --check
Продаёт ли работающий клиент? Пауза на два часа, затем снова брать покупателей:
    ollama-proxy-client --status
    ollama-proxy-client --pause 2h
    ollama-proxy-client --resume
Что машина обслужила за последние 24 часа, в JSON:
    ollama-proxy-client --stats --since 24h --json
Служба из пакета, запущенная сейчас и при каждой загрузке:
    sudo systemctl enable --now ollama-proxy-client",
    }
    /// SEE ALSO, after the references to other pages.
    man_see_also(doc) {
        en: "The README, {doc}/README.md.gz, and the pages under {doc}/docs/: install.md (the service), configuration.md and config-reference.md (every key), operations.md, monitoring.md (the ledger and the metrics), security.md, troubleshooting.md, how-it-works.md. The same in Russian: README.ru.md.gz and docs/ru/.",
        ru: "README на русском, {doc}/README.ru.md.gz, и страницы в {doc}/docs/ru/: install.md (служба), configuration.md и config-reference.md (все ключи), operations.md, monitoring.md (журнал ответов и метрики), security.md, troubleshooting.md, how-it-works.md. По-английски: README.md.gz и docs/.",
    }
}

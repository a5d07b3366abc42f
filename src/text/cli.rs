//! The catalogue's texts for the command line: `--help`, usage errors, the
//! hub URL's and addresses' errors, `--show-config`; see `text` for how
//! entries work.
//!
//! The help is one page per language, written as the owner sees it: its
//! columns are lined up by hand (a unit test checks that they line up and
//! stay within 80 columns in both languages, and that both pages name
//! every flag the parser knows); flag names and placeholders (`PATH`,
//! `PORT`) stay as they are.

use super::catalogue;

catalogue! {
    /// The whole `--help` page. The defaults come from the settings' own
    /// defaults, the paths are the files in use.
    help_page(version, model, ollama_host, ollama_port, hub_url, hub_port, config, log) {
        en: r"ollama-proxy-client {version}
Sells this box's local Ollama on the marketplace hub: keeps one outbound
WebSocket to the hub, runs buyers' prompts on Ollama, streams answers back.

USAGE:
    ollama-proxy-client [OPTIONS]

OPTIONS (saved to the config file):
    --force-token TOKEN   Set the hub token. Prefer --force-token - (reads
                          it from standard input) or --token-file: a TOKEN
                          typed here is visible to every local user (ps)
                          for the whole run
    --token-file PATH     Set the hub token from the first line of PATH
    --force-model NAME    Set the Ollama model [default: {model}]
    --ollama-host HOST    Set Ollama's host [default: {ollama_host}]
    --ollama-port PORT    Set Ollama's port [default: {ollama_port}]
    --stream              Answer in pieces as Ollama produces them [default]
    --no-stream           Answer in one frame

OPTIONS (this run only):
    --server URL          Hub URL [default: {hub_url}];
                          ws:// only for loopback hosts
    --port PORT           Port of the default hub URL [default: {hub_port}]
    --ca-file PATH        Also trust this CA certificate (PEM) for the hub
                          and an https:// Ollama
    --config PATH         Use this config file (one per GPU, say)
    --debug               Show debug messages on the console

MODES:
    (none)                Serve buyers until stopped (SIGTERM, SIGHUP or
                          Ctrl+C: running answers get time to finish)
    --test                Type prompts; answers show here and go to the hub
                          with messageId -1
    --check               Check config, Ollama, model and hub; exit 0 or 1
    --stats               Show what was served and when the hub was
                          connected, from the ledger; changes nothing
    --since SPEC          With --stats: only since then (1h, 24h, 7d, or a
                          date such as 2026-11-30 or 2026-11-30T22:40:00Z)
    --json                With --stats or --status: one JSON object
                          instead of the table
    --status              Ask the running client how it is (hub, Ollama,
                          requests, today's figures); exit 0 serving,
                          1 running but not serving, 69 no client
    --pause [DURATION]    Stop taking buyers (running answers finish) and
                          leave the hub until --resume, or for DURATION
                          (90s, 30m, 2h, 1d); kept over a restart
    --resume              Take buyers again after --pause
    --show-config         Show every setting and where it came from
    --reset-config        Ask everything again, at a terminal only; the old
                          config file is kept as .bak until new settings
                          are saved (and put back if none are)
    -h, --help            Show this help
    -V, --version         Show the version

FILES:
    config   {config}
    log      {log}
             (rotated by size; every level, with timestamps)

ENVIRONMENT:
    OLLAMA_PROXY_TOKEN    The hub token (beats the config file)
    OLLAMA_HOST           Ollama's address, in any form Ollama accepts, used
                          when the config file sets none
    SSL_CERT_FILE         An extra CA certificate (PEM) to trust for the hub
                          and an https:// Ollama
    LC_ALL, LC_MESSAGES, LANG
                          The terminal's language (ru... = Russian, else
                          English), from the first one set, when the config
                          file's language key is auto (the default)

Precedence: command line, then environment, then config file, then default.

EXIT STATUS:
    0    normal end (also after SIGTERM/SIGHUP/Ctrl+C)
    1    --check found a problem; --status: running, not serving
    2    usage error
    69   --status, --pause, --resume: no client is running on this config
    71   a thread could not be started (the system is out of resources)
    75   another client is already running on this config
    78   configuration missing or invalid
",
        ru: r"ollama-proxy-client {version}
Продаёт локальную Ollama этой машины на хабе маркетплейса: держит одно
исходящее WebSocket-соединение с хабом, выполняет запросы покупателей
в Ollama и передаёт ответы обратно.

ИСПОЛЬЗОВАНИЕ:
    ollama-proxy-client [ПАРАМЕТРЫ]

ПАРАМЕТРЫ (сохраняются в файл настроек):
    --force-token TOKEN   Задать токен хаба. Лучше --force-token - (читает
                          его со стандартного ввода) или --token-file:
                          TOKEN, набранный здесь, виден всем локальным
                          пользователям (ps) всё время работы
    --token-file PATH     Задать токен хаба из первой строки файла PATH
    --force-model NAME    Задать модель Ollama [по умолчанию: {model}]
    --ollama-host HOST    Задать хост Ollama [по умолчанию: {ollama_host}]
    --ollama-port PORT    Задать порт Ollama [по умолчанию: {ollama_port}]
    --stream              Отвечать частями, как их выдаёт Ollama [по умолчанию]
    --no-stream           Отвечать одним кадром

ПАРАМЕТРЫ (только для этого запуска):
    --server URL          URL хаба; ws:// только для адресов loopback
                          [по умолчанию: {hub_url}]
    --port PORT           Порт стандартного URL хаба [по умолчанию: {hub_port}]
    --ca-file PATH        Доверять также этому сертификату CA (PEM) для
                          хаба и для Ollama по https://
    --config PATH         Использовать этот файл настроек (например, свой
                          для каждой GPU)
    --debug               Показывать отладочные сообщения в консоли

РЕЖИМЫ:
    (без режима)          Обслуживать покупателей до остановки (SIGTERM,
                          SIGHUP или Ctrl+C: начатые ответы успевают
                          завершиться)
    --test                Вводить запросы вручную; ответы выводятся здесь
                          и уходят на хаб с messageId -1
    --check               Проверить настройки, Ollama, модель и хаб;
                          код выхода 0 или 1
    --stats               Показать, что обслужено и когда была связь
                          с хабом, по журналу ответов; ничего не меняет
    --since SPEC          С --stats: только начиная с этого времени (1h,
                          24h, 7d или дата, например 2026-11-30 или
                          2026-11-30T22:40:00Z)
    --json                С --stats или --status: один объект JSON
                          вместо таблицы
    --status              Спросить работающий клиент, как дела (хаб, Ollama,
                          запросы, итоги за сегодня); код 0 — продаёт,
                          1 — работает, но не продаёт, 69 — клиента нет
    --pause [DURATION]    Перестать брать покупателей (начатые ответы
                          завершатся) и отключиться от хаба до --resume или
                          на DURATION (90s, 30m, 2h, 1d); переживает
                          перезапуск
    --resume              Снова брать покупателей после --pause
    --show-config         Показать все настройки и откуда они взялись
    --reset-config        Задать все вопросы заново (только в терминале);
                          старый файл настроек хранится как .bak, пока не
                          сохранены новые настройки (и возвращается, если
                          они так и не сохранены)
    -h, --help            Показать эту справку
    -V, --version         Показать версию

ФАЙЛЫ:
    настройки   {config}
    журнал      {log}
                (ротация по размеру; все уровни, с метками времени)

ПЕРЕМЕННЫЕ ОКРУЖЕНИЯ:
    OLLAMA_PROXY_TOKEN    Токен хаба (важнее файла настроек)
    OLLAMA_HOST           Адрес Ollama в любой форме, которую понимает Ollama;
                          используется, если в файле настроек адреса нет
    SSL_CERT_FILE         Дополнительный сертификат CA (PEM), которому
                          доверять для хаба и для Ollama по https://
    LC_ALL, LC_MESSAGES, LANG
                          Язык терминала (ru... = русский, иначе английский)
                          по первой заданной переменной, если ключ language
                          в файле настроек равен auto (по умолчанию)

Приоритет: командная строка, затем окружение, затем файл настроек,
затем значение по умолчанию.

КОДЫ ВЫХОДА:
    0    обычное завершение (также после SIGTERM/SIGHUP/Ctrl+C)
    1    --check нашёл проблему; --status: работает, но не продаёт
    2    ошибка в командной строке
    69   --status, --pause, --resume: клиент с этими настройками не запущен
    71   не удалось запустить поток (системе не хватает ресурсов)
    75   клиент с этими настройками уже запущен
    78   настройки отсутствуют или неверны
",
    }
    /// In place of the paths when there is no home directory to put them in.
    help_no_home_directory() {
        en: "(no home directory)",
        ru: "(нет домашнего каталога)",
    }

    // ------------------------------------------------------ usage errors

    /// After a usage error.
    usage_hint() {
        en: "Try 'ollama-proxy-client --help' for more information.",
        ru: "Справка: 'ollama-proxy-client --help'.",
    }
    usage_invalid_option(option) {
        en: "invalid option '{option}'",
        ru: "неизвестный параметр '{option}'",
    }
    usage_missing_value(option) {
        en: "missing argument for option '{option}'",
        ru: "не указано значение параметра '{option}'",
    }
    usage_missing_argument() {
        en: "missing argument",
        ru: "не хватает аргумента",
    }
    usage_unexpected_argument() {
        en: "unexpected argument: this program takes only options",
        ru: "лишний аргумент: программа принимает только параметры",
    }
    usage_takes_no_value(option) {
        en: "option '{option}' takes no value",
        ru: "параметр '{option}' не принимает значения",
    }
    usage_not_utf8() {
        en: "an argument is not valid UTF-8",
        ru: "аргумент не в кодировке UTF-8",
    }
    usage_unreadable() {
        en: "cannot read the command line",
        ru: "не удалось разобрать командную строку",
    }
    usage_together(first, second) {
        en: "{first} and {second} cannot be used together",
        ru: "{first} и {second} нельзя использовать вместе",
    }
    /// `flag` was followed by `next`, one of this program's flags.
    usage_value_is_a_flag(flag, next) {
        en: "{flag} needs a value; '{next}' looks like another option \
             (write {flag}=VALUE if you mean it)",
        ru: "{flag}: нужно значение; '{next}' похоже на другой параметр \
             (если это значение, напишите {flag}=VALUE)",
    }
    /// Like `usage_value_is_a_flag`, without repeating what followed.
    usage_value_looks_like_a_flag(flag) {
        en: "{flag} needs a value; the next argument looks like another option \
             (write {flag}=VALUE if you mean it)",
        ru: "{flag}: нужно значение; следующий аргумент похож на другой параметр \
             (если это значение, напишите {flag}=VALUE)",
    }
    usage_needs_utf8(flag) {
        en: "{flag} needs UTF-8 text",
        ru: "{flag}: значение должно быть текстом в UTF-8",
    }
    usage_needs_non_empty(flag) {
        en: "{flag} needs a non-empty value",
        ru: "{flag}: значение не может быть пустым",
    }
    usage_needs_port(flag) {
        en: "{flag} needs a port from 1 to 65535",
        ru: "{flag}: нужен порт от 1 до 65535",
    }
    usage_needs_file_name(flag) {
        en: "{flag} needs a file name",
        ru: "{flag}: нужно имя файла",
    }
    home_directory_not_found() {
        en: "cannot find the home directory; use --config PATH",
        ru: "не удалось найти домашний каталог; укажите --config PATH",
    }

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

    // Why an Ollama address is refused, in parentheses after what the key takes.
    ollama_url_characters() {
        en: "no spaces, quotes, control characters or characters beyond ASCII",
        ru: "без пробелов, кавычек, управляющих символов и символов вне ASCII",
    }
    ollama_url_query() {
        en: "no query ? or fragment #",
        ru: "без запроса ? и фрагмента #",
    }
    ollama_url_scheme() {
        en: "only http:// or https://",
        ru: "только http:// или https://",
    }
    ollama_url_user() {
        en: "a user and password before the @ with / @ ? # [ ] percent-encoded",
        ru: "пользователь и пароль перед @, где / @ ? # [ ] закодированы через %",
    }

    // ---------------------------------------------------- --show-config

    /// A label in `--show-config`, and where a setting came from.
    config_file() {
        en: "config file",
        ru: "файл настроек",
    }
    show_not_created_yet() {
        en: "(not created yet)",
        ru: "(ещё не создан)",
    }
    show_log_file() {
        en: "log file",
        ru: "журнал",
    }
    show_hub_url() {
        en: "hub URL",
        ru: "URL хаба",
    }
    show_ollama_url() {
        en: "Ollama URL",
        ru: "URL Ollama",
    }
    /// The label of the first of the backends `ollama_hosts` lists; the
    /// others follow on lines of their own under it.
    show_ollama_backends() {
        en: "Ollama backends",
        ru: "серверы Ollama",
    }
    /// One of those backends: its name, its base URL, its `max_parallel`.
    show_backend(name, url, max_parallel) {
        en: "{name} = {url} (max_parallel {max_parallel})",
        ru: "{name} = {url} (одновременно max_parallel {max_parallel})",
    }
    /// After the source of `ollama_host` and `ollama_port` when
    /// `ollama_hosts` replaces them.
    show_unused_with_hosts(source) {
        en: "{source}; not used: ollama_hosts is set",
        ru: "{source}; не используется: задан ollama_hosts",
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
    source_prompt() {
        en: "first-run answer",
        ru: "ответ при первом запуске",
    }
    source_default() {
        en: "default",
        ru: "по умолчанию",
    }
}
